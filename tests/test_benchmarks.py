"""Smoke test of the benchmark suite: every row and column, tiny settings (no speed asserted)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench_output(tmp_path_factory, yt_qoe, ucc_5g, covertype):
    # The fixtures skip (or, in CI, fail) when the data home lacks the files.
    from skqat.datasets import get_data_home

    data_home = get_data_home()
    out = tmp_path_factory.mktemp("bench")
    cmd = [sys.executable, "-m", "benchmarks.run", "--output", str(out), "--data-home",
           str(data_home), "--tasks", "yt_qoe", "ucc_5g", "--seeds", "1", "--max-train", "500",
           "--max-test", "200", "--epochs", "3", "--hidden", "8", "--throughput-rows", "1000",
           "--cost-rows", "600", "--cost-hidden", "8", "--cost-epochs", "1", "--cost-rounds", "1",
           "--memory-rows", "1000"]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    return out


def test_every_row_and_column_is_produced_and_finite(bench_output):
    from benchmarks.methods import method_table
    from benchmarks.run import NOT_APPLICABLE

    runs = pd.read_csv(bench_output / "runs.csv")
    methods = list(method_table())
    assert len(methods) == 19
    assert sorted(runs.groupby(["task", "seed"]).size().tolist()) == [19] * 2
    common = ["fit_s", "epoch_s", "peak_rss_mb", "weight_bits", "activation_bits", "size_bytes",
              "compression", "mlp_rows_s", "torch_rows_s", "integer_rows_s", "integer_vs_mlp",
              "epoch_ratio", "file_bytes", "file_ratio"]
    quality = {"classification": ["accuracy", "macro_f1"], "regression": ["mse", "r2"]}
    for _, row in runs.iterrows():
        skip = NOT_APPLICABLE.get(row["method"], set())
        for col in common + quality[row["kind"]]:
            if col in skip:
                assert np.isnan(row[col]), (row["method"], col)
            else:
                assert np.isfinite(row[col]), (row["method"], col)
    quant = runs[~runs.method.isin(["sklearn_mlp", "skqat_float"])]
    assert (quant.weight_bits <= 8).all() and (quant.compression > 1).all()
    budget2 = runs[runs.method == "nmp_b2_a8"]
    assert (budget2.weight_bits <= 2 + 1e-9).all() and (budget2.activation_bits <= 8).all()


def test_summary_cost_memory_and_plots(bench_output):
    summary = pd.read_csv(bench_output / "summary.csv")
    assert len(summary) == 2 * 19
    assert np.isfinite(summary[["accuracy", "accuracy_std"]].dropna().to_numpy()).all()
    cost = pd.read_csv(bench_output / "training_cost.csv")
    assert np.isfinite(cost[["epoch_s", "epoch_ratio"]].to_numpy()).all()
    assert cost.set_index("method").loc["skqat_float", "epoch_ratio"] == 1.0
    meta = json.loads((bench_output / "meta.json").read_text())
    assert {"cpu_cores", "torch", "scikit-learn"} <= set(meta["machine"])
    assert meta["memory"]["peak_rss_mb"] > 0
    assert len(meta["targets"]) >= 10 and all("met" in t for t in meta["targets"])
    text = (bench_output / "summary.md").read_text()
    for heading in ("## Targets", "## yt_qoe", "## ucc_5g", "## Training cost", "## Memory"):
        assert heading in text
    for png in ("frontier.png", "bit_allocation.png"):
        assert (bench_output / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sparse_memory_benchmark_runs_on_tiny_settings(tmp_path):
    import pandas as pd

    from benchmarks import sparse_memory

    sparse_memory.main(["--rows", "300", "--features", "500", "--density", "0.02",
                        "--output", str(tmp_path)])
    table = pd.read_csv(tmp_path / "sparse_memory.csv")
    assert list(table["quantize"]) == [True, False]
    assert (table["nonzeros"] == 3000).all() and (table["peak_rss_mib"] > 0).all()
    assert table["train_accuracy_first_5000"].between(0, 1).all()


def test_step_cost_benchmark_writes_every_method_and_the_targets(tmp_path):
    from benchmarks import step_cost

    table = step_cost.main(["--shapes", "small", "--rounds", "1", "--epochs", "1",
                            "--output", str(tmp_path)])
    assert list(table.method) == list(step_cost.METHODS)
    assert np.isfinite(table[["step_ms", "vs_sklearn_mlp", "vs_skqat_float"]].to_numpy()).all()
    assert (table.set_index("method").loc["skqat_float", "vs_skqat_float"] == 1.0)
    assert (table.steps == 12).all()  # 2,400 rows in batches of 200, one epoch
    budget = table.set_index("method").loc["nmp_b2_a6"]
    assert budget.weight_bits <= 2.0 and budget.activation_bits <= 6.0
    text = (tmp_path / "step_cost.md").read_text()
    assert "| small: nmp_b2_a6 at most 2.5x scikit-learn's MLP |" in text


def test_whole_fit_times_compare_the_defaults_with_the_mlp():
    from benchmarks import step_cost

    fits = step_cost.fit_times(["california"], max_train=300, log=lambda *a: None)
    row = fits.iloc[0]
    assert row.n_train == 300 and row.skqat_default_epochs > 0 and row.sklearn_mlp_epochs > 0
    assert row.ratio == row.skqat_default_s / row.sklearn_mlp_s
    assert 0.0 < row.skqat_default_score <= 1.0 and 0.0 < row.sklearn_mlp_score <= 1.0
    assert "| california | 300 |" in step_cost.fits_markdown(fits)


def test_dask_incremental_benchmark_runs_on_tiny_settings(tmp_path):
    from benchmarks import dask_incremental

    from .conftest import require

    require("dask_ml")
    table = dask_incremental.main(["--chunks", "4", "--chunk-rows", "1500", "--test-rows", "500",
                                   "--output", str(tmp_path)])
    assert list(table["mode"]) == ["incremental", "incremental", "sample"]
    assert list(table["rows"]) == [6000, 1500, 1500]
    assert (table.samples_seen == [6000, 1500, 6000]).all()
    assert np.isfinite(table[["peak_rss_mib", "fit_s", "test_r2"]].to_numpy()).all()
    assert (table.mean_weight_bits <= 2.0).all() and (table.mean_activation_bits <= 6.0).all()
    assert "| Incremental, 4 chunks of 1,500 |" in (tmp_path / "dask_incremental.md").read_text()


def test_compression_benchmark_rows_and_gaps(tmp_path, yt_qoe):
    from benchmarks.compression import ROWS

    subprocess.run([sys.executable, "-m", "benchmarks.compression", "--output", str(tmp_path),
                    "--tasks", "yt_qoe", "--seeds", "1", "--max-train", "300"],
                   cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    runs = pd.read_csv(tmp_path / "compression_runs.csv")
    assert runs.row.tolist() == list(ROWS)
    assert np.isfinite(runs.score).all()
    quantized = runs[runs.row != "float"]
    assert (quantized.mean_weight_bits <= 8).all()
    row = runs.set_index("row")
    # What the benchmark shows (measured on these settings: 2.56 bits against 4.31, 1,675 B
    # against 2,470; pruning 51 and 52 neurons for 1,141 B against 1,675 and 1,030 against
    # 1,232): the price compresses, and 0-bit candidates prune and shrink the model.
    assert row.loc["defaults", "mean_weight_bits"] < row.loc["no_price", "mean_weight_bits"]
    assert row.loc["defaults", "model_bytes"] < row.loc["no_price", "model_bytes"]
    for pruned, kept in [("defaults_prune", "defaults"), ("b1.5_a6_prune", "b1.5_a6")]:
        assert row.loc[pruned, "pruned_neurons"] > 0
        assert row.loc[pruned, "model_bytes"] < row.loc[kept, "model_bytes"]
    budget = runs[runs.row.str.startswith("b1.5_a6")]
    assert (budget.mean_weight_bits <= 1.5 + 1e-9).all() and (budget.mean_activation_bits <= 6).all()
    # Only the rows with a 0-bit candidate can prune.
    assert (runs[~runs.row.str.contains("prune")].pruned_neurons == 0).all()
    assert row.loc["uniform_w1", "neurons_at_1_bit"] == 1
    assert row.loc["uniform_w2", "neurons_at_1_bit"] == row.loc["float", "neurons_at_1_bit"] == 0
    table = (tmp_path / "compression.md").read_text()
    assert "+0.00 pt" in table and all(f"| {row} " in table for row in ROWS)


def test_paper_regime_benchmark_runs_every_method(tmp_path, covertype):
    from benchmarks.paper_regime import METHODS

    subprocess.run([sys.executable, "-m", "benchmarks.paper_regime", "--output", str(tmp_path),
                    "--hidden", "8,8", "--epochs", "1", "--max-train", "500"],
                   cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    table = pd.read_csv(tmp_path / "paper_regime.csv")
    assert table.method.tolist() == list(METHODS)
    assert ((table.accuracy > 0) & (table.accuracy <= 1)).all()
    assert table.set_index("method").loc["nmp_b1.5_a8", "mean_weight_bits"] <= 1.5


def test_budget_path_benchmark_tables(tmp_path, yt_qoe):
    from benchmarks.budget_path import BUDGETS

    subprocess.run([sys.executable, "-m", "benchmarks.budget_path", "--output", str(tmp_path),
                    "--tasks", "yt_qoe", "--seeds", "1", "--max-train", "300",
                    "--max-test", "200"],
                   cwd=ROOT, check=True, capture_output=True, text=True, timeout=600)
    quality = pd.read_csv(tmp_path / "budget_path_quality.csv")
    assert len(quality) == len(BUDGETS)
    assert (quality.path_bits <= quality.budget.map(
        lambda b: np.inf if b == "none" else float(b)) + 1e-9).all()
    cost = pd.read_csv(tmp_path / "budget_path_cost.csv")
    assert {"path_over_fit", "cv_over_grid", "grid_test_score", "cv_test_score"} <= set(cost)
    # Times are measured, not asserted (shared machines); the choices are budgets of the path.
    assert (cost[["path_over_fit", "cv_over_grid"]] > 0).all().all()
    budgets = {"none" if b is None else str(b) for b in BUDGETS}
    assert set(cost.grid_choice.astype(str)) <= budgets and set(cost.cv_choice.astype(str)) <= budgets
    assert "## Path against independent fits" in (tmp_path / "budget_path.md").read_text()


def _readme():
    return " ".join((ROOT / "README.md").read_text().split())


def test_the_headline_table_is_rendered_from_the_committed_summary():
    from benchmarks.report import headline_table

    table = headline_table(pd.read_csv(ROOT / "benchmarks/results/summary.csv"))
    assert table in (ROOT / "docs/benchmarks.md").read_text()


def test_the_benchmarks_page_figures_are_those_of_the_committed_results():
    import re

    results = ROOT / "benchmarks/results"
    summary_md = (results / "summary.md").read_text()
    summary = pd.read_csv(results / "summary.csv")
    readme = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    target = {m[1]: m[2] for m in re.finditer(r"^\| (.+?) \| (.+?) \| (?:yes|\*\*no\*\*) \|$",
                                              summary_md, re.M)}
    assert f"predicts {target['inference: integer graph at least as fast as MLP predict']} as " \
           "fast as" in readme
    assert f"peaks at {target['memory: fit on 150,000 x 54 Covertype under 2 GB']} (a fresh" in readme
    gap = re.search(r"\+([\d.]+) points below", target["covertype: NMP-QAT b=2 within 0.5 points "
                                                       "of float"])[1]
    assert f"Covertype ({gap} points below float" in readme
    nmp = [float(target[f"training cost: {m} epoch <= 1.3x float"][:-1])
           for m in ("nmp_b2_a8", "nmp_bnone_anone")]
    uniform = float(target["training cost: uniform_w2 epoch <= 1.15x float"][:-1])
    assert (f"costs {min(nmp):.1f} to {max(nmp):.1f}x a float epoch on one CPU thread (uniform "
            f"QAT {uniform:.1f}x)") in readme
    # The defaults (no budget): their bits and their largest gap to float.
    free = summary[summary.method == "nmp_bnone_anone"].set_index("task")
    flt = summary[summary.method == "skqat_float"].set_index("task")
    points = max((flt.accuracy - free.accuracy).dropna()) * 100
    r2 = max(((flt.r2 - free.r2) / flt.r2.abs()).dropna()) * 100
    assert (f"land at {free.weight_bits.min():.1f} to {free.weight_bits.max():.1f} mean weight "
            f"bits here, {points:.1f} points or {r2:.1f}% of R2 from float at most") in readme
    paper = pd.read_csv(results / "paper_regime.csv").set_index("method").accuracy
    assert (f"NMP-QAT scores {paper['nmp_b1.5_a8']:.3f} at 1.5 bits and {paper['nmp_b2_a8']:.3f} "
            f"at 2 bits against float's {paper['float']:.3f} and uniform 2-bit's "
            f"{paper['uniform_w2_a8']:.3f}; there layer-level precision at a budget of 2 scores "
            f"{paper['layer_b2_a8']:.3f}, level with it") in readme
    assert round(paper["layer_b2_a8"], 3) == round(paper["nmp_b2_a8"], 3)
    cost = pd.read_csv(results / "budget_path_cost.csv").cv_over_grid
    assert f"for {cost.min():.2f}x to {cost.max():.2f}x the time of `GridSearchCV`" in readme
    elapsed = int(re.search(r"elapsed (\d+) s", summary_md)[1])
    assert f"about {round(elapsed / 60, -1):.0f} minutes on 2 cores ({elapsed} s logged)" in readme


def test_the_pages_compression_figures_are_those_of_the_committed_run():
    from benchmarks.compression import summarize

    table = summarize(pd.read_csv(ROOT / "benchmarks/results/compression_runs.csv"))
    guide = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    budgets = " ".join((ROOT / "docs/budgets.md").read_text().split())

    def col(row, name):
        return table[table.row == row].set_index("task")[name]

    def span(values, fmt):
        return f"{fmt(values.min())} to {fmt(values.max())}"

    one = lambda v: f"{v:.1f}"  # noqa: E731
    pct = lambda v: f"{100 * v:.0f}%"  # noqa: E731
    bits, no_price = col("defaults", "mean_weight_bits"), col("no_price", "mean_weight_bits")
    smaller = col("no_price", "model_bytes") / col("defaults", "model_bytes")
    assert (f"{span(bits, one)} mean weight bits and "
            f"{span(col('defaults', 'mean_activation_bits'), one)} activation bits (against "
            f"{span(no_price, one)} and {span(col('no_price', 'mean_activation_bits'), one)} "
            f"without a price), {span(col('defaults', 'neurons_at_1_bit'), pct)} of the neurons "
            f"at 1 bit, and models {span(smaller, lambda v: f'{v:.1f}x')} smaller than without a "
            "price") in guide
    assert (f"the defaults end at {span(bits, one)} mean weight bits and "
            f"{span(col('defaults', 'mean_activation_bits'), one)} activation bits") in budgets
    assert f"({span(no_price, one)} mean weight bits on the same datasets)" in budgets
    gap = col("defaults", "gap_to_float")
    assert (f"California housing settles at {bits['california']:.2f} bits, "
            f"{gap['california'].split()[0].lstrip('-')} of R2 below float") in guide
    assert (f"Covertype, where a (100,) network needs its precision, at "
            f"{bits['covertype']:.1f} bits, {abs(float(gap['covertype'].split()[0])):.1f} "
            "points below") in guide
    kept, pruned = col("b1.5_a6", "score"), col("b1.5_a6_prune", "score")
    assert (f"(Covertype {kept['covertype']:.3f} to {pruned['covertype']:.3f}, the 5G R2 "
            f"{kept['ucc_5g']:.3f} to {pruned['ucc_5g']:.3f}, California housing "
            f"{kept['california']:.3f} to {pruned['california']:.3f}; QoE") in guide
    # "gains on the two regression tasks and costs about 0.1 points on the two classification"
    gain = pruned - kept
    assert (gain[["ucc_5g", "california"]] > 0).all()
    assert gain[["covertype", "yt_qoe"]].between(-0.0015, 0).all()
    assert ("gains on the two regression tasks and costs about 0.1 points on the two "
            "classification tasks") in guide
    n_pruned = col("b1.5_a6_prune", "pruned_neurons")
    shrink = 1 - col("b1.5_a6_prune", "model_bytes") / col("b1.5_a6", "model_bytes")
    assert (f"with {n_pruned.min():.0f} to {n_pruned.max():.0f} of the 100 hidden neurons "
            f"pruned and models {span(shrink, pct)} smaller") in guide
    shrink = 1 - col("defaults_prune", "model_bytes") / col("defaults", "model_bytes")
    points = 100 * (col("defaults_prune", "score") - col("defaults", "score"))
    assert (f"pruning shrinks the model by {span(shrink, pct)} for {points.min():+.1f} to "
            f"{points.max():+.1f} points") in guide
    paper = pd.read_csv(ROOT / "benchmarks/results/paper_regime.csv").set_index("method")
    assert (f"the defaults score {paper.loc['nmp_defaults', 'accuracy']:.3f} against the float "
            f"network's {paper.loc['float', 'accuracy']:.3f}, at "
            f"{paper.loc['nmp_defaults', 'mean_weight_bits']:.1f} mean weight bits and "
            f"{paper.loc['nmp_defaults', 'mean_activation_bits']:.1f} mean activation bits"
            ) in guide
    at = paper.accuracy
    assert (f"layer-level precision ({at['layer_b2_a8']:.3f}) is level with NMP-QAT "
            f"({at['nmp_b2_a8']:.3f}) in this one-seed run, and NMP-QAT at 1.5 bits scores "
            f"{at['nmp_b1.5_a8']:.3f}, above float") in guide
    assert round(at["layer_b2_a8"], 3) == round(at["nmp_b2_a8"], 3)
    assert at["nmp_b1.5_a8"] > at["float"]


def _bytes_runs():
    """A runs table of two seeds: every family the frontier takes, with known answers."""
    rows = []
    for seed, noise in enumerate((0.0, 0.01)):
        for family, config, size, score, budget in [
            ("nmp_size", "size_512", 500, 0.80, 512), ("nmp_size", "size_1024", 1000, 0.85, 1024),
            ("nmp_cv", "cv_size_512", 500, 0.82, 512),
            ("uniform", "w4_x4", 480, 0.70, np.nan), ("uniform", "w8_x8", 900, 0.85, np.nan),
            ("uniform", "w8_x16", 1500 + 600 * seed, 0.90, np.nan),
            ("float", "float_x100", 9000, 0.88, np.nan), ("mlp", "mlp_x100", 9000, 0.89, np.nan),
        ]:
            rows.append(dict(task="t", kind="classification", seed=seed, family=family,
                             config=config, budget=budget, score=score + noise,
                             size_bytes=size))
    return pd.DataFrame(rows)


def test_bytes_frontier_takes_each_familys_best_that_fits_on_every_seed():
    from benchmarks.bytes_frontier import frontier, targets

    front = frontier(_bytes_runs(), sizes=(512, 1024, 2048)).set_index(["size", "family"])
    assert front.loc[(512, "uniform"), "config"] == "w4_x4"
    assert front.loc[(1024, "uniform"), "config"] == "w8_x8"
    # w8_x16 takes 2,100 B on one seed: it fits 2 KB on no seed but the first.
    assert front.loc[(2048, "uniform"), "config"] == "w8_x8"
    assert (2048, "nmp_size") not in front.index  # only a budget's own fit counts
    assert front.loc[(512, "nmp_cv"), "config"] == "cv_size_512"
    assert (1024, "nmp_cv") not in front.index
    assert front.loc[(1024, "nmp_size"), "spread"] == pytest.approx(np.std([0.85, 0.86], ddof=1))
    goals = targets(frontier(_bytes_runs(), sizes=(512, 1024, 2048)), _bytes_runs())
    at = goals.set_index(["size", "target"])
    row = at.loc[(512, "above best uniform by > spread")]
    assert row.margin == pytest.approx(0.10) and row.above and row.not_below
    within = at.loc[(1024, "above best uniform by > spread")]  # 0.005 apart, spread 0.007
    assert not within.above and within.not_below


def test_bytes_benchmark_fits_one_of_each_kind(yt_qoe):
    from benchmarks.bytes_frontier import CV_ALPHAS, _fit_one, configs

    by_name = {name: (family, params) for family, name, params in configs()}
    assert {f for f, _ in by_name.values()} == {"nmp_size", "nmp_cv", "nmp_defaults", "nmp_bits",
                                               "uniform", "layer", "float", "mlp", "tree",
                                               "forest", "lightgbm"}
    for name in ("size_512", "cv_size_512", "w2_x4", "mlp_x100", "leaves_8"):
        family, params = by_name[name]
        if params is not None and family not in ("tree", "forest", "lightgbm"):
            params = {**params, "max_iter": 3}
        row = _fit_one(("yt_qoe", 0, family, name, params, 400, 200))
        assert np.isfinite(row["score"]) and row["size_bytes"] > 0
        if name.endswith("size_512"):
            assert row["size_bytes"] <= 512 and row["budget"] == 512
        if name == "cv_size_512":  # the penalty the folds chose
            assert row["alpha"] in CV_ALPHAS


def test_bytes_readme_table_marks_the_better_family():
    from benchmarks.bytes_frontier import frontier, readme_table

    table = readme_table(frontier(_bytes_runs(), sizes=(512, 1024)), sizes=(512, 1024))
    assert table.splitlines()[0] == "| task | 512 B | 1,024 B |"
    # Equal means: neither in bold.
    assert table.splitlines()[2] == "| t (accuracy) | **0.8050** / 0.7050 | 0.8550 / 0.8550 |"


def test_readme_bytes_table_is_the_committed_frontier():
    from benchmarks.bytes_frontier import readme_table

    from benchmarks.bytes_frontier import frontier, targets

    front = pd.read_csv(ROOT / "benchmarks/results/bytes_frontier.csv")
    readme = _readme()
    assert " ".join(readme_table(front).split()) in readme
    runs_all = pd.read_csv(ROOT / "benchmarks/results/bytes_runs.csv")
    goals = targets(frontier(runs_all), runs_all)
    small = goals[goals["size"] <= 2048]
    cells = front.pivot_table(index=["task", "size"], columns="family", values="score")
    ahead = int((cells.nmp_size > cells.uniform).sum())
    assert f"NMP-QAT is ahead in {ahead} of the {len(cells)} cells" in readme
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    assert f"NMP-QAT is ahead in {ahead} of the {len(cells)} cells" in page
    behind = cells.uniform - cells.nmp_size
    assert set(behind.index[behind > 0]) == {("covertype", 512), ("covertype", 1024),
                                             ("yt_qoe", 1024), ("ucc_5g", 4096)}
    assert behind["yt_qoe", 512] == 0  # "level at 512 B"
    assert (f"ahead on Covertype at 512 B and 1 KB, by {behind['covertype', 512]:.4f} and "
            f"{behind['covertype', 1024]:.4f}, and on QoE at 1 KB, by "
            f"{behind['yt_qoe', 1024]:.4f} (level at 512 B)") in page
    assert f"ahead by more than the spread of the difference in {int(small.paired_above.sum())} " \
        f"of the {len(small)} cells" in page
    assert f"ahead by more than the seed spread in {int(small.above.sum())} of the " \
        f"{len(small)} cells" in page
    runs = pd.read_csv(ROOT / "benchmarks/results/bytes_runs.csv")
    # The benchmark's promise: every fit at a size budget is within it.
    sized = runs[runs.family == "nmp_size"]
    assert len(sized) == 4 * 4 * 3 and (sized.size_bytes <= sized.budget).all()


def test_narrower_multipliers_claims_are_those_of_the_committed_run():
    # _fixed_point.GUARD_BITS and the user guide: 4 guard bits score as 12 did, a byte
    # less per neuron (the same fitted models, exported both ways).
    runs = pd.read_csv(ROOT / "benchmarks/results/lean_fields.csv")
    wide = runs[runs.guard_bits == 12].set_index(["task", "config"])
    shipped = runs[runs.guard_bits == 4].set_index(["task", "config"])
    assert len(wide) == len(shipped) == 16
    assert (abs(shipped.score - wide.score) <= 0.001).all()
    assert ((wide.field_bits - shipped.field_bits) >= 7).all()
    assert (shipped.bytes < wide.bytes).all()


def test_width_rule_report_pairs_each_rule_with_floor100_by_seed():
    from benchmarks.width_rule import report

    rows = [dict(task="t", size=512, seed=seed, rule=rule, width=w, alive=a,
                 score=base + gain)
            for seed, base in [(0, 0.5), (1, 0.7)]
            for rule, w, a, gain in [("floor100", 100, 20, 0.0), ("bits2", 10, 10, 0.03),
                                     ("bits4", 8, 8, 0.01 * (seed + 1))]]
    means, widths, alive, paired = report(pd.DataFrame(rows))
    assert means.loc[0, ["floor100", "bits2", "bits4"]].tolist() == pytest.approx(
        [0.6, 0.63, 0.615])
    assert widths.loc[0, "bits2"] == 10 and alive.loc[0, "floor100"] == 20
    # The seeds' own levels (0.5 and 0.7) cancel in the paired difference.
    bits2, bits4 = paired.set_index("rule").loc[["bits2", "bits4"]].itertuples()
    assert bits2.pairs == 2 and bits2.mean_difference == pytest.approx(0.03)
    assert bits2.standard_error == pytest.approx(0.0, abs=1e-12)
    assert bits4.mean_difference == pytest.approx(0.015)
    assert bits4.standard_error == pytest.approx(0.005)


def test_flash_benchmark_measures_every_family_on_a_cortex_m0(tmp_path, yt_qoe):
    from skqat.datasets import get_data_home

    from .conftest import require_tool

    require_tool("arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-size")
    cmd = [sys.executable, "-m", "benchmarks.flash_frontier", "--output", str(tmp_path),
           "--tasks", "yt_qoe", "--seeds", "1", "--max-train", "400", "--max-test", "200",
           "--quick"]
    env = {**__import__("os").environ, "SKQAT_DATA_HOME": str(get_data_home())}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = pd.read_csv(tmp_path / "flash_runs.csv")
    assert set(runs.family) == {"nmp_flash", "uniform4", "uniform8", "tree", "forest",
                                "emlearn_mlp", "lightgbm"}
    assert np.isfinite(runs[["score", "linked", "objects", "ram", "ops"]]).all().all()
    assert (runs.objects <= runs.linked).all()
    skqat = runs[runs.family.isin(["nmp_flash", "uniform4", "uniform8"])]
    assert (skqat.helpers == 0).all()  # the integer entry pulls no float or 64-bit helper
    assert (abs(skqat.report_flash - skqat.linked) <= 0.05 * skqat.linked).all()
    nmp = runs[runs.family == "nmp_flash"]
    assert (nmp.linked <= nmp.budget).all()
    # emlearn's float MLP links soft float: its helpers are counted in the linked flash.
    assert (runs[runs.family == "emlearn_mlp"].helpers > 0).all()
    report = (tmp_path / "flash.md").read_text()
    for heading in ("## Linked flash", "## Objects flash", "paired by seed", "## The bars"):
        assert heading in report
    assert (tmp_path / "flash_frontier.png").stat().st_size > 0


def test_the_device_page_figures_are_those_of_the_committed_flash_runs():
    runs = pd.read_csv(ROOT / "benchmarks/results/flash_runs.csv")
    page = " ".join((ROOT / "docs/device.md").read_text().split())
    floats = (runs.linked - runs.objects)[runs.helpers > 0]
    assert f"1 to {int(np.ceil(floats.max() / 1024))} KB of them" in page
    assert floats.min() >= 512  # "1 KB" rounds the smallest
    lgbm = runs[runs.family == "lightgbm"]
    per_node = lgbm.objects / lgbm.ops
    assert (f"{int(per_node.min())} to {int(np.ceil(per_node.max()))} bytes a node in the runs "
            f"below, median {int(round(per_node.median()))}") in page
    # Every NMP-QAT fit within its flash budget when linked, and the report never below it.
    nmp = runs[runs.family == "nmp_flash"]
    assert (nmp.linked <= nmp.budget).all()
    skqat = runs.dropna(subset=["report_flash"])
    assert (skqat.report_flash >= skqat.linked).all()


def test_the_device_pages_reading_is_what_the_committed_frontier_says():
    results = ROOT / "benchmarks/results"
    runs = pd.read_csv(results / "flash_runs.csv")
    pairs = pd.read_csv(results / "flash_paired.csv")
    linked = pd.read_csv(results / "flash_frontier_linked.csv")
    objects = pd.read_csv(results / "flash_frontier_objects.csv")
    score = linked.pivot_table(index=["task", "size"], columns="family", values="score")
    # California: NMP-QAT at or above every family at every size; Covertype too but at
    # 2 KB, where the best 8-bit network is ahead within the paired spread.
    assert pairs[pairs.task == "california"].at_or_above.all()
    cover = pairs[pairs.task == "covertype"]
    behind = cover[~cover.at_or_above.astype(bool)]
    assert set(behind["size"]) == {2048} and set(behind.family) == {"uniform8"}
    assert behind.not_below.all() and (behind["diff"] > -0.01).all()
    # QoE: every network and the best tree within a point of each other.
    qoe = score.loc["yt_qoe", ["nmp_flash", "uniform4", "uniform8", "tree"]]
    assert (qoe.max(axis=1) - qoe.min(axis=1) < 0.01).all()
    # 5G: NMP-QAT leads at 1 KB; a tree from 2 KB; a forest ahead of every network at 4
    # and 8 KB; its larger budgets below its 1 KB one.
    g5 = score.loc["ucc_5g"]
    assert pairs[(pairs.task == "ucc_5g") & (pairs["size"] == 1024)].at_or_above.all()
    assert g5.loc[2048, "tree"] > g5.loc[2048, "nmp_flash"]
    networks = ["nmp_flash", "uniform4", "uniform8", "emlearn_mlp"]
    assert all(g5.loc[s, "forest"] > g5.loc[s, networks].max() for s in (4096, 8192))
    assert (g5.loc[[2048, 4096, 8192], "nmp_flash"] < g5.loc[1024, "nmp_flash"]).all()
    # Float families fit only 8 KB linked; in objects they trail NMP-QAT everywhere.
    assert set(linked[linked.family.isin(["emlearn_mlp", "lightgbm"])]["size"]) == {8192}
    obj = objects.pivot_table(index=["task", "size"], columns="family", values="score")
    for family in ("emlearn_mlp", "lightgbm"):
        there = obj[family].notna()
        assert (obj.loc[there, family] < obj.loc[there, "nmp_flash"]).all()
    small_tree = runs[(runs.task == "ucc_5g") & (runs.config == "leaves_32")]
    assert 550 <= small_tree.objects.mean() <= 650
    assert abs(small_tree.score.mean() - obj.loc["ucc_5g", networks[:3]].max().max()) < 0.002
    # Uniform networks: NMP-QAT ahead at every size on California, from 4 KB on Covertype.
    for task, sizes in (("california", [1024, 2048, 4096, 8192]), ("covertype", [4096, 8192])):
        at = score.loc[task].loc[sizes]
        assert (at.nmp_flash > at[["uniform4", "uniform8"]].max(axis=1)).all()


def test_predict_speed_times_both_models_on_the_same_rows():
    from sklearn.datasets import make_classification

    from benchmarks.predict_speed import N_ROWS, markdown, measure
    from benchmarks.tasks import Split

    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    row = measure(Split("t", "classification", X[:200], y[:200], X[200:], y[200:]),
                  repeats=2, max_iter=5)
    assert row["identical"] and row["n_rows"] == N_ROWS and row["n_features"] == 6
    assert row["graph_ms"] > 0 and row["mlp_ms"] > 0 and row["pipeline_ms"] > 0
    text = markdown(pd.DataFrame([row]))
    assert "| t | 6 | (100,) |" in text and "(worst row)" in text


def test_the_width_rule_figures_are_those_of_the_committed_run():
    from benchmarks.width_rule import report

    means, widths, alive, paired = report(pd.read_csv(ROOT / "benchmarks/results/width_rule.csv"))
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    bits2 = paired.set_index("rule").loc["bits2"]
    assert (f"the default is ahead of `floor100` by {bits2.mean_difference:.4f} on average "
            f"(standard error {bits2.standard_error:.4f}, {bits2.pairs:.0f} pairs)") in page
    at = lambda table: table.set_index(["task", "size"]).loc[("covertype", 512)]  # noqa: E731
    assert (f"a (100,) start kept {at(alive).floor100:.0f} of its neurons and scored "
            f"{at(means).floor100:.4f}, against {at(means).bits2:.4f} from "
            f"({at(widths).bits2:.0f},)") in page


def test_the_prediction_time_figures_are_those_of_the_committed_run():
    runs = pd.read_csv(ROOT / "benchmarks/results/predict_speed.csv")
    assert runs.identical.all() and len(runs) == 5
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    a, b = runs.graph_vs_mlp, runs.graph_vs_pipeline
    assert (f"The integer graph takes {a.min():.2f} to {a.max():.2f} times the time of the MLP "
            f"alone (on rows scaled beforehand), and {b.min():.2f} to {b.max():.2f} times") in page


def test_tree_bytes_count_each_split_and_leaf_by_the_formula():
    from sklearn.datasets import make_classification, make_regression

    from benchmarks.tasks import Split
    from benchmarks.tree_bytes import fit, formula_bytes

    assert formula_bytes(3, 4, 1) == 3 * 5 + 4 * 1
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    split = Split("t", "classification", X[:200], y[:200], X[200:], y[200:])
    tree = fit("tree", split, 0, dict(max_leaf_nodes=8))
    assert tree["leaves"] == 8 and tree["size_bytes"] == 7 * 5 + 8 * 1  # class leaves: 1 B
    forest = fit("forest", split, 0, dict(n_estimators=3, max_leaf_nodes=4))
    assert forest["leaves"] == 12 and forest["size_bytes"] == 3 * (3 * 5 + 4)
    X, y = make_regression(n_samples=300, n_features=5, random_state=0)
    split = Split("r", "regression", X[:200], y[:200], X[200:], y[200:])
    tree = fit("tree", split, 0, dict(max_leaf_nodes=8))
    assert tree["size_bytes"] == 7 * 5 + 8 * 2 and 0 < tree["score"] <= 1  # value leaves: 2 B
    pytest.importorskip("lightgbm")
    boosted = fit("lightgbm", split, 0, dict(n_estimators=5, num_leaves=4))
    assert boosted["size_bytes"] == 5 * (3 * 5 + 4 * 2) and boosted["leaves"] == 20


def test_tree_targets_pair_by_seed_and_find_a_budget_that_stops_paying():
    from benchmarks.bytes_frontier import frontier
    from benchmarks.tree_bytes import tree_targets

    rows = []
    for seed in range(2):
        for family, config, size, score, budget in [
                ("nmp_size", "size_512", 500, 0.80 + seed / 100, 512),
                ("nmp_size", "size_1024", 1000, 0.78, 1024),
                ("tree", "leaves_8", 300, 0.79 + seed / 100, np.nan),
                ("lightgbm", "lgbm_5x4", 900, 0.70, np.nan)]:
            rows.append(dict(task="t", kind="classification", seed=seed, family=family,
                             config=config, budget=budget, score=score, size_bytes=size))
    runs = pd.DataFrame(rows)
    goals = pd.DataFrame(tree_targets(frontier(runs, sizes=(512, 1024)), runs, (512, 1024)))
    at_512 = goals[(goals["size"] == 512)].iloc[0]
    assert at_512.other_config == "leaves_8" and at_512.met == "yes"
    assert at_512.paired_difference == pytest.approx(0.01) and at_512.paired_std == 0
    monotone = goals[goals.target.str.startswith("a larger")].iloc[0]
    assert monotone.met == "no" and monotone.paired_difference == pytest.approx(-0.025)


def test_the_pages_reading_against_trees_is_what_the_committed_runs_say():
    from benchmarks.bytes_frontier import SIZES, frontier
    from benchmarks.tree_bytes import tree_targets

    runs = pd.read_csv(ROOT / "benchmarks/results/bytes_runs.csv")
    goals = pd.DataFrame(tree_targets(frontier(runs), runs, SIZES))
    vs_trees = goals[~goals.target.str.startswith("a larger")]
    ahead = {(r.task, r.size) for r in vs_trees.itertuples() if r.paired_difference >= 0}
    assert ahead == ({("covertype", s) for s in SIZES}
                     | {(t, s) for t in ("yt_qoe", "california") for s in (512, 1024)})
    behind = vs_trees[vs_trees.paired_difference < 0]
    assert behind.other_config.str.startswith("lgbm").all()  # a small LightGBM, every time
    assert (vs_trees[vs_trees.task == "ucc_5g"].paired_difference < 0).all()
    at_4k = vs_trees[vs_trees["size"] == 4096].set_index("task").paired_difference
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    qoe = -vs_trees[vs_trees.task == "yt_qoe"].set_index("size").paired_difference
    assert f"ahead on QoE from 2 KB (by {qoe[2048]:.4f} and {qoe[4096]:.4f})" in page
    assert f"by up to {-at_4k['california']:.4f} of R2 at 4 KB" in page
    drops = goals[goals.target.str.startswith("a larger")].set_index("task")
    assert set(drops.index[drops.met == "no"]) == {"ucc_5g"}
    for task in ("covertype", "yt_qoe", "california"):  # "every larger budget scores at least"
        rising = runs[(runs.task == task) & (runs.family == "nmp_size")].groupby(
            "budget").score.mean()
        assert (np.diff(rising.to_numpy()) >= 0).all(), task
    assert "On the other three tasks every larger budget scores at least as high" in page
    means = runs[(runs.task == "ucc_5g") & (runs.family == "nmp_size")].groupby(
        "budget").score.mean()
    assert means.idxmax() == 1024  # the largest drop is the one from 1 KB to 4 KB
    assert f"{-drops.loc['ucc_5g', 'paired_difference']:.4f} of R2 below 1 KB" in page
    five_g = runs[(runs.task == "ucc_5g") & (runs.family == "nmp_size")].groupby(
        "budget").score.mean()
    assert five_g[4096] < five_g.drop(4096).min()  # "below the smaller ones"


def test_the_pages_reading_of_the_chosen_penalty_is_what_the_committed_runs_say():
    from benchmarks.bytes_frontier import CV_ALPHAS, SIZES, frontier
    from benchmarks.report import paired_difference
    from benchmarks.tree_bytes import tree_targets

    runs = pd.read_csv(ROOT / "benchmarks/results/bytes_runs.csv")
    cv = runs[runs.family == "nmp_cv"]
    assert len(cv) == 4 * 4 * 3 and (cv.size_bytes <= cv.budget).all()
    assert set(cv.alpha) <= set(CV_ALPHAS)
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    five_g = cv[cv.task == "ucc_5g"]
    assert (five_g.alpha == 1.0).all()  # "alpha=1 at every size on every seed"
    gains = [paired_difference(runs, "ucc_5g", f"cv_size_{s}", f"size_{s}")[0] for s in SIZES]
    assert min(gains) > 0
    assert "scores rise by {:.4f}, {:.4f}, {:.4f} and {:.4f} of R2".format(*gains) in page
    means = five_g.groupby("budget").score.mean()
    assert "to {:.4f}, {:.4f}, {:.4f} and {:.4f} from 512 B".format(*means) in page
    # "every larger budget scores higher up to 2 KB, and 4 KB stays within ... of it"
    assert (np.diff(means.loc[:2048].to_numpy()) > 0).all() and means[4096] < means[2048]
    assert f"4 KB stays within {means[2048] - means[4096]:.4f} of it" in page
    goals = pd.DataFrame(tree_targets(frontier(runs), runs, SIZES, "nmp_cv"))
    behind = -goals[(goals.task == "ucc_5g") & ~goals.target.str.startswith("a larger")
                    ].paired_difference
    assert (behind > 0).all() and f"by {behind.min():.4f} to {behind.max():.4f}" in page
    moves = {(t, s): paired_difference(runs, t, f"cv_size_{s}", f"size_{s}")
             for t in ("covertype", "yt_qoe", "california") for s in SIZES}
    largest = max(abs(mean) for mean, _, _ in moves.values())
    assert f"by at most {largest:.4f} either way" in page
    cover = [moves["covertype", s] for s in SIZES]
    low, high = min(m for m, _, _ in cover), max(m for m, _, _ in cover)
    spreads = [std for _, std, _ in cover if std > 0]  # 0: the folds kept alpha=1e-4
    assert (f"(Covertype: {low:.4f} to +{high:.4f} by size, against a spread of the paired "
            f"difference of {min(spreads):.4f} to {max(spreads):.4f})") in page
    # The README's "0.01 to 0.08 of R2 above the default penalty ... (4 KB within 0.002)".
    assert round(min(gains), 2) == 0.01 and round(max(gains), 2) == 0.08
    assert round(means[2048] - means[4096], 3) == 0.002
    assert ("lifts every budget by 0.01 to 0.08 of R2 above the default penalty, and every "
            "larger budget then scores higher up to 2 KB (4 KB within 0.002)"
            ) in " ".join(_readme().split())


def test_the_benchmarks_page_readings_of_the_2_bit_table_and_the_schedule():
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    summary = pd.read_csv(ROOT / "benchmarks/results/summary.csv")
    score = summary.accuracy.fillna(summary.r2)
    at = summary.assign(score=score).set_index(["task", "method"]).score
    tasks = summary.task.unique()
    # "above uniform 2-bit and above layer-level precision on all four tasks"; "level with
    # float's accuracy on QoE (0.01 points above)".
    assert all(at[t, "nmp_b2_a8"] > at[t, "uniform_w2"] for t in tasks)
    assert all(at[t, "nmp_b2_a8"] > at[t, "layer_b2_a8"] for t in tasks)
    assert "above uniform 2-bit and above layer-level precision on all four tasks" in page
    above = at["yt_qoe", "nmp_b2_a8"] - at["yt_qoe", "skqat_float"]
    assert 0 <= above < 0.001
    assert f"level with float's accuracy on QoE ({above * 100:.2f} points above)" in page
    speed = ROOT / "benchmarks/results/training_speed"
    pairs = pd.read_csv(speed / "paired_quality.csv")

    def paired(comparison, epochs):
        rows = pairs[(pairs.comparison == comparison) & (pairs.epochs == epochs)]
        assert len(rows) == 96  # six quantized methods, four tasks, four seeds
        diff = rows.score_variant - rows.score_base
        bits = (rows.weight_bits_variant - rows.weight_bits_base).mean()
        se = diff.std() / np.sqrt(len(diff))
        return f"{diff.mean():+.4f} (standard error {se:.4f})", f"{bits:+.3f}", bits

    (score15, bits15, b15), (score40, bits40, b40) = [
        paired("rebuilt_against_every_batch", e) for e in (15, 40)]
    assert abs(b15) < 0.05 and abs(b40) < 0.05  # the bits of a step on every batch
    assert (f"the test score differs by {score15} at 15 epochs (375 batches) and by {score40} "
            f"at 40 (1,000 batches), and the mean weight bits by {bits15} and {bits40}") in page
    (noise15, _, _), (noise40, _, _) = [paired("noise_rebuilt", e) for e in (15, 40)]
    assert (f"the rebuilt step scores {noise15} at 15 epochs and {noise40} at 40") in page
    paper = pd.read_csv(speed / "paper_strength_noise.csv").set_index(
        ["schedule", "method", "seed"])
    new, old = paper.loc["rebuilt"], paper.loc["adam_second_moment"]
    b = "nmp_b1.5_a8"
    assert (f"NMP-QAT at a bit budget of 1.5 scores {new.accuracy[b, 0]:.4f} and "
            f"{new.accuracy[b, 1]:.4f} (seeds 0 and 1) against {old.accuracy[b, 0]:.4f} and "
            f"{old.accuracy[b, 1]:.4f} with Adam's own") in page
    assert (new.accuracy[b] > old.accuracy[b]).all()
    d, layer = "nmp_defaults", "layer_b2_a8"
    assert (f"the defaults score {new.accuracy[d, 0]:.4f} at {new.mean_weight_bits[d, 0]:.2f} "
            f"weight and {new.mean_activation_bits[d, 0]:.2f} activation bits against "
            f"{old.accuracy[d, 0]:.4f} at {old.mean_weight_bits[d, 0]:.2f} and "
            f"{old.mean_activation_bits[d, 0]:.2f}, and layer-level precision at 2 bits "
            f"{new.accuracy[layer, 0]:.4f} against {old.accuracy[layer, 0]:.4f}") in page
    # The rebuilt rows are the paper regime's own results.
    regime = pd.read_csv(ROOT / "benchmarks/results/paper_regime.csv").set_index("method")
    for method in (layer, b, "nmp_b2_a8", d):
        assert regime.accuracy[method] == new.accuracy[method, 0]
    runs = pd.read_csv(ROOT / "benchmarks/results/bytes_runs.csv")
    before = pd.read_csv(speed / "bytes_previous_step.csv")
    both = before.merge(runs, on=["task", "seed", "family", "config"], suffixes=("_x", ""))
    assert len(both) == len(before) == 156  # every fit of the families that learn bits
    assert set(both.family) == {"nmp_size", "nmp_cv", "nmp_bits", "layer", "nmp_defaults"}
    assert set(runs.family) - set(both.family) == {"uniform", "float", "mlp", "tree",
                                                   "forest", "lightgbm"}  # learn no bits

    def reading(diff):
        return f"{diff.mean():+.4f} (standard error {diff.std() / np.sqrt(len(diff)):.4f})"

    diff = both.score - both.score_x
    sized = both.family == "nmp_size"
    by_task = diff[sized].groupby(both.task[sized]).mean()
    assert (f"the networks that learn bits score {reading(diff)} over 156 fits; the "
            f"size-budgeted ones {reading(diff[sized])} over their 48: California "
            f"{by_task['california']:+.4f}, QoE {by_task['yt_qoe']:+.4f}, Covertype "
            f"{by_task['covertype']:+.4f} and the 5G traces {by_task['ucc_5g']:+.4f}") in page
    short = pd.read_csv(speed / "short_fits.csv")
    mean = short.groupby(["schedule", "epochs"])[["score_bit_budget_1.5",
                                                 "score_bit_budget_2"]].mean().mean(axis=1)
    shipped = "one in four, noise rebuilt (shipped)"
    every = "a strength step on every batch (a3d129f)"
    assert (f"score is {mean[shipped, 25]:.3f} against {mean[every, 25]:.3f} with a strength "
            f"step on every batch at 25 epochs (125 batches) and {mean[shipped, 60]:.3f} "
            f"against {mean[every, 60]:.3f} at 60") in page


def test_fpga_benchmark_runs_every_test_row_in_verilator(tmp_path, california):
    from skqat.datasets import get_data_home

    from .conftest import require

    require("da4ml"), require("verilator")
    cmd = [sys.executable, "-m", "benchmarks.fpga", "--output", str(tmp_path), "--tasks",
           "california", "--budgets", "512", "--max-iter", "5"]
    env = {**__import__("os").environ, "SKQAT_DATA_HOME": str(get_data_home())}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    row = pd.read_csv(tmp_path / "fpga.csv").iloc[0]
    assert row.test_rows == 2000 and row.model_bytes <= 512
    assert row.comb_mismatched_rows == row.piped_mismatched_rows == 0
    assert row.emulated_mismatched_rows == 0
    assert row.luts > row.adders > 0 and row.latency_cycles > 0 and row.register_bits > 0
    assert "**0** of 6,000" in (tmp_path / "fpga.md").read_text()


def test_models_meet_the_best_of_the_other_family_within_their_luts():
    from benchmarks.fpga_hgq2 import at_equal_luts

    ours = pd.DataFrame({"task": ["a", "a"], "luts": [1000, 3000], "score": [0.7, 0.8]})
    theirs = pd.DataFrame({"task": ["a", "a", "b"], "luts": [500, 2500, 10],
                           "score": [0.6, 0.75, 0.9]})
    paired = at_equal_luts(ours, theirs).set_index(["family", "luts"])
    assert paired.loc[("skqat", 1000), "other_best_within"] == 0.6
    assert paired.loc[("skqat", 3000), "ahead"] == pytest.approx(0.05)
    assert np.isnan(paired.loc[("hgq2", 500), "other_best_within"])  # no skqat model fits
    assert paired.loc[("hgq2", 2500), "ahead"] == pytest.approx(0.05)
    assert ("hgq2", 10) not in paired.index  # only the tasks both families ran


def test_the_fpga_figures_are_those_of_the_committed_runs():
    from benchmarks.fpga import page_table
    from benchmarks.fpga_hgq2 import page_notes
    from benchmarks.fpga_hgq2 import page_table as hgq2_table

    page = (ROOT / "docs/benchmarks.md").read_text()
    fpga = pd.read_csv(ROOT / "benchmarks/results/fpga.csv")
    assert page_table(fpga) in page
    assert (fpga[["comb_mismatched_rows", "piped_mismatched_rows",
                  "emulated_mismatched_rows"]] == 0).all().all()
    paired = pd.read_csv(ROOT / "benchmarks/results/fpga_hgq2_paired.csv")
    assert hgq2_table(paired) in page
    hgq2 = pd.read_csv(ROOT / "benchmarks/results/fpga_hgq2.csv")
    flat = " ".join(page.split())
    assert " ".join(page_notes(fpga, hgq2).split()) in flat
    assert fpga[fpga.size_budget == 256].luts.min() > 2000  # "below about 2,000 LUTs"
    level = hgq2[(hgq2.task == "yt_qoe") & (hgq2.luts == 10616)].score.iloc[0]
    default = fpga[(fpga.task == "yt_qoe") & (fpga.size_budget == 0)].iloc[0]
    assert level == default.score == 0.9255 and default.luts > 10616
    ahead = paired[paired.family == "hgq2"].set_index(["task", "luts"])
    assert ahead.loc[("yt_qoe", 3512)].ahead == pytest.approx(0.001)
    assert ahead.loc[("covertype", 4784)].other_best_within == 0.6645
    assert ahead.loc[("covertype", 24755)].other_best_within == 0.729
    # The FPGA page's build times: 5 to 8 s at 256 B, up to about 3 minutes at 2 KB.
    builds = fpga[["comb_build_s", "piped_build_s"]]
    small = builds[fpga.size_budget == 256].to_numpy()
    assert 4.5 <= small.min() and small.max() < 8.5
    assert 150 < builds[fpga.size_budget == 2048].to_numpy().max() < 210
    assert "5 to 8 seconds for the 256 B models" in " ".join(
        (ROOT / "docs/fpga.md").read_text().split())
    cover = fpga[fpga.task == "covertype"].set_index("size_budget")
    assert (cover.loc[256].luts, cover.loc[512].luts) == (2122, 5395)
    assert (cover.loc[1024].score, cover.loc[2048].score) == (0.729, 0.7275)
    assert "HGQ2's 10,616-LUT model matches skqat's default (0.9255)" in flat


def test_path_monotone_benchmark_runs_on_tiny_settings(tmp_path):
    from benchmarks import path_monotone

    table = path_monotone.main(["--seeds", "2", "--jobs", "1", "--output", str(tmp_path)])
    assert len(table) == 2 * len(path_monotone.BUDGETS)
    for _, rows in table.groupby("seed"):
        assert rows.bit_budget.tolist() == list(path_monotone.BUDGETS)
        assert (rows.max_rise == np.diff(rows.train_r2).max()).all()
        assert (rows.weight_bits <= rows.bit_budget + 1e-9).all()
    assert "Budget paths over 2 seeds" in (tmp_path / "path_monotone.md").read_text()


def test_the_path_monotone_figures_are_those_of_the_committed_runs():
    from benchmarks.path_monotone import ALLOWED_RISE, markdown

    results = ROOT / "benchmarks/results"
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    after = pd.read_csv(results / "path_monotone.csv")
    before = pd.read_csv(results / "frozen_best/path_monotone_before.csv")
    assert (results / "path_monotone.md").read_text() == markdown(after)
    rises = [t.groupby("seed").max_rise.first() for t in (before, after)]
    assert all(len(r) == 70 for r in rises)
    over = [int((r > ALLOWED_RISE).sum()) for r in rises]
    assert over[1] < over[0]  # keeping the best epoch of the fine-tuning: fewer rises
    assert (f"When it kept its last, {over[0]} seeds of the 70 rose by more than "
            f"{ALLOWED_RISE}, up to {rises[0].max():.3f}") in page
    old = pd.read_csv(results / "frozen_best/bytes_nmp_size_before.csv")
    bytes_after = pd.read_csv(results / "frozen_best/bytes_nmp_size_after.csv")
    both = old[old.family == "nmp_size"].merge(bytes_after, on=["task", "seed", "config"],
                                               suffixes=("_before", "_after"))
    assert len(both) == 48 and (both.size_bytes_after <= both.budget_after).all()
    defaults = pd.read_csv(results / "frozen_best/defaults_paired.csv")
    readings = []
    for diff in (both.score_after - both.score_before,
                 defaults.score_after - defaults.score_before):
        readings.append(f"{diff.mean():+.4f} (standard error "
                        f"{diff.std() / np.sqrt(len(diff)):.4f}) over")
    assert (f"score {readings[0]} their 48 fits, and the defaults and `bit_budget=1.5` "
            f"{readings[1]} 24 fits") in page


def test_input_clip_pairs_each_clip_with_the_base_on_the_same_fit(tmp_path):
    from benchmarks.input_clip import paired, write

    rows = [dict(set=s, task=t, setting="x", seed=seed, clip=clip,
                 score=level + (gain if clip == 3.0 else 0.0), weight_bits=2.0,
                 activation_bits=4.0 + (clip == 3.0),
                 size_bytes=np.nan if s == "paper" else 1000 + seed)
            for s, t, gain in [("bytes", "a", 0.02), ("bytes", "b", -0.01), ("main", "a", 0.0),
                               ("paper", "a", 0.0)]
            for seed, level in [(0, 0.5), (1, 0.9)] for clip in (6.0, 3.0)]
    table = paired(pd.DataFrame(rows), base_clip=6.0).set_index(["set", "task"])
    # The seeds' own levels cancel: each pair differs by its gain alone.
    assert table.loc[("bytes", "a"), "difference"] == pytest.approx(0.02)
    assert table.loc[("bytes", "b"), "positive"] == 0
    assert table.loc[("bytes", "all"), "pairs"] == 4
    assert table.loc[("bytes", "all"), "difference"] == pytest.approx(0.005)
    assert table.loc[("bytes", "all"), "standard_error"] == pytest.approx(
        np.std([0.02, 0.02, -0.01, -0.01], ddof=1) / 2)
    assert table.loc[("main", "all"), "activation_bits"] == pytest.approx(1.0)
    assert set(table["clip"]) == {3.0}
    write(pd.DataFrame(rows), tmp_path, 6.0)
    summary = (tmp_path / "input_clip/summary.md").read_text()
    assert "| bytes | all | 3 | 4 | +0.0050 | 0.0087 | 2 | +0.000 | +1.000 |" in summary
    written = pd.read_csv(tmp_path / "input_clip/pairs.csv")
    assert len(written) == len(rows)
    # Whole bytes stay whole beside a set that has none.
    text = (tmp_path / "input_clip/pairs.csv").read_text()
    assert ",1001\n" in text and "1001.0" not in text
    assert written.loc[written["set"] == "paper", "size_bytes"].isna().all()


def test_the_input_clip_figures_are_those_of_the_committed_pairs():
    from benchmarks.input_clip import paired

    pairs = pd.read_csv(ROOT / "benchmarks/results/input_clip/pairs.csv")
    table = paired(pairs, base_clip=6.0).set_index(["set", "task"])
    assert set(table["clip"]) == {3.0}
    page = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    bytes_, main, stream, paper = (table.loc[(s, "all")]
                                   for s in ("bytes", "main", "stream", "paper"))
    assert (bytes_.pairs, main.pairs, stream.pairs, paper.pairs) == (96, 96, 12, 6)
    # The fit's default (3) is ahead on both benchmarks, and a stream's (6) on the streams.
    assert bytes_.difference > 0 and main.difference > 0 and stream.difference < 0
    reading = (f"3 scores {bytes_.difference:+.4f} (standard error {bytes_.standard_error:.4f}) "
               f"against 6 over the {int(bytes_.pairs)} size-budgeted fits and "
               f"{main.difference:+.4f} (standard error {main.standard_error:.4f}) over the "
               f"{int(main.pairs)} fits of the main benchmark, with mean weight bits "
               f"{bytes_.weight_bits:+.3f} and {main.weight_bits:+.3f}; along the streams it "
               f"scores {stream.difference:+.4f} (standard error {stream.standard_error:.4f})")
    assert reading in page
    # The paper's regime: ahead on all methods but the two the page names.
    rows = pairs[pairs["set"] == "paper"].pivot(index="setting", columns="clip", values="score")
    diff = rows[3.0] - rows[6.0]
    assert set(diff[diff < 0].index) == {"nmp_b2_a8", "layer_b2_a8"}
    assert (f"the six quantized methods score {paper.difference:+.4f} (standard error "
            f"{paper.standard_error:.4f}) at 3, ahead on {int(paper.positive)} of 6; behind "
            f"are NMP-QAT at `bit_budget=2` ({diff['nmp_b2_a8']:+.4f}) and layer-level "
            f"precision ({diff['layer_b2_a8']:+.4f})") in page
