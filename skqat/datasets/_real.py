"""Loaders of the real public datasets, in the style of ``sklearn.datasets``.

Each reads its file from the data home (see :func:`~skqat.datasets.get_data_home`),
downloads it from its original source when missing (unless told not to),
verifies its sha256, does the cleaning the dataset's notes ask for behind
documented arguments, and returns a :class:`~sklearn.utils.Bunch`.
"""

import io
import zipfile

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._home import verified_bytes

_YT_LEAKING_PREFIXES = ("pl_", "rnd_", "gain_", "run_length")
_YT_LEAKING = ("net_dl_total", "net_played_bytes")
_YT_INPUT_PREFIXES = ("net_", "vid_", "br_", "hbm")

_YT_DESCR = """\
YouTube QoE sessions under traffic shaping
------------------------------------------
12,472 YouTube sessions played under shaped network conditions. Task: predict
whether playback stalled (``pl_buffering_boolean``, 56% of sessions).

Source: https://github.com/csieber/yt-dataset (data/ifip_networking.csv.gz).
License: MIT.
Citation: C. Sieber, P. Heegaard, T. Hossfeld, W. Kellerer, "Sacrificing
efficiency for quality of experience: YouTube's redundant traffic behavior",
IFIP Networking 2016.
"""

_UCC_DESCR = """\
UCC 5G production dataset: next-second downlink throughput
----------------------------------------------------------
Per-second channel and context KPIs (RSRP, RSRQ, SNR, CQI, RSSI, NR
neighbour RSRP/RSRQ, speed, network mode) of 83 traces recorded on a
commercial operator's 5G/4G network while streaming (Amazon Prime, Netflix)
or downloading, static and driving. Rows of a trace are autocorrelated:
split by ``groups`` (the trace), never at random.

Source: https://github.com/uccmisl/5Gdataset (5G-production-dataset.zip).
License: GPL-3.0.
Citation: D. Raca, D. Leahy, C. J. Sreenan, J. J. Quinlan, "Beyond
throughput, the next generation: a 5G dataset with channel and context
metrics", ACM MMSys 2020.
"""

_COVERTYPE_DESCR = """\
UCI Covertype, 150,000 random rows
----------------------------------
Forest cover type (7 classes) of 30 x 30 m cells from cartographic
variables, in three disjoint random samples of 50,000 rows of the original
581,012. Wilderness area is a string column and soil type an integer code:
one-hot encode both for the usual 54 features.

Source: https://github.com/marsbroshok/mlops-labs (datasets/covertype), from
the UCI Machine Learning Repository.
License: CC BY 4.0.
Citation: J. A. Blackard, D. J. Dean, "Comparative accuracies of artificial
neural networks and discriminant analysis in predicting forest cover types
from cartographic variables", Computers and Electronics in Agriculture 24(3),
1999.
"""

_HOUSING_DESCR = """\
California housing, raw
-----------------------
20,640 block groups of the 1990 US census: raw totals (rooms, bedrooms,
population, households), median income and age, location and a categorical
ocean proximity; 207 missing ``total_bedrooms``. Target: median house value
in dollars (capped at 500,001).

Source: https://github.com/ageron/handson-ml2 (datasets/housing), from StatLib.
Citation: R. K. Pace, R. Barry, "Sparse spatial autoregressions", Statistics
and Probability Letters 33, 1997.
"""


def fetch_yt_qoe(data_home=None, download_if_missing=True, drop_leaking=True):
    """YouTube QoE sessions: predict whether playback stalled.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download the file into the data home when it is not there.
    drop_leaking : bool, default=True
        Keep only the inputs known before the session: the network shaping
        (``net_*``) and the video properties (``vid_*``, ``br_*``, ``hbm*``).
        The player-outcome columns (``pl_*``, ``rnd_*``, ``gain_*``,
        ``run_length*``, ``net_dl_total``, ``net_played_bytes``) describe the
        session's result and leak the target. False returns every column but
        the target.

    Returns
    -------
    Bunch
        ``data`` (DataFrame, 12,472 rows, 27 columns with ``drop_leaking``;
        ``vid_category`` is a string column), ``target`` (int64 Series
        ``stalled``, 1 when playback stalled), ``feature_names``, ``DESCR``.

    Examples
    --------
    >>> from skqat.datasets import fetch_yt_qoe
    >>> qoe = fetch_yt_qoe()
    >>> qoe.data.shape
    (12472, 27)
    """
    frame = pd.read_csv(io.BytesIO(verified_bytes("yt_qoe/ifip_networking.csv.gz", data_home,
                                                  download_if_missing)), compression="gzip")
    if drop_leaking:
        inputs = [c for c in frame.columns
                  if c.startswith(_YT_INPUT_PREFIXES)
                  and not c.startswith(_YT_LEAKING_PREFIXES) and c not in _YT_LEAKING]
    else:
        inputs = [c for c in frame.columns if c != "pl_buffering_boolean"]
    data = frame[inputs]
    target = frame["pl_buffering_boolean"].astype(np.int64).rename("stalled")
    return Bunch(data=data, target=target, feature_names=list(inputs), DESCR=_YT_DESCR)


_UCC_KPIS = ["RSRP", "RSRQ", "SNR", "CQI", "RSSI", "NRxRSRP", "NRxRSRQ", "Speed"]


def _ucc_trace(archive, name, n_lags, downloading_only, log_target):
    parts = name.split("/")
    # "-" marks a missing KPI in these files.
    trace = pd.read_csv(archive.open(name), na_values=["-"], low_memory=False)
    trace = trace.sort_values("Timestamp", kind="stable")
    rate = pd.to_numeric(trace["DL_bitrate"], errors="coerce")
    lagged = np.log1p(rate) if log_target else rate
    out = trace[_UCC_KPIS + ["NetworkMode"]].copy()
    for lag in range(1, n_lags + 1):
        out[f"lag{lag}_{'log_' if log_target else ''}dl"] = lagged.shift(lag).to_numpy()
    out["app"], out["mobility"] = parts[1], parts[2]
    out["target"], out["trace"] = lagged.to_numpy(), name
    keep = out["target"].notna().to_numpy().copy()
    if n_lags:
        keep &= out.filter(regex=r"^lag\d").notna().all(axis=1).to_numpy()
    if downloading_only:
        keep &= (trace["State"] == "D").to_numpy()
    return out[keep]


def fetch_ucc_5g(data_home=None, download_if_missing=True, n_lags=3, downloading_only=True,
                 log_target=True):
    """Next-second downlink throughput from 5G/4G radio KPIs (UCC 5G dataset).

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download the archive into the data home when it is not there.
    n_lags : int, default=3
        Within each trace (sorted by time), the previous ``n_lags`` seconds'
        throughput become lag features; rows without all of them are dropped.
        Without lags the KPIs explain little of a video app's rate.
    downloading_only : bool, default=True
        Keep only rows where the phone was downloading (``State == 'D'``).
    log_target : bool, default=True
        Target and lags are ``log1p(DL_bitrate)`` (the rate is heavy-tailed);
        False keeps kbps.

    Returns
    -------
    Bunch
        ``data`` (DataFrame: the radio KPIs as float with NaN where the file
        has ``-``, the categorical ``NetworkMode``, the ``app`` and
        ``mobility`` of the trace's folder, and the lags), ``target``,
        ``groups`` (the trace file: split by it), ``feature_names``, ``DESCR``.
        With the defaults: 127,478 rows, 14 columns, 83 traces.

    Examples
    --------
    >>> from sklearn.model_selection import GroupKFold
    >>> from skqat.datasets import fetch_ucc_5g
    >>> kpis = fetch_ucc_5g()
    >>> kpis.data.shape, len(set(kpis.groups))
    ((127478, 14), 83)
    >>> train, test = next(GroupKFold(3).split(kpis.data, kpis.target, kpis.groups))
    >>> set(kpis.groups[train]) & set(kpis.groups[test])
    set()
    """
    if n_lags < 0:
        raise ValueError(f"n_lags must be >= 0, got {n_lags}.")
    raw = verified_bytes("ucc_5g/5G-production-dataset.zip", data_home, download_if_missing)
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        frames = [_ucc_trace(archive, name, n_lags, downloading_only, log_target)
                  for name in sorted(archive.namelist())
                  if name.endswith(".csv") and "__MACOSX" not in name]
    frame = pd.concat(frames, ignore_index=True)
    for col in _UCC_KPIS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    data = frame.drop(columns=["target", "trace"])
    name = "log1p_DL_bitrate" if log_target else "DL_bitrate"
    return Bunch(data=data, target=frame["target"].rename(name), groups=frame["trace"].to_numpy(),
                 feature_names=list(data.columns), DESCR=_UCC_DESCR)


_COVERTYPE_SUBSETS = ("validate", "testing", "serving")


def fetch_covertype_sample(data_home=None, download_if_missing=True,
                           subsets=_COVERTYPE_SUBSETS):
    """UCI Covertype, 150,000 random rows in three disjoint files of 50,000.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download missing files into the data home.
    subsets : tuple of {"validate", "testing", "serving"}
        Which files to read, in this order.

    Returns
    -------
    Bunch
        ``data`` (DataFrame, 50,000 rows per subset: 10 numeric columns, the
        string ``Wilderness_Area`` and the integer code ``Soil_Type``; one-hot
        encode both for the usual 54 features), ``target`` (``Cover_Type``,
        1 to 7), ``feature_names``, ``DESCR``.

    Examples
    --------
    >>> from skqat.datasets import fetch_covertype_sample
    >>> cover = fetch_covertype_sample(subsets=("validate",))
    >>> cover.data.shape, sorted(cover.target.unique().tolist())
    ((50000, 12), [1, 2, 3, 4, 5, 6, 7])
    """
    unknown = set(subsets) - set(_COVERTYPE_SUBSETS)
    if unknown or not subsets:
        raise ValueError(f"subsets must be a non-empty selection of {_COVERTYPE_SUBSETS}, "
                         f"got {subsets!r}.")
    frame = pd.concat([
        pd.read_csv(io.BytesIO(verified_bytes(f"covertype/covertype_{s}.csv", data_home,
                                              download_if_missing)))
        for s in subsets], ignore_index=True)
    data = frame.drop(columns="Cover_Type")
    return Bunch(data=data, target=frame["Cover_Type"], feature_names=list(data.columns),
                 DESCR=_COVERTYPE_DESCR)


def fetch_california_housing_raw(data_home=None, download_if_missing=True):
    """California housing with raw totals, missing values and a categorical column.

    Parameters
    ----------
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download the file into the data home when it is not there.

    Returns
    -------
    Bunch
        ``data`` (DataFrame, 20,640 rows, 9 columns; ``total_bedrooms`` has
        207 NaN, ``ocean_proximity`` is a string column), ``target``
        (``median_house_value`` in dollars), ``feature_names``, ``DESCR``.

    Examples
    --------
    >>> from skqat.datasets import fetch_california_housing_raw
    >>> housing = fetch_california_housing_raw()
    >>> housing.data.shape, int(housing.data["total_bedrooms"].isna().sum())
    ((20640, 9), 207)
    """
    frame = pd.read_csv(io.BytesIO(verified_bytes("california_housing/housing.csv", data_home,
                                                  download_if_missing)))
    data = frame.drop(columns="median_house_value")
    return Bunch(data=data, target=frame["median_house_value"], feature_names=list(data.columns),
                 DESCR=_HOUSING_DESCR)
