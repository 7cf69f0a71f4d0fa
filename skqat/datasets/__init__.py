"""Datasets: the real public telecom and tabular data, and a synthetic KPI generator.

The loaders read from a data home (the ``data_home`` argument, else the
``SKQAT_DATA_HOME`` environment variable, else ``~/skqat_data``), download a
missing file from its original source (or from ``SKQAT_DATA_MIRROR``), and
verify every file's sha256 before using it.
"""

from ._home import DatasetError, get_data_home
from ._real import (fetch_california_housing_raw, fetch_covertype_sample, fetch_ucc_5g,
                    fetch_yt_qoe)
from ._synthetic import make_cellular_kpis

__all__ = ["DatasetError", "get_data_home", "fetch_yt_qoe", "fetch_ucc_5g",
           "fetch_covertype_sample", "fetch_california_housing_raw", "make_cellular_kpis"]
