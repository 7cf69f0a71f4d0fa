"""The raw-row front end of an integer graph: a fitted pipeline's preprocessing (numpy only).

A graph built from a fitted ``Pipeline`` (``skqat.to_integer``) reads the
rows the pipeline reads: named columns of numbers, category values and
missing values. Each graph input comes from one raw column, in one of two ways.

* :class:`NumericInput`: a column of numbers. Its imputation and scaling are
  :class:`Step` s replayed in float64 exactly as scikit-learn computes them
  (same operations, same order), then the graph's float32 input step.
* :class:`CategoricalInput`: a column of categories. Its encoder's output,
  any later steps and the input step are folded, at export, into a table of
  input codes: one row per category, one for an unknown category.

:func:`encode_raw_rows` turns raw rows into the graph's input codes. A row that
the pipeline refuses (a missing value left unimputed, an unknown category
with ``handle_unknown="error"``) raises ``ValueError`` here too.
"""

import math
from dataclasses import dataclass

import numpy as np

from ._rows import input_codes

#: Elementwise operations of a numeric column, in scikit-learn's own arithmetic.
STEP_OPS = ("fill", "sub", "div", "mul", "add", "clip", "missing")


@dataclass(frozen=True)
class Step:
    """One elementwise float64 operation on a numeric column.

    Attributes
    ----------
    op : {"fill", "sub", "div", "mul", "add", "clip", "missing"}
        ``fill``: values equal to ``a`` (NaN when ``a`` is NaN) become ``b``
        (a ``SimpleImputer``); ``sub``, ``div``, ``mul``, ``add``: ``x - a``,
        ``x / a``, ``x * a``, ``x + a`` (the scalers' in-place arithmetic);
        ``clip``: ``clip(x, a, b)``; ``missing``: 1 where the value is ``a``
        (NaN when ``a`` is NaN), else 0 (an imputer's missing indicator).
    a, b : float
        The operands (``b`` is used by ``fill`` and ``clip`` only).

    Examples
    --------
    >>> import numpy as np
    >>> from skqat.runtime import Step
    >>> Step("fill", np.nan, 0.5).apply(np.array([np.nan, 3.0]))
    array([0.5, 3. ])
    >>> Step("div", 2.0).apply(np.array([1.0, 3.0]))
    array([0.5, 1.5])
    """

    op: str
    a: float
    b: float = 0.0

    def __post_init__(self):
        if self.op not in STEP_OPS:
            raise ValueError(f"Unknown step {self.op!r}; expected one of {STEP_OPS}.")

    def apply(self, v):
        """The step on a float64 array ``v`` (a new array)."""
        if self.op in ("fill", "missing"):
            mask = np.isnan(v) if math.isnan(self.a) else v == self.a
            return np.where(mask, self.b, v) if self.op == "fill" else mask.astype(np.float64)
        if self.op == "clip":
            return np.clip(v, self.a, self.b)
        return {"sub": np.subtract, "div": np.divide, "mul": np.multiply,
                "add": np.add}[self.op](v, self.a)


@dataclass(frozen=True)
class NumericInput:
    """A raw numeric column that feeds one graph input.

    Attributes
    ----------
    column : str
        The raw column's name.
    feature : int
        Index of the graph input it feeds.
    steps : tuple of Step
        Imputation and scaling, in float64, before the graph's float32 input
        step (empty: the column goes straight to the input step).

    Examples
    --------
    >>> import numpy as np
    >>> from skqat.runtime import NumericInput, Step
    >>> rsrp = NumericInput(column="rsrp", feature=0, steps=(Step("fill", np.nan, -95.0),))
    >>> rsrp.values([np.nan, -80.0])
    array([-95., -80.])
    """

    column: str
    feature: int
    steps: tuple = ()

    def values(self, raw):
        """The column after its steps: float64, what the estimator receives."""
        try:
            v = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"Column {self.column!r} must hold numbers (NaN or None for "
                             "missing), as when the pipeline was fitted.") from None
        if np.isinf(v).any():
            raise ValueError(f"Column {self.column!r} holds an infinite value; the pipeline "
                             "refuses it too. Replace it before predicting.")
        for step in self.steps:
            v = step.apply(v)
        if not np.isfinite(v).all():
            raise ValueError(
                f"Column {self.column!r} has a missing value that no step imputes; the "
                "pipeline refuses it too. Add a SimpleImputer for it to the pipeline.")
        return v


@dataclass(frozen=True, eq=False)
class CategoricalInput:
    """A raw categorical column that feeds a block of graph inputs through a table.

    Attributes
    ----------
    column : str
        The raw column's name.
    categories : ndarray of str (object) or of float64, shape (n_categories,)
        The encoder's categories, without a missing one: level ``i`` is
        ``categories[i]``, level ``n_categories`` any other value (an unknown
        category), level ``n_categories + 1`` a missing value (None or NaN:
        the pipeline's own category for it, its imputed value, or unknown).
    features : ndarray of int64, shape (width,)
        The graph inputs of the block.
    codes : ndarray of int64, shape (n_categories + 2, width)
        Input codes of each level.
    valid : ndarray of bool, shape (n_categories + 2,)
        False where the pipeline refuses the level (``handle_unknown="error"``,
        or a value no later step makes finite).

    Examples
    --------
    A one-hot encoded band feeding graph inputs 1 and 2 (codes of 0 and 1: -5 and 20):

    >>> import numpy as np
    >>> from skqat.runtime import CategoricalInput
    >>> band = CategoricalInput(column="band", categories=np.array(["n1", "n78"], dtype=object),
    ...                         features=np.array([1, 2]),
    ...                         codes=np.array([[20, -5], [-5, 20], [-5, -5], [-5, -5]]),
    ...                         valid=np.ones(4, dtype=bool))
    >>> band.levels(["n78", "n41", None])  # a category, unknown, missing
    array([1, 2, 3])
    """

    column: str
    categories: np.ndarray
    features: np.ndarray
    codes: np.ndarray
    valid: np.ndarray

    @property
    def n_levels(self):
        """Categories, the unknown level and the missing level."""
        return len(self.categories) + 2

    def levels(self, raw):
        """The level of each raw value (int64 array)."""
        n = len(self.categories)
        if self.categories.dtype.kind in "UO":
            index = {c: i for i, c in enumerate(self.categories.tolist())}
            return np.array([n + 1 if is_missing(value) else
                             index.get(value, n) if isinstance(value, str) else n
                             for value in np.asarray(raw, dtype=object).tolist()], dtype=np.int64)
        out = np.full(np.shape(raw), n, dtype=np.int64)
        try:
            v = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):  # text in a numeric column: unknown, or missing
            return np.array([n + 1 if is_missing(x) else n for x in np.asarray(raw).tolist()],
                            dtype=np.int64)
        if n:
            order = np.argsort(self.categories)
            pos = np.clip(np.searchsorted(self.categories[order], v), 0, n - 1)
            found = self.categories[order][pos] == v
            out[found] = order[pos[found]]
        out[np.isnan(v)] = n + 1
        return out


def is_missing(value):
    """Whether a raw value is missing: None, a float NaN or pandas' NA."""
    return value is None or (isinstance(value, float) and value != value) or (
        type(value).__name__ == "NAType")


@dataclass(frozen=True, eq=False)
class RawInputs:
    """How raw columns become the graph's inputs.

    Attributes
    ----------
    columns : tuple of str
        Every raw column the pipeline was fitted on, in order (a row must
        have them all, as for ``pipeline.predict``; some may be dropped).
        A pipeline fitted on an array without names has ``"x0"``, ``"x1"``,
        ... and reads arrays by position.
    numeric : tuple of NumericInput
    categorical : tuple of CategoricalInput
        Together they feed every graph input exactly once.

    Examples
    --------
    ``skqat.to_integer(pipeline)`` builds them; by hand:

    >>> import numpy as np
    >>> from skqat.runtime import CategoricalInput, NumericInput, RawInputs
    >>> band = CategoricalInput(column="band", categories=np.array(["n1", "n78"], dtype=object),
    ...                         features=np.array([1, 2]),
    ...                         codes=np.array([[20, -5], [-5, 20], [-5, -5], [-5, -5]]),
    ...                         valid=np.ones(4, dtype=bool))
    >>> raw = RawInputs(columns=("rsrp", "band"), categorical=(band,),
    ...                 numeric=(NumericInput(column="rsrp", feature=0),))
    >>> raw.check(n_features=3)  # raises unless every graph input is fed once
    """

    columns: tuple
    numeric: tuple
    categorical: tuple

    def check(self, n_features):
        """Raise ValueError unless every graph input is fed exactly once."""
        fed = [n.feature for n in self.numeric]
        for cat in self.categorical:
            fed += cat.features.tolist()
            n = cat.n_levels
            if cat.codes.shape != (n, len(cat.features)) or cat.valid.shape != (n,):
                raise ValueError(f"The table of column {cat.column!r} has the wrong shape.")
        if sorted(fed) != list(range(n_features)):
            raise ValueError("The raw inputs must feed every graph input exactly once.")
        used = {n.column for n in self.numeric} | {c.column for c in self.categorical}
        if not used <= set(self.columns):
            raise ValueError("The raw inputs read columns the pipeline was not fitted on.")


def raw_column(X, name, columns=None):
    """Column ``name`` of raw rows ``X``.

    ``X`` is a DataFrame or a mapping of 1-D arrays, indexed by name; or,
    for a pipeline fitted without column names, a 2-D array whose column
    ``columns.index(name)`` is taken.
    """
    if columns is not None and not hasattr(X, "keys"):
        X = np.asarray(X, dtype=object if np.asarray(X).dtype.kind in "UO" else None)
        if X.ndim != 2 or X.shape[1] != len(columns):
            raise ValueError(f"X must have shape (n_samples, {len(columns)}), got {X.shape}.")
        return X[:, columns.index(name)]
    try:
        column = X[name]
    except (KeyError, IndexError, TypeError, ValueError):
        raise ValueError(f"The rows have no column {name!r}: pass a DataFrame (or a mapping "
                         "of columns) with the columns the pipeline was fitted on.") from None
    return np.asarray(column)


def n_raw_rows(X, raw_inputs):
    """Number of rows of ``X``, checked to have every column the pipeline expects."""
    lengths = {len(raw_column(X, name, raw_inputs.columns)) for name in raw_inputs.columns}
    if len(lengths) != 1:
        raise ValueError("The columns of the rows have different lengths.")
    return lengths.pop()


def encode_raw_rows(raw_inputs, X, *, scale, offset, bits):
    """The graph's input codes (float64 integers) of raw rows ``X``.

    Parameters
    ----------
    raw_inputs : RawInputs
    X : pandas.DataFrame, mapping of str to 1-D array, or 2-D array
        See :func:`raw_column`.
    scale, offset : ndarray of float32, shape (n_features,)
        The graph's input step.
    bits : int
        The graph's input bits.

    Returns
    -------
    ndarray of float64, shape (n_samples, n_features)

    Raises
    ------
    ValueError
        If a column is missing, or a row is one the pipeline refuses.
    """
    n = n_raw_rows(X, raw_inputs)
    codes = np.empty((n, len(scale)), dtype=np.float64)
    for num in raw_inputs.numeric:
        f = num.feature
        v = num.values(raw_column(X, num.column, raw_inputs.columns))
        codes[:, f] = input_codes(v[:, None], scale[f:f + 1], offset[f:f + 1], bits)[:, 0]
    for cat in raw_inputs.categorical:
        raw = raw_column(X, cat.column, raw_inputs.columns)
        levels = cat.levels(raw)
        refused = ~cat.valid[levels]
        if refused.any():
            value = raw[np.flatnonzero(refused)[0]]
            raise ValueError(
                f"Column {cat.column!r} has the value {value!r}, which the pipeline refuses "
                "(an unknown category with handle_unknown='error', or a missing value that "
                "nothing imputes). Refit with handle_unknown='ignore', or impute it.")
        codes[:, cat.features] = cat.codes[levels]
    return codes
