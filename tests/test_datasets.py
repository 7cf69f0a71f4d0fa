"""Loaders, checksums, downloads and the synthetic KPI generator (issue 4, points 1-2)."""

import functools
import http.server
import os
import shutil
import threading

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline

from skqat import NMPQATRegressor
from skqat.datasets import (DatasetError, fetch_california_housing_raw, get_data_home,
                            make_cellular_kpis)
from skqat.datasets._home import FILES
from skqat.preprocessing import make_tabular_preprocessor

HOUSING = "california_housing/housing.csv"


def test_yt_qoe_shape_and_types(yt_qoe):
    assert yt_qoe.data.shape == (12472, 27)
    assert yt_qoe.target.dtype == np.int64 and set(yt_qoe.target.unique()) == {0, 1}
    assert not any(c.startswith(("pl_", "rnd_", "gain_")) for c in yt_qoe.data.columns)
    assert yt_qoe.feature_names == list(yt_qoe.data.columns)
    assert "MIT" in yt_qoe.DESCR and "Sieber" in yt_qoe.DESCR


def test_ucc_5g_shape_types_and_groups(ucc_5g):
    assert ucc_5g.data.shape == (127478, 14)
    assert len(np.unique(ucc_5g.groups)) == 83 and len(ucc_5g.groups) == len(ucc_5g.target)
    assert ucc_5g.target.dtype == np.float64 and ucc_5g.target.min() >= 0
    kpis = ucc_5g.data[["RSRP", "RSRQ", "SNR", "CQI", "RSSI", "NRxRSRP", "NRxRSRQ", "Speed"]]
    assert all(dtype == np.float64 for dtype in kpis.dtypes)
    assert ucc_5g.data["RSSI"].isna().mean() > 0.05  # "-" markers became NaN
    assert {"NetworkMode", "app", "mobility", "lag1_log_dl"} <= set(ucc_5g.data.columns)
    assert "GPL-3.0" in ucc_5g.DESCR and "Raca" in ucc_5g.DESCR


def test_covertype_shape_and_types(covertype):
    assert covertype.data.shape == (50000, 12)
    assert set(covertype.target.unique()) == set(range(1, 8))
    assert pd.api.types.is_string_dtype(covertype.data["Wilderness_Area"])


def test_california_shape_and_types(california):
    assert california.data.shape == (20640, 9)
    assert california.data["total_bedrooms"].isna().sum() == 207
    assert pd.api.types.is_string_dtype(california.data["ocean_proximity"])


def _copy_home(tmp_path, relpath):
    src = get_data_home() / relpath
    if not src.is_file():
        if os.environ.get("CI"):
            raise FileNotFoundError(src)
        pytest.skip("real data not available")
    dst = tmp_path / relpath
    dst.parent.mkdir(parents=True)
    shutil.copy(src, dst)
    return dst


def test_wrong_checksum_is_refused(tmp_path):
    path = _copy_home(tmp_path, HOUSING)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match="sha256"):
        fetch_california_housing_raw(data_home=tmp_path, download_if_missing=False)


def test_missing_file_without_download_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError) as err:
        fetch_california_housing_raw(data_home=tmp_path, download_if_missing=False)
    message = str(err.value)
    assert HOUSING in message and FILES[HOUSING][1] in message and "SKQAT_DATA_HOME" in message


@pytest.fixture
def mirror(tmp_path):
    """An HTTP server on loopback serving a copy of the data home's housing file."""
    root = tmp_path / "served"
    _copy_home(root, HOUSING)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_from_a_mirror(tmp_path, mirror, monkeypatch):
    _, url = mirror
    monkeypatch.setenv("SKQAT_DATA_MIRROR", url)
    home = tmp_path / "home"
    housing = fetch_california_housing_raw(data_home=home)
    assert housing.data.shape == (20640, 9)
    assert (home / HOUSING).is_file()
    assert not [p for p in (home / "california_housing").iterdir() if p.name.startswith(".")]


def test_download_with_a_wrong_checksum_is_not_kept(tmp_path, mirror, monkeypatch):
    root, url = mirror
    (root / HOUSING).write_bytes(b"not the housing data\n")
    monkeypatch.setenv("SKQAT_DATA_MIRROR", url)
    home = tmp_path / "home"
    with pytest.raises(DatasetError, match="was not kept"):
        fetch_california_housing_raw(data_home=home)
    assert not (home / HOUSING).exists()


def test_unreachable_source_names_file_url_and_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKQAT_DATA_MIRROR", "http://127.0.0.1:9")  # the discard port
    with pytest.raises(DatasetError) as err:
        fetch_california_housing_raw(data_home=tmp_path)
    message = str(err.value)
    assert "http://127.0.0.1:9/" + HOUSING in message and "SKQAT_DATA_HOME" in message


def test_generator_is_deterministic_and_shaped():
    a = make_cellular_kpis(800, random_state=3)
    b = make_cellular_kpis(800, random_state=3)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_series_equal(a.target, b.target)
    assert not a.data.equals(make_cellular_kpis(800, random_state=4).data)
    assert a.data.shape == (800, 11) and len(a.groups) == 800
    assert 0.005 < a.data["SINR"].isna().mean() < 0.2  # missing values at realistic rates
    c = make_cellular_kpis(800, task="classification", random_state=3)
    assert set(c.target.unique()) == {"poor", "fair", "good"}
    with pytest.raises(ValueError, match="task"):
        make_cellular_kpis(10, task="ranking")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_learns_the_generator():
    kpis = make_cellular_kpis(4000, random_state=0)
    train, test = next(GroupShuffleSplit(1, test_size=0.3, random_state=0)
                       .split(kpis.data, kpis.target, kpis.groups))
    X_tr, X_te = kpis.data.iloc[train], kpis.data.iloc[test]
    y_tr, y_te = kpis.target.iloc[train], kpis.target.iloc[test]
    model = make_pipeline(make_tabular_preprocessor(),
                          NMPQATRegressor(hidden_layer_sizes=(32, 32), max_iter=20,
                                          bit_budget=2.0, random_state=0)).fit(X_tr, y_tr)
    constant = DummyRegressor().fit(X_tr, y_tr)
    assert model.score(X_te, y_te) > 0.85  # documented: about 0.95 on 6,000 rows
    assert constant.score(X_te, y_te) < 0.01
