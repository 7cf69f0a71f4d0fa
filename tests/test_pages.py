"""The pages say what the package does: their tables checked against the code, their
snippets run."""

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skqat import NMPQATClassifier, NMPQATRegressor

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _table_row(page, first_cell):
    """The cells of the Markdown table row of ``docs/<page>`` that starts with ``first_cell``."""
    for line in (ROOT / "docs" / page).read_text().splitlines():
        if line.startswith(f"| {first_cell} |"):
            return [cell.strip() for cell in line.strip("|").split(" | ")]
    raise AssertionError(f"no row {first_cell!r} in {page}")


def _names(cell):
    return re.findall(r"`([a-z_0-9]+)`", cell)


def test_the_comparison_snippet_runs():
    text = (ROOT / "docs/comparison.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(block, namespace)
    X, y = make_classification(n_samples=200, random_state=0)
    namespace["nmp"].set_params(max_iter=5).fit(X, y)
    assert namespace["nmp"].mean_weight_bits_ <= 2


@pytest.mark.parametrize("ours,theirs", [(NMPQATClassifier, MLPClassifier),
                                         (NMPQATRegressor, MLPRegressor)])
def test_the_comparison_table_says_what_is_the_same_as_mlp(ours, theirs):
    _, same, different = _table_row("comparison.md", "parameters")
    mine, mlp = ours().get_params(), theirs().get_params()
    assert _names(same)
    for name in _names(same):
        assert mine[name] == mlp[name], name
    assert mine["hidden_layer_sizes"] == "auto" and mlp["hidden_layer_sizes"] == (100,)
    missing = [n for n in _names(different) if n in mlp and n not in mine]
    assert {"beta_1", "beta_2", "epsilon"} <= set(missing)
    assert sorted(missing) == sorted(n for n in mlp if n not in mine)
    for name in missing:
        with pytest.raises(TypeError):
            ours(**{name: mlp[name]})
    _, same_attrs, _ = _table_row("comparison.md", "fitted attributes")
    X, y = (make_regression if ours is NMPQATRegressor else make_classification)(
        n_samples=120, random_state=0)
    import pandas as pd
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    fitted_mine = ours(hidden_layer_sizes=(4,), max_iter=3).fit(frame, y)
    fitted_mlp = theirs(hidden_layer_sizes=(4,), max_iter=3).fit(frame, y)
    for name in _names(same_attrs):
        if name == "classes_" and ours is NMPQATRegressor:
            continue
        assert hasattr(fitted_mlp, name) and hasattr(fitted_mine, name), name
    assert fitted_mine.out_activation_ == fitted_mlp.out_activation_
    np.testing.assert_allclose(fitted_mine.loss_, fitted_mine.loss_curve_[-1])


def test_the_prediction_speed_is_that_of_the_committed_run():
    import pandas as pd
    runs = pd.read_csv(ROOT / "benchmarks/results/onnx_serving.csv")
    ratio = runs.integer_mlp_ms / runs.sklearn_mlp_ms
    readme = " ".join((ROOT / "docs/benchmarks.md").read_text().split())
    assert (f"the folded integer pipeline predicts in {ratio.min():.2f} to {ratio.max():.2f} "
            "times the time of scikit-learn's (100,) MLP pipeline") in readme



def test_the_benchmarks_page_names_every_bench_target_and_its_results():
    makefile = (ROOT / "Makefile").read_text()
    targets = re.findall(r"^(bench[\w-]*):", makefile, re.M)
    page = (ROOT / "docs/benchmarks.md").read_text()
    rows = dict(re.findall(r"^\| `make (bench[\w-]*)` \| .+? \| (.+?) \|$", page, re.M))
    assert sorted(rows) == sorted(targets)
    for target, results in rows.items():
        if target in ("bench-quick", "bench-gpu"):  # not committed
            continue
        for name in re.findall(r"`([\w.]+\.(?:md|csv))`", results):
            assert (ROOT / "benchmarks/results" / name).exists(), (target, name)


def test_the_readme_gives_the_set_up_commands_and_links_no_issue():
    readme = (ROOT / "README.md").read_text()
    for command in ("make demo", "make test", "make docs", "pip install"):
        assert command in readme, command
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text()
        assert not re.search(r"\bissue \d+|METHOD\.md|version 3\b", text), page.name
