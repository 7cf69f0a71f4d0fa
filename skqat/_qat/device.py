"""Where and on how many threads torch trains, and its random generator."""

import threading
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


class _ThreadSetting:
    """Torch's thread count shared by the fits running at once in this process.

    ``torch.set_num_threads`` reaches the whole process (the BLAS threads,
    the count new threads start from): a fit that restored the count when it
    ended changed it under another fit still running (joblib's threading
    backend, a Dask worker with several threads). Here the first fit to
    enter sets the count and the last to leave restores it; a fit that asks
    for another count waits until the fits using the current one have left,
    so that each runs on the count it asked for. The count is also each
    thread's own (OpenMP keeps one per thread): a worker thread that ran
    torch before keeps its old count, so a fit joining running ones sets
    the shared count in its own thread too (and leaves it so: restoring it
    would reach the fits still running).
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._active = 0
        self._count = None
        self._previous = None

    @contextmanager
    def use(self, n_threads):
        with self._cond:
            self._cond.wait_for(lambda: self._active == 0 or self._count == n_threads)
            if self._active == 0:
                self._previous, self._count = torch.get_num_threads(), n_threads
                torch.set_num_threads(n_threads)
            elif torch.get_num_threads() != n_threads:  # this thread's own count
                torch.set_num_threads(n_threads)
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    torch.set_num_threads(self._previous)
                    self._count = None
                    self._cond.notify_all()


# One per process, as torch's own setting is.
_THREADS = _ThreadSetting()


@contextmanager
def torch_threads(n_threads=1):
    """Run the block with torch on ``n_threads`` threads (None: as torch is set now).

    Results must not depend on the thread count (a loky worker has one
    thread, the main process several): the reduction order of a float sum
    changes with the number of threads. So fits run on one thread unless
    the user asks for more; one thread costs little on the small matrices
    of tabular data. Concurrent fits in one process share the setting
    safely (:class:`_ThreadSetting`).
    """
    if n_threads is None:
        yield
        return
    with _THREADS.use(int(n_threads)):
        yield


def make_generator(rng):
    """A torch generator seeded from a numpy ``RandomState`` (one draw)."""
    return torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
