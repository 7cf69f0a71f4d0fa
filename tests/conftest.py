"""Shared fixtures: the real datasets of the data home."""

import importlib
import os
import shutil

import numpy as np
import pytest
from skqat import datasets
from skqat.preprocessing import make_tabular_preprocessor as tabular_preprocessor  # noqa: F401


def _load(fetch, **kwargs):
    try:
        return fetch(download_if_missing=False, **kwargs)
    except datasets.DatasetError as exc:
        # CI always has the data home: there a missing file is a failure, not a skip.
        if os.environ.get("CI"):
            raise
        pytest.skip(f"real data not available: {exc}")


def require(module):
    """Import an optional dependency; skip without it, except in CI (which installs every extra)."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def require_tool(*names):
    """Skip without these programs, except in CI (where .ci/run installs them)."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        message = (f"{', '.join(missing)} not installed (Debian: gcc-arm-none-eabi, "
                   "libnewlib-arm-none-eabi, gcc-arm-linux-gnueabihf, qemu-user; .ci/run "
                   "installs them)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def yt_qoe():
    return _load(datasets.fetch_yt_qoe)


@pytest.fixture(scope="session")
def ucc_5g():
    return _load(datasets.fetch_ucc_5g)


@pytest.fixture(scope="session")
def covertype():
    return _load(datasets.fetch_covertype_sample, subsets=("validate",))


@pytest.fixture(scope="session")
def california():
    return _load(datasets.fetch_california_housing_raw)


def subsample(n_total, n, seed=0):
    return np.random.default_rng(seed).choice(n_total, size=min(n, n_total), replace=False)
