"""Write the intersphinx inventories that the docs link through, for offline builds.

The build machines reach no documentation sites, so the inventories of
scikit-learn, numpy, pandas and torch are written here from the installed
packages, for the names the docs link to, at each project's URL layout.
Run it after adding a cross-reference to a new outside name::

    python docs/_intersphinx/make_inventories.py
"""

import importlib
import inspect
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

# project: (inventory file, package, URL of one object relative to the docs root, names)
PROJECTS = {
    "scikit-learn": ("sklearn.inv", "sklearn", "modules/generated/{name}.html#{name}", [
        "sklearn.base.BaseEstimator", "sklearn.base.clone",
        "sklearn.compose.ColumnTransformer", "sklearn.compose.make_column_transformer",
        "sklearn.impute.SimpleImputer", "sklearn.preprocessing.OneHotEncoder",
        "sklearn.preprocessing.StandardScaler",
        "sklearn.model_selection.GridSearchCV", "sklearn.model_selection.GroupKFold",
        "sklearn.model_selection.StratifiedKFold", "sklearn.model_selection.GroupShuffleSplit",
        "sklearn.model_selection.cross_validate", "sklearn.model_selection.train_test_split",
        "sklearn.neural_network.MLPClassifier", "sklearn.neural_network.MLPRegressor",
        "sklearn.pipeline.Pipeline", "sklearn.pipeline.make_pipeline",
        "sklearn.utils.Bunch", "sklearn.metrics.make_scorer",
    ]),
    "NumPy": ("numpy.inv", "numpy", "reference/generated/{name}.html#{name}", [
        "numpy.ndarray", "numpy.int64", "numpy.float64",
    ]),
    "pandas": ("pandas.inv", "pandas", "reference/api/{name}.html#{name}", [
        "pandas.DataFrame", "pandas.Series",
    ]),
    "PyTorch": ("torch.inv", "torch", "generated/{name}.html#{name}", [
        "torch.nn.Module", "torch.autograd.Function", "torch.Generator",
    ]),
}
# Objects documented on a shared page rather than one of their own, and the
# labels that docstrings inherited from scikit-learn (``score``) refer to.
SPECIAL = {"torch.Tensor": ("py:class", "tensors.html#torch.Tensor", "-")}
LABELS = {"sklearn": [
    ("accuracy_score", "modules/model_evaluation.html#accuracy-score", "Accuracy score"),
    ("r2_score", "modules/model_evaluation.html#r2-score", "R² score, the coefficient of determination"),
]}


def _role(obj):
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    return "function"


def _resolve(dotted):
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def write(project, filename, package, pattern, names):
    version = importlib.import_module(package).__version__
    lines = []
    for name in names:
        lines.append(f"{name} py:{_role(_resolve(name))} 1 {pattern.format(name=name)} -")
    for name, (role, uri, shown) in SPECIAL.items():
        if name.startswith(package + "."):
            lines.append(f"{name} {role} 1 {uri} {shown}")
    for label, uri, title in LABELS.get(package, []):
        lines.append(f"{label} std:label -1 {uri} {title}")
    header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: {version}\n"
              "# The remainder of this file is compressed using zlib.\n")
    body = zlib.compress(("\n".join(sorted(lines)) + "\n").encode())
    (HERE / filename).write_bytes(header.encode() + body)


if __name__ == "__main__":
    for project, spec in PROJECTS.items():
        write(project, *spec)
        print("wrote", spec[0])
