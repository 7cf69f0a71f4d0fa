"""Fits running at once in one process (threads, a Dask worker) and the n_threads option."""

import threading

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import make_classification

from skqat import NMPQATClassifier
from skqat._qat import training
from skqat._qat.device import torch_threads

from .conftest import require

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def thread_counts(monkeypatch):
    """The torch thread count every training epoch ran with, per training run."""
    seen, lock, epoch = {}, threading.Lock(), training._Trainer.epoch

    def recording(self, learn_bits):
        with lock:
            seen.setdefault(self, []).append(torch.get_num_threads())
        return epoch(self, learn_bits)

    monkeypatch.setattr(training._Trainer, "epoch", recording)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)  # a process with several threads: what a racing restore brings back
    yield seen
    torch.set_num_threads(previous)


def _estimators():
    return [NMPQATClassifier(hidden_layer_sizes=(64,), max_iter=6, bit_budget=2, random_state=s)
            for s in range(4)]


def _fit(est, X, y):
    return clone(est).fit(X, y)


@pytest.mark.parametrize("backend", ["threading", "dask"])
def test_concurrent_fits_equal_serial_fits(backend, thread_counts):
    X, y = make_classification(1500, 20, n_informative=10, random_state=0)
    serial = [_fit(e, X, y) for e in _estimators()]
    thread_counts.clear()
    if backend == "threading":
        fitted = Parallel(n_jobs=2, backend="threading")(
            delayed(_fit)(e, X, y) for e in _estimators())
    else:
        require("distributed")
        from distributed import Client, LocalCluster
        with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            fitted = client.gather([client.submit(_fit, e, X, y, pure=False)
                                    for e in _estimators()])
    for a, b in zip(fitted, serial):
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
        for bits_a, bits_b in zip(a.weight_bits_, b.weight_bits_):
            np.testing.assert_array_equal(bits_a, bits_b)
    # Every epoch of every fit ran on one thread, and the process's count is back.
    assert {n for counts in thread_counts.values() for n in counts} == {1}
    assert torch.get_num_threads() == 2


def test_n_threads_trains_on_the_threads_asked_for_and_waits_for_other_counts(thread_counts):
    X, y = make_classification(600, 10, random_state=0)
    many = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=4, n_threads=3, random_state=0)
    one = clone(many).set_params(n_threads=1)
    thread_counts.clear()
    Parallel(n_jobs=4, backend="threading")(delayed(_fit)(e, X, y) for e in [many, one] * 2)
    # Each fit ran every epoch on its own count, however the fits interleaved.
    runs = sorted(tuple(set(counts)) for counts in thread_counts.values())
    assert runs == [(1,), (1,), (3,), (3,)], runs
    assert torch.get_num_threads() == 2
    # None leaves torch as it is.
    thread_counts.clear()
    _fit(clone(many).set_params(n_threads=None), X, y)
    assert {n for counts in thread_counts.values() for n in counts} == {2}


def _run_from_two_threads(*targets):
    """Run ``targets`` in threads of their own, the process set to 2 torch threads.

    Returns the process's count once they have ended; the count from before
    is restored afterwards.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        threads = [threading.Thread(target=t) for t in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


def test_a_fit_that_ends_while_another_runs_restores_nothing_under_it():
    # The order that raced: B enters (saves 2), A enters, B leaves, A leaves.
    # Saved and restored per fit, A saved B's 1 and left the process on 1 thread.
    b_in, a_in, b_out, seen = threading.Event(), threading.Event(), threading.Event(), []

    def fit_b():
        with torch_threads(1):
            b_in.set()
            assert a_in.wait(60)
        b_out.set()

    def fit_a():
        assert b_in.wait(60)
        with torch_threads(1):
            a_in.set()
            assert b_out.wait(60)
            seen.append(torch.get_num_threads())

    assert _run_from_two_threads(fit_b, fit_a) == 2 and seen == [1]


def test_a_fit_joining_running_fits_trains_on_their_count_in_its_own_thread():
    # torch keeps a count per thread (OpenMP's): a worker thread that ran torch
    # on 2 threads keeps 2, whatever another thread set, until it sets its own.
    a_in, b_done, seen = threading.Event(), threading.Event(), []

    def fit_a():
        with torch_threads(1):
            a_in.set()
            assert b_done.wait(60)

    def fit_b():
        torch.set_num_threads(2)  # this worker thread ran torch on 2 threads before
        assert a_in.wait(60)
        with torch_threads(1):  # joins A's setting
            seen.append(torch.get_num_threads())
        b_done.set()

    assert _run_from_two_threads(fit_a, fit_b) == 2 and seen == [1]
