"""The size-path benchmark: its pairing with the independent fits, and the docs' figures."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

size_path = pytest.importorskip("benchmarks.size_path")
ROOT = Path(__file__).resolve().parents[1]


def _independent(scores):
    rows = [dict(task="t", seed=seed, family="nmp_size", config=f"size_{size}", budget=size,
                 score=score, size_bytes=size - 2, fit_seconds=10.0)
            for (seed, size), score in scores.items()]
    # Other families of the runs table are not fits of a size budget.
    rows.append(dict(task="t", seed=0, family="uniform", config="w4_x8", budget=np.nan,
                     score=0.99, size_bytes=500, fit_seconds=1.0))
    return pd.DataFrame(rows)


def test_each_path_point_is_paired_with_the_fit_of_its_seed_and_size():
    fits = {(seed, size): 0.5 + 0.1 * seed + size / 10_000 for seed in range(3)
            for size in (512, 1024)}
    paths = pd.DataFrame([dict(task="t", seed=seed, size=size, path_score=fit - 0.01 * seed,
                               path_bytes=size - 1, width=40, living=20, path_seconds=15.0)
                          for (seed, size), fit in fits.items()])
    rows = size_path.compare(paths, _independent(fits))
    assert len(rows) == 6 and not rows.fit_score.isna().any()
    # Each seed's level cancels: the path trails its own fit by 0.01 * seed.
    np.testing.assert_allclose(rows.sort_values(["seed", "size"]).difference,
                               [0, 0, -0.01, -0.01, -0.02, -0.02], atol=1e-12)
    table, cost = size_path.summarize(rows)
    assert table.difference.tolist() == pytest.approx([-0.01, -0.01])
    assert table.difference_std.tolist() == pytest.approx([0.01, 0.01])
    # One 15 s path against two 10 s fits per seed.
    assert cost.path_over_fits.tolist() == pytest.approx([0.75])


def test_benchmarks_page_figures_are_those_of_the_committed_run():
    rows = pd.read_csv(ROOT / "benchmarks/results/size_path.csv")
    assert len(rows) == 48 and not rows.fit_score.isna().any()
    assert (rows.path_bytes <= rows["size"]).all()  # every point within its budget
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    diff = rows.difference
    assert (f"mean difference {diff.mean():+.4f} (standard error "
            f"{diff.std() / np.sqrt(len(diff)):.4f})") in page
    small = rows[rows["size"] == rows["size"].min()].difference
    assert f"at 512 B, {small.mean():+.4f}" in page


def test_the_per_task_path_figures_are_those_of_the_committed_run():
    rows = pd.read_csv(ROOT / "benchmarks/results/size_path.csv")
    guide = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    by = rows.groupby(["task", "size"]).difference.mean()
    at = rows.groupby("size").difference.mean()
    assert (f"at 512 B, {at[512]:+.4f} on average, down to {by['covertype', 512]:+.4f} on "
            f"Covertype and {by['ucc_5g', 512]:+.4f} on the 5G traces; at 2 KB, "
            f"{at[2048]:+.4f})") in guide
    # The largest budget is the path's own fit: the same model as the independent one.
    assert (rows[rows["size"] == 4096].difference == 0).all()


def test_the_bit_path_figures_are_those_of_the_committed_run():
    quality = pd.read_csv(ROOT / "benchmarks/results/budget_path_quality.csv")
    capped = quality[quality.budget != "none"]
    diff = capped.path_score - capped.independent_score
    guide = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    assert (f"trail fits of their own by {-diff.mean():.4f} on average (standard error "
            f"{diff.std() / np.sqrt(len(diff)):.4f}, {len(diff)} pairs)") in guide
