"""How a microcontroller computes a graph: integer widths, input tables (numpy only).

The C export and the resource report both follow this plan, so that the
report describes exactly the C that is written.

* **Widths.** Per layer, a 32-bit accumulator where the overflow bound
  proves it fits (64-bit otherwise), and likewise the requantization
  product ``acc * M + 2**(k-1)``; the outputs in 32 bits where they fit.
* **Numeric inputs.** A column that reaches the graph unchanged (or only
  imputed) takes the graph's float32 step, as numpy computes it. A column
  with scaling steps (float64 in scikit-learn) takes exact thresholds: the
  smallest float32 value of each input code, found by bisection over the
  float32 values against the float64 steps, and compared on the device as
  integers (:func:`float32_keys`), so that every float32 input gets the code
  the pipeline gives it.
* **Categorical inputs.** Each of an input's graph features starts at its most
  common code; a level then adds only its few ``(feature, delta)`` entries
  (a one-hot level sets one feature), and the integer core takes the codes.
"""

from dataclasses import dataclass, replace

import numpy as np

from ._rows import input_codes

INT32_LIMIT = 2**31
_KEY_LOW, _KEY_HIGH = -2139095041, 2139095040  # the keys of -inf and +inf
#: The largest threshold table a numeric input gets (input_bits <= 12).
MAX_THRESHOLDS = 2**12


def float32_keys(x):
    """Integers in the order of float32 values (``-0 < +0``): the device's comparisons.

    Parameters
    ----------
    x : array-like of float32 (not NaN)

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> float32_keys([-1.0, -0.0, 0.0, 1.5]).tolist()
    [-1065353217, -1, 0, 1069547520]
    """
    bits = np.asarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.where(bits < 0, bits ^ 0x7FFFFFFF, bits)


def keys_to_float32(keys):
    """Inverse of :func:`float32_keys`."""
    keys = np.asarray(keys, dtype=np.int64)
    return np.where(keys < 0, keys ^ 0x7FFFFFFF, keys).astype(np.int32).view(np.float32)


@dataclass(frozen=True)
class NumericPlan:
    """One numeric device input (``x[i]`` in C).

    Attributes
    ----------
    feature : int
        The graph input it feeds.
    nan_code : int
        Its code for NaN (the imputed value's, or 0 where nothing imputes it).
    thresholds : ndarray of int64 or None
        None: the graph's float32 step. Else the sorted keys of the smallest
        float32 value of each code after ``base``: the code of ``x`` is
        ``base`` plus the number of thresholds at or below ``key(x)``.
    base : int
        The code below every threshold (thresholds that every value reaches
        are folded into it).
    refuses_nan : bool
        Whether the model refuses NaN here (nothing imputes it); a raw
        column also refuses infinities, as the pipeline does.
    """

    feature: int
    nan_code: int
    thresholds: np.ndarray | None = None
    base: int = 0
    refuses_nan: bool = False


@dataclass(frozen=True)
class CategoricalPlan:
    """One categorical device input (a category index, ``c[i]`` in C).

    Attributes
    ----------
    columns : ndarray of int64
        The graph features this input feeds.
    common : ndarray of int64
        Their most common codes (over the valid levels), where every row starts.
    level_start : ndarray of int64, shape (n_levels + 1,)
        Level ``v``'s entries are ``level_start[v]:level_start[v + 1]``
        (levels as :class:`~skqat.runtime.CategoricalInput` orders them).
    features, deltas : ndarray of int64
        Entries: a first-layer column and the code added beyond the folded one.
    refused : ndarray of bool, shape (n_levels,)
        Levels the model refuses (an unknown category under
        ``handle_unknown="error"``, a missing one nothing imputes).
    """

    columns: np.ndarray
    common: np.ndarray
    level_start: np.ndarray
    features: np.ndarray
    deltas: np.ndarray
    refused: np.ndarray

    @property
    def max_entries(self):
        """Most entries of one level."""
        return int(np.diff(self.level_start).max())


@dataclass(frozen=True)
class DevicePlan:
    """The plan of a whole graph (module docstring).

    Attributes
    ----------
    numeric : tuple of NumericPlan
    categorical : tuple of CategoricalPlan
    wide_accumulator, wide_product : list of bool
        Per layer: 64-bit accumulator; 64-bit requantization product.
    wide_output : bool
        Whether the integer outputs need 64 bits.
    """

    numeric: tuple
    categorical: tuple
    wide_accumulator: list
    wide_product: list
    wide_output: bool


def _numeric_plans(graph):
    qmax = 2 ** (graph.input_bits - 1) - 1
    raw = graph.raw_inputs
    if raw is None:
        return tuple(NumericPlan(feature=f, nan_code=0) for f in range(graph.n_features))
    plans = []
    for num in raw.numeric:
        a, c = graph.input_scale[num.feature], graph.input_offset[num.feature]

        def code(x, num=num, a=a, c=c):
            v = np.asarray(x, dtype=np.float64)
            for step in num.steps:
                v = step.apply(v)
            return input_codes(v[:, None], a[None], c[None], graph.input_bits)[:, 0]

        nan_code = int(code(np.array([np.nan]))[0])
        imputed = np.array([np.nan])
        for step in num.steps:
            imputed = step.apply(imputed)
        refuses = not np.isfinite(imputed[0])
        if all(s.op == "fill" and np.isnan(s.a) for s in num.steps):
            plans.append(NumericPlan(feature=num.feature, nan_code=nan_code,
                                     refuses_nan=refuses))
            continue
        if 2 * qmax > MAX_THRESHOLDS:
            raise ValueError(
                f"Column {num.column!r} is scaled before the estimator: the C export gives it "
                f"a table of 2**input_bits thresholds, which input_bits={graph.input_bits} "
                "makes too large. Refit with input_bits <= 12, or without the scaler (the "
                "estimator standardizes its inputs itself).")
        plans.append(replace(_threshold_plan(num.feature, nan_code, code, qmax),
                             refuses_nan=refuses))
    return tuple(plans)


def _threshold_plan(feature, nan_code, code, qmax):
    targets = np.arange(-qmax + 1, qmax + 1)
    lo = np.full(targets.shape, _KEY_LOW)  # code(lo) < target, unless already reached
    hi = np.full(targets.shape, _KEY_HIGH)
    low_code, high_code = code(keys_to_float32([_KEY_LOW, _KEY_HIGH]))
    for _ in range(33):
        mid = (lo + hi) // 2
        reached = code(keys_to_float32(mid)) >= targets
        hi, lo = np.where(reached, mid, hi), np.where(reached, lo, mid)
    # hi: the smallest key whose code reaches the target (bisection over keys).
    keys = np.where(targets <= low_code, _KEY_LOW, np.where(targets > high_code, INT32_LIMIT, hi))
    x = keys_to_float32(np.clip(keys, _KEY_LOW, _KEY_HIGH))
    below = keys_to_float32(np.clip(keys - 1, _KEY_LOW, _KEY_HIGH))
    inner = (keys > _KEY_LOW) & (keys < INT32_LIMIT)
    if np.any(np.diff(keys) < 0) or np.any((code(x) < targets)[inner]) or np.any(
            (code(below) >= targets)[inner]):
        raise ValueError("A numeric column's steps do not map larger values to larger codes; "
                         "the C export needs them to (use scalers with positive factors).")
    always = int(np.sum(keys == _KEY_LOW))
    return NumericPlan(feature=feature, nan_code=nan_code, base=-qmax + always,
                       thresholds=keys[(keys > _KEY_LOW) & (keys < INT32_LIMIT)])


def _categorical_plan(cat):
    valid = cat.codes[cat.valid] if cat.valid.any() else cat.codes
    common = np.array([np.bincount(col - col.min()).argmax() + col.min() for col in valid.T])
    delta = cat.codes - common
    level_start = np.concatenate([[0], np.cumsum((delta != 0).sum(axis=1))])
    rows, cols = np.nonzero(delta)
    return CategoricalPlan(columns=np.asarray(cat.features, np.int64), common=common,
                           level_start=level_start, features=cat.features[cols],
                           deltas=delta[rows, cols], refused=~cat.valid)


def device_plan(graph):
    """The :class:`DevicePlan` of an :class:`~skqat.runtime.IntegerMLP`."""
    numeric = _numeric_plans(graph)
    categorical = tuple(_categorical_plan(cat) for cat in
                        (graph.raw_inputs.categorical if graph.raw_inputs else ()))
    # Every input code, categorical ones too, is within [-Q, Q]: the graph's own bounds.
    bounds = graph.accumulator_bounds()
    wide_acc = [max(b) >= INT32_LIMIT for b in bounds]
    wide_prod = [any(int(bj) * int(m) + (1 << int(k)) >= INT32_LIMIT
                     for bj, m, k in zip(b, lay.multiplier, lay.shift))
                 for b, lay in zip(bounds, graph.layers)]
    last = graph.layers[-1]
    wide_out = any((int(bj) * int(m) + (1 << int(k))) >> int(k) >= INT32_LIMIT
                   for bj, m, k in zip(bounds[-1], last.multiplier, last.shift))
    return DevicePlan(numeric=numeric, categorical=categorical,
                      wide_accumulator=wide_acc, wide_product=wide_prod,
                      wide_output=wide_out)
