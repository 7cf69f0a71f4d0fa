"""The stream-pruning benchmark: its paired report, and the user guide's figures from its run."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

prune_stream = pytest.importorskip("benchmarks.prune_stream")
ROOT = Path(__file__).resolve().parents[1]


def test_the_report_pairs_pruning_with_no_pruning_by_seed():
    rows = [{"setting": "budget", "candidates": c, "seed": seed, "pass": n, "r2": r2,
             "pruned_neurons": 3 * (c == "pruning"), "mean_weight_bits": 2.0, "model_bytes": 90}
            for seed, level in enumerate((0.1, 0.3, 0.5)) for n in (1, 2)
            for c, r2 in [("no_pruning", level), ("pruning", level + 0.01 * (seed + n))]]
    table, paired = prune_stream.summarize(pd.DataFrame(rows))
    first = table[(table["pass"] == 1) & (table.candidates == "no_pruning")].iloc[0]
    assert first.r2 == pytest.approx(0.3) and (first.r2_min, first.r2_max) == (0.1, 0.5)
    assert first.seeds == 3
    # Each seed's own level cancels: the differences are 0.01 * (seed + pass).
    by_pass = paired.set_index("pass")
    assert by_pass.r2_difference.to_numpy() == pytest.approx([0.02, 0.03])
    assert by_pass.standard_error.to_numpy() == pytest.approx([0.01 / np.sqrt(3)] * 2)


def test_user_guide_stream_figures_are_those_of_the_committed_run():
    runs = pd.read_csv(ROOT / "benchmarks/results/prune_stream.csv")
    _, paired = prune_stream.summarize(runs)
    last = paired[paired["pass"] == runs["pass"].max()].set_index("setting")
    guide = " ".join((ROOT / "docs/user_guide.md").read_text().split())
    assert (f"by {-last.r2_difference['defaults']:.3f} of R2 for the defaults (standard error "
            f"{last.standard_error['defaults']:.3f}) and {-last.r2_difference['budget']:.3f} at "
            f"the stream test's budget ({last.standard_error['budget']:.3f})") in guide
    end = runs[(runs["pass"] == runs["pass"].max()) & (runs.setting == "budget")]
    worst = end[end.candidates == "pruning"].sort_values("r2").iloc[0]
    same_seed = end[(end.candidates == "no_pruning") & (end.seed == worst.seed)].r2.iloc[0]
    assert f"one seed there ending at {worst.r2:.3f} against {same_seed:.3f}" in guide
    # The defaults with pruning lead after the first and second passes.
    early = paired[(paired["pass"] < runs["pass"].max()) & (paired.setting == "defaults")]
    assert len(early) == 2 and (early.r2_difference > 0).all()
