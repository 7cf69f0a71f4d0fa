"""The four benchmark tasks: data, preprocessing and the split each dataset's README asks for.

Every task returns float64 arrays ready for the estimators (preprocessing
fitted on the training rows only) and the ``kind`` of the task.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GroupShuffleSplit, train_test_split
from sklearn.preprocessing import OneHotEncoder

from skqat.datasets import (fetch_california_housing_raw, fetch_covertype_sample,
                            fetch_ucc_5g, fetch_yt_qoe)
from skqat.preprocessing import make_tabular_preprocessor

TASKS = ("covertype", "yt_qoe", "ucc_5g", "california")


@dataclass
class Split:
    """Training and test rows of one task for one seed."""

    name: str
    kind: str  # "classification" or "regression"
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_outputs(self):
        """The network's outputs: 1 for regression or two classes, else one per class."""
        if self.kind != "classification":
            return 1
        n_classes = len(np.unique(self.y_train))
        return 1 if n_classes <= 2 else n_classes


def _subsample(n, limit, rng):
    return np.sort(rng.choice(n, limit, replace=False)) if limit and n > limit else np.arange(n)


@dataclass
class RawSplit:
    """Raw training and test rows (DataFrames) of one task, and its unfitted preprocessing."""

    name: str
    kind: str
    X_train: object
    y_train: np.ndarray
    X_test: object
    y_test: np.ndarray
    preprocessor: object


def _finish(name, kind, X_tr, y_tr, X_te, y_te, seed, max_train, max_test, prep=None):
    rng = np.random.default_rng(seed)
    tr, te = _subsample(len(X_tr), max_train, rng), _subsample(len(X_te), max_test, rng)
    return RawSplit(name, kind, X_tr.iloc[tr], np.asarray(y_tr)[tr], X_te.iloc[te],
                    np.asarray(y_te)[te], prep or make_tabular_preprocessor())


def _covertype_encoder():
    return make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         ["Wilderness_Area", "Soil_Type"]), remainder="passthrough")


def covertype_rows(n_rows, data_home=None):
    """The first ``n_rows`` of all three Covertype files, one-hot encoded (54 features)."""
    d = fetch_covertype_sample(data_home)
    X = _covertype_encoder().fit_transform(d.data.iloc[:n_rows])
    return np.asarray(X, dtype=np.float64), np.asarray(d.target)[:n_rows]


def load_split(name, seed, max_train=None, max_test=None, data_home=None):
    """Task ``name`` split for ``seed``: :func:`load_raw_split`, preprocessed (float64 arrays)."""
    raw = load_raw_split(name, seed, max_train, max_test, data_home)
    prep = raw.preprocessor
    return Split(name, raw.kind, np.asarray(prep.fit_transform(raw.X_train), dtype=np.float64),
                 raw.y_train, np.asarray(prep.transform(raw.X_test), dtype=np.float64),
                 raw.y_test)


def load_raw_split(name, seed, max_train=None, max_test=None, data_home=None):
    """Load task ``name`` and split it for ``seed``: raw rows and the preprocessing to fit.

    * ``covertype``: train on the ``validate`` file, test on the disjoint
      ``serving`` file; both soil and wilderness one-hot encoded (54 features).
    * ``yt_qoe``: stall prediction without the leaking columns, stratified 75/25.
    * ``ucc_5g``: next-second log throughput with three lags, 75/25 **by trace**.
    * ``california``: median house value (dollars), random 75/25.

    ``max_train`` and ``max_test`` subsample the rows after the split.
    """
    if name == "covertype":
        train = fetch_covertype_sample(data_home, subsets=("validate",))
        test = fetch_covertype_sample(data_home, subsets=("serving",))
        return _finish(name, "classification", train.data, train.target, test.data, test.target,
                       seed, max_train, max_test, _covertype_encoder())
    if name == "yt_qoe":
        d = fetch_yt_qoe(data_home)
        X_tr, X_te, y_tr, y_te = train_test_split(d.data, d.target, test_size=0.25,
                                                  random_state=seed, stratify=d.target)
        return _finish(name, "classification", X_tr, y_tr, X_te, y_te, seed, max_train, max_test)
    if name == "ucc_5g":
        d = fetch_ucc_5g(data_home)
        tr, te = next(GroupShuffleSplit(test_size=0.25, random_state=seed)
                      .split(d.data, groups=d.groups))
        return _finish(name, "regression", d.data.iloc[tr], d.target.iloc[tr],
                       d.data.iloc[te], d.target.iloc[te], seed, max_train, max_test)
    if name == "california":
        d = fetch_california_housing_raw(data_home)
        X_tr, X_te, y_tr, y_te = train_test_split(d.data, d.target, test_size=0.25,
                                                  random_state=seed)
        return _finish(name, "regression", X_tr, y_tr, X_te, y_te, seed, max_train, max_test)
    raise ValueError(f"unknown task {name!r}; choose from {TASKS}")


@dataclass
class KPIStream:
    """A time-ordered stream of 5G throughput rows, its blocks, and held-out traces.

    ``blocks`` index the rows of ``X``, in time order; the preprocessing was
    fitted on the first block only, as a stream's would be.
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    blocks: list


def kpi_stream(ucc_5g, step=8, n_blocks=8):
    """Every ``step``-th row of the 5G training traces as a stream of ``n_blocks`` blocks.

    Parameters
    ----------
    ucc_5g : Bunch
        :func:`skqat.datasets.fetch_ucc_5g`; a quarter of its traces are held out.
    step, n_blocks : int

    Returns
    -------
    KPIStream
    """
    data, target, groups = ucc_5g.data, ucc_5g.target.to_numpy(), ucc_5g.groups
    train, test = next(GroupShuffleSplit(1, test_size=0.25, random_state=0)
                       .split(data, target, groups))
    train, test = np.sort(train)[::step], np.sort(test)[::step]
    numeric = [c for c in data.columns if data[c].dtype.kind == "f"]
    pre = ColumnTransformer([
        ("num", SimpleImputer(strategy="median", add_indicator=True), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         ["NetworkMode", "app", "mobility"])])
    blocks = np.array_split(np.arange(len(train)), n_blocks)
    pre.fit(data.iloc[train[blocks[0]]])
    return KPIStream(X=pre.transform(data.iloc[train]), y=target[train],
                     X_test=pre.transform(data.iloc[test]), y_test=target[test], blocks=blocks)
