"""
A telecom KPI pipeline on 5G traces, cross-validated by trace
=============================================================

Predict next-second downlink throughput (``log1p`` of kbps) from radio KPIs
(RSRP, RSRQ, SNR, CQI, ...), the network mode, the app and the previous
seconds' throughput. The rows of one drive test are strongly autocorrelated,
so every split keeps a trace whole: :class:`~sklearn.model_selection.GroupKFold`
with the trace as the group. Missing KPIs are imputed inside the pipeline.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline

from skqat import NMPQATRegressor
from skqat.datasets import fetch_ucc_5g
from skqat.model_selection import mean_weight_bits_scorer, model_size_scorer
from skqat.preprocessing import make_tabular_preprocessor

# Few epochs on purpose, to keep the example quick.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

kpis = fetch_ucc_5g()
rows = np.random.default_rng(0).choice(len(kpis.target), 6_000, replace=False)
X, y, traces = kpis.data.iloc[rows], kpis.target.iloc[rows], kpis.groups[rows]
print(X.columns.tolist())

# %%
# Three folds, each holding out whole traces.
model = make_pipeline(make_tabular_preprocessor(),
                      NMPQATRegressor(hidden_layer_sizes=(16, 16), bit_budget=2,
                                      activation_bit_budget=8, max_iter=25, random_state=0))
cv = cross_validate(model, X, y, groups=traces, cv=GroupKFold(3), return_estimator=True,
                    scoring={"r2": "r2", "bits": mean_weight_bits_scorer,
                             "size": model_size_scorer})

print("R2 per fold:", np.round(cv["test_r2"], 3))
print("mean weight bits per fold:", np.round(cv["test_bits"], 2))
print("bytes per fold:", cv["test_size"].astype(int))

# %%
# Predicted against measured throughput on the first fold's held-out traces.
train, test = next(GroupKFold(3).split(X, y, traces))
pred = cv["estimator"][0].predict(X.iloc[test])
fig, ax = plt.subplots(figsize=(5, 4.5))
ax.hexbin(y.iloc[test], pred, gridsize=40, mincnt=1, bins="log")
lims = [0, float(y.max())]
ax.plot(lims, lims, color="black", lw=1)
ax.set_xlabel("measured log1p(kbps)")
ax.set_ylabel("predicted log1p(kbps)")
ax.set_title("2-bit NMP-QAT, held-out traces")
plt.show()
