"""A fitted pipeline as one integer model: its preprocessing folded into the graph's front end.

:func:`to_integer` traces the fitted steps before the estimator, column by
column, into :class:`~skqat.runtime.RawInputs`:

* a numeric column collects its imputation (and missing indicator) and
  scaling as float64
  :class:`~skqat.runtime.Step` s, the very operations scikit-learn's
  ``transform`` runs, in its order (``x / s`` on dense data, ``x * (1 / s)``
  on sparse data, as scikit-learn computes each);
* an encoder turns a raw column into a block of columns whose values are
  known for every level (each category, an unknown one, a missing one): the
  encoder itself computes them, so ``handle_unknown``, ``drop`` and
  infrequent categories behave as it does; later steps act on those values,
  and the estimator's input step turns them into a table of codes.
"""

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import is_classifier, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (FunctionTransformer, MaxAbsScaler, MinMaxScaler, OneHotEncoder, OrdinalEncoder,
                                   RobustScaler, StandardScaler)
from sklearn.utils.validation import check_is_fitted

from .runtime import CategoricalInput, IntegerMLP, NumericInput, RawInputs, Step
from .runtime._raw_inputs import is_missing
from .runtime._rows import input_codes

SUPPORTED = ("ColumnTransformer", "Pipeline", "SimpleImputer", "OneHotEncoder", "OrdinalEncoder",
             "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler")


@dataclass(frozen=True)
class _Raw:
    """A raw column, the elementwise steps applied to it so far, and an imputed category."""

    column: str
    steps: tuple = ()
    category_fill: str | None = None  # what an encoder after it sees for a missing value


@dataclass(frozen=True, eq=False)
class _Encoded:
    """One output column of an encoder: its value at every level of the raw column."""

    column: str
    group: int  # columns of one encoder input form one table
    categories: np.ndarray
    values: np.ndarray  # (n_categories + 2,): the categories, unknown, missing
    valid: np.ndarray


def _unsupported(step):
    return ValueError(
        f"skqat.to_integer cannot fold the step {type(step).__name__} ({step!r}) into the "
        f"integer model. Supported steps: {', '.join(SUPPORTED)}, and 'passthrough' or "
        "'drop'. Apply other steps before the pipeline, or replace them.")


def _apply(signal, step):
    """An elementwise :class:`Step` on a traced column."""
    if isinstance(signal, _Raw):
        return replace(signal, steps=signal.steps + (step,))
    with np.errstate(invalid="ignore"):  # NaN (a refused level) stays NaN, as in numpy
        return replace(signal, values=step.apply(signal.values))


def _divide(scale, sparse):
    """Division by a scale as scikit-learn computes it: ``x / s``, or ``x * (1 / s)`` if sparse."""
    return Step("mul", float(1.0 / scale)) if sparse else Step("div", float(scale))


def _scaler_steps(step, j, sparse):
    """The float64 operations a fitted scaler applies to its column ``j``."""
    out = []
    if isinstance(step, StandardScaler):
        if step.with_mean:
            out.append(Step("sub", float(step.mean_[j])))
        if step.with_std:
            out.append(_divide(step.scale_[j], sparse))
    elif isinstance(step, RobustScaler):
        if step.with_centering:
            out.append(Step("sub", float(step.center_[j])))
        if step.with_scaling:
            out.append(_divide(step.scale_[j], sparse))
    elif isinstance(step, MinMaxScaler):
        out += [Step("mul", float(step.scale_[j])), Step("add", float(step.min_[j]))]
        if step.clip:
            out.append(Step("clip", *map(float, step.feature_range)))
    else:  # MaxAbsScaler
        out.append(_divide(step.scale_[j], sparse))
        if step.clip:
            out.append(Step("clip", -1.0, 1.0))
    return out


def _impute(step, signals):
    missing = step.missing_values
    if not (is_missing(missing) or isinstance(missing, (int, float, np.number))):
        raise ValueError(f"skqat.to_integer folds SimpleImputer with numeric or NaN "
                         f"missing_values only, not {missing!r}.")
    missing = np.nan if not isinstance(missing, (int, float, np.number)) else float(missing)
    stats = step.statistics_
    out = []
    for j, signal in enumerate(signals):
        fill = stats[j]
        if not step.keep_empty_features and is_missing(fill):
            continue  # scikit-learn drops a column it never saw a value in
        if isinstance(fill, (int, float, np.number)):
            fill = float(fill)
        if isinstance(signal, _Raw) and isinstance(fill, str):
            out.append(replace(signal, category_fill=fill))  # the encoder resolves it
        else:
            out.append(_apply(signal, Step("fill", missing, fill)))
    if step.add_indicator:  # after the imputed columns, one per column that had missing values
        for j in step.indicator_.features_:
            if isinstance(stats[j], str):
                raise ValueError(f"skqat.to_integer folds missing indicators of numeric "
                                 f"columns only, not of {signals[j].column!r}.")
            out.append(_apply(signals[j], Step("missing", missing)))
    return out


def _probe_frame(encoder, i, values):
    """Rows for ``encoder.transform``: input ``i`` takes ``values``, the others a category."""
    n = len(values)
    columns = {}
    for k, cats in enumerate(encoder.categories_):
        kind = object if cats.dtype.kind in "OUS" else np.float64
        columns[k] = pd.Series(values if k == i else [cats[0]] * n, dtype=kind)
    frame = pd.DataFrame(columns)
    if hasattr(encoder, "feature_names_in_"):
        frame.columns = list(encoder.feature_names_in_)
    return frame if hasattr(encoder, "feature_names_in_") else frame.to_numpy(dtype=object)


def _category_kind(column, categories):
    """object for text categories, float64 for numbers and booleans (the runtime's two kinds)."""
    if categories.dtype.kind not in "OUS":
        return np.float64
    values = categories.tolist()
    if all(isinstance(v, str) for v in values):
        return object
    if all(isinstance(v, (bool, int, float, np.number, np.bool_)) for v in values):
        return np.float64
    raise ValueError(f"Column {column!r} mixes text and number categories; the integer model "
                     "stores one kind. Cast the column to str before the pipeline.")


def _unseen(categories):
    if categories.dtype.kind in "OUS":
        return "\x00skqat-unseen-category"
    finite = categories[~np.isnan(categories.astype(float))]
    return float(finite.max() + 1) if finite.size else 0.0


def _fitted_detail(obj, name):
    """A fitted attribute scikit-learn keeps private (checked: a renamed one is a clear error)."""
    try:
        return getattr(obj, name)
    except AttributeError:
        raise ValueError(f"skqat.to_integer reads {type(obj).__name__}.{name}, which scikit-learn "
                         f"{sklearn.__version__} does not have; use a scikit-learn version that "
                         "skqat supports (see pyproject.toml).") from None


def _encode(encoder, signals, group_start):
    """The encoded columns of ``encoder`` applied to raw ``signals``."""
    # The width of each input's block of one-hot columns.
    widths = (_fitted_detail(encoder, "_n_features_outs") if isinstance(encoder, OneHotEncoder)
              else [1] * len(signals))
    out, start = [], 0
    for i, (signal, cats) in enumerate(zip(signals, encoder.categories_)):
        if not isinstance(signal, _Raw) or any(
                not (s.op == "fill" and math.isnan(s.a)) for s in signal.steps):
            raise ValueError(f"skqat.to_integer folds an encoder on raw columns (imputed at "
                             f"most); column {signal.column!r} is transformed before it.")
        present = np.array([not is_missing(c) for c in cats.tolist()], dtype=bool)
        categories = cats[present]
        # A missing value reaches the encoder as the pipeline's own marker (None or NaN),
        # or as what an imputer before it fills in.
        marker = next((c for c in cats.tolist() if is_missing(c)), np.nan)
        missing_value = (signal.category_fill if signal.category_fill is not None
                         else signal.steps[-1].b if signal.steps else marker)
        probes = list(categories.tolist()) + [_unseen(cats), missing_value]
        values = np.full((len(probes), widths[i]), np.nan)
        valid = np.ones(len(probes), dtype=bool)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown categories, as probed
            for row, probe in enumerate(probes):
                try:
                    block = encoder.transform(_probe_frame(encoder, i, [probe]))
                except ValueError:  # handle_unknown="error": the pipeline refuses it
                    valid[row] = False
                    continue
                block = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
                values[row] = block[0, start:start + widths[i]]
        kind = _category_kind(signal.column, categories)
        out += [_Encoded(column=signal.column, group=group_start + i,
                         categories=categories.astype(kind), values=values[:, j],
                         valid=valid.copy()) for j in range(widths[i])]
        start += widths[i]
    return out


def _trace(step, signals, sparse, groups):
    """The columns after ``step``, and whether its output is sparse."""
    if step in ("passthrough", None) or (isinstance(step, FunctionTransformer)
                                         and step.func is None):
        return signals, sparse  # a fitted remainder="passthrough" is an identity FunctionTransformer
    if isinstance(step, Pipeline):
        for _, sub in step.steps:
            signals, sparse = _trace(sub, signals, sparse, groups)
        return signals, sparse
    if isinstance(step, ColumnTransformer):
        out = []
        indices = _fitted_detail(step, "_transformer_to_input_indices")  # columns as positions
        for name, trans, _ in step.transformers_:
            idx = indices.get(name, [])
            if trans == "drop" or not len(idx):
                continue
            out += _trace(trans, [signals[k] for k in idx], sparse, groups)[0]
        return out, step.sparse_output_
    if isinstance(step, SimpleImputer):
        return _impute(step, signals), sparse
    if isinstance(step, (StandardScaler, RobustScaler, MinMaxScaler, MaxAbsScaler)):
        traced = list(signals)
        for j, signal in enumerate(signals):
            for op in _scaler_steps(step, j, sparse):
                traced[j] = _apply(traced[j], op)
        return traced, sparse
    if isinstance(step, (OneHotEncoder, OrdinalEncoder)):
        start = len(groups)
        groups.extend(range(len(signals)))
        return _encode(step, signals, start), (isinstance(step, OneHotEncoder)
                                               and step.sparse_output)
    raise _unsupported(step)


def _raw_inputs(signals, graph):
    numeric, blocks = [], {}
    for f, signal in enumerate(signals):
        if isinstance(signal, _Raw):
            if signal.category_fill is not None:
                raise ValueError(f"Column {signal.column!r} is imputed with a category and "
                                 "reaches the estimator without an encoder.")
            numeric.append(NumericInput(column=signal.column, feature=f, steps=signal.steps))
        else:
            blocks.setdefault(signal.group, []).append((f, signal))
    categorical = []
    for block in blocks.values():
        features = np.array([f for f, _ in block])
        values = np.column_stack([s.values for _, s in block])
        valid = np.logical_and.reduce([s.valid for _, s in block]) & np.isfinite(values).all(1)
        codes = input_codes(np.nan_to_num(values), graph.input_scale[features],
                            graph.input_offset[features], graph.input_bits).astype(np.int64)
        categorical.append(CategoricalInput(column=block[0][1].column,
                                            categories=block[0][1].categories,
                                            features=features, codes=codes, valid=valid))
    return numeric, categorical


def to_integer(model):
    """A fitted NMP-QAT estimator, or a fitted pipeline ending in one, as one integer model.

    For a pipeline, the preprocessing becomes the graph's front end: the
    result reads the raw rows the pipeline reads (a DataFrame with its
    columns: numbers, category values, NaN or None for missing) and predicts
    exactly what ``pipeline.predict`` does, refusing what it refuses. Its
    model file and C export carry the front end (in C: numbers as floats,
    categories as indices, their names in the header).

    Supported steps: ``ColumnTransformer`` (remainder ``"passthrough"`` or
    ``"drop"``), ``SimpleImputer`` (with or without ``add_indicator``),
    ``OneHotEncoder`` and ``OrdinalEncoder`` (every ``handle_unknown``,
    ``drop`` and infrequent-category option), ``StandardScaler``,
    ``MinMaxScaler``, ``MaxAbsScaler``, ``RobustScaler`` and nested
    pipelines; encoders on raw (at most imputed) columns.

    Parameters
    ----------
    model : estimator or Pipeline
        A fitted :class:`~skqat.NMPQATClassifier`, :class:`~skqat.NMPQATRegressor`
        (or their CV versions), or a fitted ``Pipeline`` whose last step is one.

    Returns
    -------
    skqat.runtime.IntegerMLP

    Raises
    ------
    ValueError
        If a step is not supported (the message names it).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.compose import make_column_transformer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> from skqat import NMPQATRegressor, to_integer
    >>> X = pd.DataFrame({"load": [0.1, 0.5, 0.9, 0.3] * 25, "band": ["n78", "n1"] * 50})
    >>> y = 2 * X["load"] + (X["band"] == "n78")
    >>> pipe = make_pipeline(
    ...     make_column_transformer((OneHotEncoder(handle_unknown="ignore"), ["band"]),
    ...                             remainder="passthrough"),
    ...     NMPQATRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)).fit(X, y)
    >>> model = to_integer(pipe)
    >>> bool((model.predict(X) == pipe.predict(X)).all())
    True
    """
    if not isinstance(model, Pipeline):
        if not hasattr(model, "to_integer"):
            raise ValueError(f"to_integer takes a fitted NMP-QAT estimator or a Pipeline that "
                             f"ends in one, not {type(model).__name__}.")
        return model.to_integer()
    estimator = model.steps[-1][1]
    if not (hasattr(estimator, "to_integer") and (is_classifier(estimator)
                                                  or is_regressor(estimator))):
        raise ValueError(f"The pipeline's last step must be an NMP-QAT estimator, not "
                         f"{type(estimator).__name__}.")
    check_is_fitted(estimator)
    graph = estimator.to_integer()
    names = getattr(model, "feature_names_in_", None)
    n_in = model.n_features_in_ if hasattr(model, "n_features_in_") else graph.n_features
    columns = tuple(str(c) for c in names) if names is not None else tuple(
        f"x{i}" for i in range(n_in))
    signals, _ = _trace(model[:-1], [_Raw(c) for c in columns], False, [])
    if len(signals) != graph.n_features:
        raise ValueError(f"The traced preprocessing gives {len(signals)} columns; the "
                         f"estimator takes {graph.n_features}.")
    numeric, categorical = _raw_inputs(signals, graph)
    raw = RawInputs(columns=columns, numeric=tuple(numeric), categorical=tuple(categorical))
    return IntegerMLP(graph.input_scale, graph.input_offset, graph.input_bits, graph.layers,
                      graph.output_scale, graph.output_offset, graph.task, graph.classes, raw)
