"""Checks of the estimators' parameters that the parameter constraints cannot express."""

import numpy as np


def check_candidates(name, values, low):
    try:
        arr = np.asarray(values)
        ok = arr.ndim == 1 and arr.size > 0 and np.all(arr == np.round(arr))
    except (TypeError, ValueError):
        ok = False
    if not ok or arr.min() < low or arr.max() > 16 or len(set(arr.tolist())) != arr.size:
        raise ValueError(
            f"{name} must be a non-empty sequence of distinct integers between {low} and 16 "
            f"(candidate bit-widths), got {values!r}."
        )
    return tuple(sorted(int(v) for v in arr))


def check_budget(name, budget, candidates, candidates_name):
    if budget is not None and budget < candidates[0]:
        raise ValueError(
            f"{name}={budget} is below the smallest candidate bit-width "
            f"{candidates_name}[0]={candidates[0]}: no network can meet it. Raise {name} "
            f"to at least {candidates[0]}, add a smaller bit-width to {candidates_name}, "
            f"or set {name}=None for no budget."
        )
