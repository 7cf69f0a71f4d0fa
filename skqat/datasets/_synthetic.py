"""A synthetic cellular KPI generator with physics-shaped relations."""

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state

_BANDS = {  # band: (carrier GHz, bandwidth MHz, network mode)
    "B20": (0.8, 10.0, "LTE"),
    "B3": (1.8, 20.0, "LTE"),
    "n78": (3.5, 100.0, "5G"),
}
_NOISE_DBM = -125.0  # thermal noise per resource element, with a noise figure
_MISSING_RATES = {"RSRP": 0.01, "RSRQ": 0.05, "SINR": 0.08, "CQI": 0.03, "latency_ms": 0.02}

_DESCR = """\
Synthetic cellular KPIs
-----------------------
One row per (user, second) measurement in one of ``n_cells`` cells:

* RSRP (dBm) = -(path loss) - shadowing, with path loss
  ``28 + 22 log10(d) + 20 log10(f_GHz)`` (d in m, log-uniform 30 m to 3 km)
  and log-normal shadowing (8 dB);
* interference (dBm) grows with the neighbours' load, and
  SINR (dB) = RSRP - 10 log10(10^(I/10) + 10^(N/10));
* RSRQ (dB) falls with the serving cell's load and with interference;
* CQI = clip(round((SINR + 7) / 2), 1, 15), and spectral efficiency is an
  attenuated Shannon bound ``0.75 log2(1 + SINR)`` capped at 5.55 b/s/Hz and
  reduced by speed (Doppler);
* throughput (kbps) = bandwidth x spectral efficiency x the share the cell's
  load leaves, times log-normal noise;
* latency (ms) grows with load (queueing) and distance;
* a QoE class: ``good`` (throughput >= 10 Mbps and latency < 60 ms),
  ``poor`` (< 2 Mbps or > 150 ms), else ``fair``.

Missing values (NaN) at rates of 1% (RSRP) to 8% (SINR). ``groups`` is the
cell: split by it for an honest estimate on unseen cells.
"""


def make_cellular_kpis(n_samples=10000, task="regression", n_cells=40, random_state=None):
    """Generate cellular radio KPIs with throughput or QoE targets.

    The embedded default data set of the package: what tests and examples
    use where a real file is not needed, and the demo's fallback offline.
    The relations are documented in the returned ``DESCR``.

    Parameters
    ----------
    n_samples : int, default=10000
        Number of rows.
    task : {"regression", "classification"}, default="regression"
        ``regression``: the target is ``log1p`` of the downlink throughput in
        kbps. ``classification``: the QoE class ``poor``, ``fair`` or ``good``.
    n_cells : int, default=40
        Number of cells; each has its own band and mean load.
    random_state : int, RandomState instance or None, default=None
        Seed of every draw.

    Returns
    -------
    Bunch
        ``data`` (DataFrame: ``RSRP``, ``RSRQ``, ``SINR``, ``CQI``,
        ``distance_m``, ``speed_kmh``, ``cell_load``, ``neighbour_load``,
        ``latency_ms`` as float with NaN where missing, and the categorical
        ``band`` and ``network_mode``), ``target``, ``groups`` (the cell),
        ``feature_names``, ``DESCR``.

    Examples
    --------
    >>> from skqat.datasets import make_cellular_kpis
    >>> kpis = make_cellular_kpis(n_samples=500, random_state=0)
    >>> kpis.data.shape, kpis.target.name
    ((500, 11), 'log1p_DL_kbps')
    >>> len(make_cellular_kpis(500, task="classification", random_state=0).target.unique())
    3
    """
    if task not in ("regression", "classification"):
        raise ValueError(f"task must be 'regression' or 'classification', got {task!r}.")
    if n_samples < 1 or n_cells < 1:
        raise ValueError("n_samples and n_cells must be positive.")
    rng = check_random_state(random_state)
    n = int(n_samples)

    band_names = np.array(list(_BANDS))
    cell_band = band_names[rng.randint(len(band_names), size=n_cells)]
    cell_mean_load = rng.beta(2.0, 3.0, size=n_cells)
    cell = rng.randint(n_cells, size=n)
    band = cell_band[cell]
    f_ghz = np.array([_BANDS[b][0] for b in band])
    bw_mhz = np.array([_BANDS[b][1] for b in band])
    mode = np.array([_BANDS[b][2] for b in band])

    distance = np.exp(rng.uniform(np.log(30.0), np.log(3000.0), n))
    shadowing = rng.normal(0.0, 8.0, n)
    rsrp = -(28.0 + 22.0 * np.log10(distance) + 20.0 * np.log10(f_ghz)) - shadowing
    load = np.clip(cell_mean_load[cell] + rng.normal(0.0, 0.1, n), 0.02, 0.95)
    neighbour_load = np.clip(rng.beta(2.0, 3.0, n), 0.02, 0.95)
    interference = -95.0 + 10.0 * np.log10(neighbour_load) + rng.normal(0.0, 3.0, n)
    sinr = rsrp - 10.0 * np.log10(10 ** (interference / 10) + 10 ** (_NOISE_DBM / 10))
    rsrq = np.clip(-3.0 - 10.0 * np.log10(1.0 + 4.0 * load + 10 ** (-sinr / 10))
                   + rng.normal(0.0, 0.5, n), -20.0, -3.0)
    cqi = np.clip(np.round((sinr + 7.0) / 2.0), 1, 15)
    speed = np.where(rng.uniform(size=n) < 0.6, 0.0, rng.uniform(10.0, 120.0, n))
    efficiency = np.minimum(5.55, 0.75 * np.log2(1.0 + 10 ** (sinr / 10)))
    efficiency *= 1.0 - 0.002 * speed
    throughput = (bw_mhz * 1000.0 * efficiency * (1.0 - load)
                  * np.exp(rng.normal(0.0, 0.25, n)))  # kbps
    latency = (12.0 + 40.0 * load / (1.0 - load) + distance / 200.0
               + rng.exponential(5.0, n))

    data = pd.DataFrame({
        "RSRP": rsrp, "RSRQ": rsrq, "SINR": sinr, "CQI": cqi, "distance_m": distance,
        "speed_kmh": speed, "cell_load": load, "neighbour_load": neighbour_load,
        "latency_ms": latency, "band": band, "network_mode": mode,
    })
    for col, rate in _MISSING_RATES.items():
        data.loc[rng.uniform(size=n) < rate, col] = np.nan

    if task == "regression":
        target = pd.Series(np.log1p(throughput), name="log1p_DL_kbps")
    else:
        good = (throughput >= 10_000) & (latency < 60)
        poor = (throughput < 2_000) | (latency > 150)
        target = pd.Series(np.where(poor, "poor", np.where(good, "good", "fair")), name="qoe")
    return Bunch(data=data, target=target, groups=cell, feature_names=list(data.columns),
                 DESCR=_DESCR)
