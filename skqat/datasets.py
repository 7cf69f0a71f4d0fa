"""Real datasets from a local data home, checked against their published digests.

The data home is the ``data_home`` argument, else the ``SKQAT_DATA_HOME``
environment variable, else ``~/skqat_data``. Each loader verifies the file's
sha256 before reading it, then does the cleaning its dataset's notes ask for,
and returns a :class:`~sklearn.utils.Bunch` with ``data`` (a DataFrame),
``target``, ``feature_names``, ``DESCR`` and, for time-series traces,
``groups``.
"""

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

__all__ = ["get_data_home", "fetch_yt_qoe", "fetch_ucc_5g_throughput", "fetch_covertype",
           "fetch_california_housing_raw"]

_SHA256 = {
    "ucc_5g/5G-production-dataset.zip":
        "abc729d696b5e0ba34a9c6ed35a851f2868d2b5071be5efb8a49691c23bb1a9b",
    "yt_qoe/ifip_networking.csv.gz":
        "b990a0099dfbe297d286e337fd610e958a746da0698e6e3e5af1ce9132c9bacc",
    "covertype/covertype_validate.csv":
        "dedab4d69441e2e120579556227be54e26e85267b91175f637fec83e4a1e4f46",
    "covertype/covertype_testing.csv":
        "72888f40ccd825094face6616be556300156830a8f9106715c4429e4ba8f8f57",
    "covertype/covertype_serving.csv":
        "8eae05c09ce410954e6d944ae6bcb8b5e5328efbc4fc73673dcafd276fff6467",
    "california_housing/housing.csv":
        "8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e",
}


class DatasetError(OSError):
    """A dataset file is missing from the data home or fails its checksum."""


def get_data_home(data_home=None):
    """Folder that holds the datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit folder; else ``SKQAT_DATA_HOME``, else ``~/skqat_data``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from skqat.datasets import get_data_home
    >>> str(get_data_home("/tmp/somewhere"))
    '/tmp/somewhere'
    """
    if data_home is None:
        data_home = os.environ.get("SKQAT_DATA_HOME") or Path.home() / "skqat_data"
    return Path(data_home).expanduser()


def _verified_bytes(relpath, data_home):
    path = get_data_home(data_home) / relpath
    if not path.is_file():
        raise DatasetError(
            f"{relpath} is not in the data home {path.parent.parent}. Put the file there, or "
            "point the data_home argument or the SKQAT_DATA_HOME environment variable at the "
            "folder that holds it."
        )
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != _SHA256[relpath]:
        raise DatasetError(
            f"{path} has sha256 {digest}, not the published {_SHA256[relpath]}: the file is "
            "damaged or a different version. Replace it with the original."
        )
    return raw


_YT_LEAKING_PREFIXES = ("pl_", "rnd_", "gain_", "run_length")
_YT_LEAKING = ("net_dl_total", "net_played_bytes")
_YT_INPUT_PREFIXES = ("net_", "vid_", "br_", "hbm")


def fetch_yt_qoe(data_home=None):
    """YouTube QoE sessions: predict whether playback stalled.

    The player-outcome columns (``pl_*``, ``rnd_*``, ``gain_*``,
    ``run_length*``, ``net_dl_total``, ``net_played_bytes``) describe the
    session's result and are dropped; the inputs are the network shaping
    (``net_*``) and the video properties (``vid_*``, ``br_*``, ``hbm*``).

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.

    Returns
    -------
    Bunch
        ``data`` (DataFrame, 12,472 rows; ``vid_category`` is a string
        column), ``target`` (int Series, 1 when the session stalled: the
        ``pl_buffering_boolean`` column), ``feature_names``, ``DESCR``.
    """
    frame = pd.read_csv(io.BytesIO(_verified_bytes("yt_qoe/ifip_networking.csv.gz", data_home)),
                        compression="gzip")
    inputs = [c for c in frame.columns
              if c.startswith(_YT_INPUT_PREFIXES) and not c.startswith(_YT_LEAKING_PREFIXES)
              and c not in _YT_LEAKING]
    data = frame[inputs]
    return Bunch(
        data=data, target=frame["pl_buffering_boolean"].astype(np.int64).rename("stalled"),
        feature_names=list(inputs),
        DESCR=("YouTube QoE sessions under traffic shaping (Sieber et al., IFIP Networking "
               "2016; MIT license). Target: whether playback stalled."),
    )


_UCC_KPIS = ["RSRP", "RSRQ", "SNR", "CQI", "RSSI", "NRxRSRP", "NRxRSRQ", "Speed"]


def fetch_ucc_5g_throughput(data_home=None, n_lags=3):
    """Next-second downlink throughput from 5G/4G radio KPIs (UCC 5G dataset).

    Within each trace (sorted by time) the previous ``n_lags`` seconds'
    ``log1p(DL_bitrate)`` become lag features; rows where the phone was
    downloading (``State == 'D'``) with all lags present are kept.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    n_lags : int, default=3
        Number of lag features.

    Returns
    -------
    Bunch
        ``data`` (DataFrame: radio KPIs with NaN where missing, the
        categorical ``NetworkMode``, ``app`` and ``mobility``, and the lags),
        ``target`` (``log1p(DL_bitrate)``, DL_bitrate in kbps), ``groups``
        (the trace file: split by it, rows of one trace are autocorrelated),
        ``feature_names``, ``DESCR``.
    """
    raw = _verified_bytes("ucc_5g/5G-production-dataset.zip", data_home)
    frames = []
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for name in sorted(archive.namelist()):
            if not name.endswith(".csv") or "__MACOSX" in name:
                continue
            parts = name.split("/")
            trace = pd.read_csv(archive.open(name), na_values=["-"], low_memory=False)
            trace = trace.sort_values("Timestamp", kind="stable")
            rate = np.log1p(pd.to_numeric(trace["DL_bitrate"], errors="coerce"))
            out = trace[_UCC_KPIS + ["NetworkMode"]].copy()
            for lag in range(1, n_lags + 1):
                out[f"lag{lag}_log_dl"] = rate.shift(lag).to_numpy()
            out["app"], out["mobility"] = parts[1], parts[2]
            out["target"], out["trace"] = rate.to_numpy(), name
            keep = (trace["State"] == "D").to_numpy() & out.filter(like="lag").notna().all(axis=1)
            frames.append(out[keep.to_numpy() & out["target"].notna().to_numpy()])
    frame = pd.concat(frames, ignore_index=True)
    for col in _UCC_KPIS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    data = frame.drop(columns=["target", "trace"])
    return Bunch(
        data=data, target=frame["target"].rename("log1p_DL_bitrate"),
        groups=frame["trace"].to_numpy(), feature_names=list(data.columns),
        DESCR=("UCC 5G production dataset (Raca et al., MMSys 2020; GPL-3.0): per-second radio "
               "KPIs of drive and static tests. Target: log1p of next-second downlink kbps."),
    )


def fetch_covertype(data_home=None, subsets=("validate", "testing", "serving")):
    """UCI Covertype, 150,000 random rows in three disjoint files of 50,000.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    subsets : tuple of {"validate", "testing", "serving"}
        Which files to read, in order.

    Returns
    -------
    Bunch
        ``data`` (DataFrame with 10 numeric columns, the string
        ``Wilderness_Area`` and the integer code ``Soil_Type``: one-hot encode
        both for the usual 54-feature layout), ``target`` (``Cover_Type``,
        1 to 7), ``feature_names``, ``DESCR``.
    """
    frame = pd.concat([
        pd.read_csv(io.BytesIO(_verified_bytes(f"covertype/covertype_{s}.csv", data_home)))
        for s in subsets], ignore_index=True)
    data = frame.drop(columns="Cover_Type")
    return Bunch(data=data, target=frame["Cover_Type"], feature_names=list(data.columns),
                 DESCR="UCI Covertype (Blackard & Dean, 1999; CC BY 4.0), 7 forest cover classes.")


def fetch_california_housing_raw(data_home=None):
    """California housing with raw totals, missing values and a categorical column.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.

    Returns
    -------
    Bunch
        ``data`` (DataFrame, 20,640 rows; ``total_bedrooms`` has 207 NaN,
        ``ocean_proximity`` is a string column), ``target``
        (``median_house_value`` in dollars), ``feature_names``, ``DESCR``.
    """
    frame = pd.read_csv(io.BytesIO(_verified_bytes("california_housing/housing.csv", data_home)))
    data = frame.drop(columns="median_house_value")
    return Bunch(data=data, target=frame["median_house_value"], feature_names=list(data.columns),
                 DESCR="California housing, 1990 census block groups (StatLib).")
