"""Where and on how many threads torch trains, and its random generator."""

from contextlib import contextmanager

import numpy as np
import torch


def resolve_device(device):
    """The torch device of the ``device`` parameter ("cpu", "cuda" or "auto")."""
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
    """Run the block with torch on one thread, then restore the thread count."""
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


def make_generator(rng):
    """A torch generator seeded from a numpy ``RandomState`` (one draw)."""
    return torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
