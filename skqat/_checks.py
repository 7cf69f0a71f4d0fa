"""Checks of the estimators' parameters, and the one-thread training context."""

from contextlib import contextmanager

import numpy as np
import torch


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


def resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch finds no CUDA device "
            "(torch.cuda.is_available() is False). Use device='cpu', or 'auto' to "
            "take a GPU only when there is one."
        )
    return device


@contextmanager
def one_torch_thread():
    # Results must not depend on the thread count (a loky worker has one
    # thread, the main process several): the reduction order of a float sum
    # changes with the number of threads. One thread costs little on the
    # small matrices of tabular data.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
