"""The stream benchmarks: pruning along a stream (its paired report, the benchmarks
page's figures) and streams that shift (their targets)."""

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


def test_the_benchmarks_page_stream_figures_are_those_of_the_committed_run():
    runs = pd.read_csv(ROOT / "benchmarks/results/prune_stream.csv")
    _, paired = prune_stream.summarize(runs)
    last = paired[paired["pass"] == runs["pass"].max()].set_index("setting")
    guide = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    assert (f"the pruning defaults lead after every pass, after the third by "
            f"{last.r2_difference['defaults']:.3f} of R2 (standard error "
            f"{last.standard_error['defaults']:.3f}), and at the budget the two "
            f"end level ({last.r2_difference['budget']:.3f}, standard error "
            f"{last.standard_error['budget']:.3f})") in guide
    defaults = paired[paired.setting == "defaults"]
    assert (defaults.r2_difference > 0).all()
    assert abs(last.r2_difference["budget"]) < 2 * last.standard_error["budget"]


def test_the_committed_stream_benchmark_meets_its_targets():
    # The targets table of stream_shift.md is recomputed from its CSV, and every one is met.
    stream_shift = pytest.importorskip("benchmarks.stream_shift")
    runs = pd.read_csv(ROOT / "benchmarks/results/stream_shift.csv")
    assert set(runs.stream) == set(stream_shift.STREAMS) and runs.seed.nunique() == 3
    assert set(runs.model) == {"skqat_raw", "skqat_float", "mlp",
                               *(f"skqat_raw_{name}" for name in stream_shift.HALFLIVES)}
    targets = stream_shift.check_targets(runs)
    report = (ROOT / "benchmarks/results/stream_shift.md").read_text()
    for row in targets.itertuples():
        assert f"| {row.target} | {row.measured} | yes |" in report
    assert targets.met.all()
