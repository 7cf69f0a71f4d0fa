"""Shared fixtures: the real datasets of the data home."""

import os

import numpy as np
import pytest
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder

from skqat import datasets


def _load(fetch, **kwargs):
    try:
        return fetch(**kwargs)
    except datasets.DatasetError as exc:
        # CI always has the data home: there a missing file is a failure, not a skip.
        if os.environ.get("CI"):
            raise
        pytest.skip(f"real data not available: {exc}")


@pytest.fixture(scope="session")
def yt_qoe():
    return _load(datasets.fetch_yt_qoe)


@pytest.fixture(scope="session")
def ucc_5g():
    return _load(datasets.fetch_ucc_5g_throughput)


@pytest.fixture(scope="session")
def covertype():
    return _load(datasets.fetch_covertype, subsets=("validate",))


@pytest.fixture(scope="session")
def california():
    return _load(datasets.fetch_california_housing_raw)


def tabular_preprocessor():
    """Impute (with missing indicators) the numeric columns, one-hot the others."""
    return make_column_transformer(
        (SimpleImputer(strategy="median", add_indicator=True),
         make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         make_column_selector(dtype_include=["object", "string", "bool", "category"])),
    )


def subsample(n_total, n, seed=0):
    return np.random.default_rng(seed).choice(n_total, size=min(n, n_total), replace=False)
