"""Point 4 of issue 2: float vs bit_budget=2 on yt_qoe and ucc_5g.

Usage: SKQAT_DATA_HOME=../shared/data python benchmarks/quality_budget2.py "(64,64)" 30 20000
(arguments: hidden layer sizes, epochs, training rows for the 5G task).
"""
import sys
import time
import warnings

warnings.simplefilter('ignore')
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.model_selection import train_test_split, GroupShuffleSplit
from skqat import NMPQATClassifier, NMPQATRegressor, datasets
from skqat.preprocessing import make_tabular_preprocessor as prep

hid = tuple(int(v) for v in sys.argv[1].strip("()").split(",") if v); it = int(sys.argv[2])
b = datasets.fetch_yt_qoe(); X = b.data.copy()
Xtr, Xte, ytr, yte = train_test_split(X, b.target, test_size=0.25, random_state=0, stratify=b.target)
for kw in [dict(quantize=False), dict(bit_budget=2.0), dict(bit_budget=2.0, activation_bit_budget=6)]:
    t=time.time(); m = make_pipeline(prep(), NMPQATClassifier(hidden_layer_sizes=hid, max_iter=it, random_state=0, **kw)).fit(Xtr, ytr)
    e=m[-1]; print('qoe', kw, round(m.score(Xte,yte),4), round(e.mean_weight_bits_,2), round(e.mean_activation_bits_,2), e.n_iter_, round(time.time()-t,1))
b = datasets.fetch_ucc_5g()
tr, te = next(GroupShuffleSplit(1, test_size=0.25, random_state=0).split(b.data, b.target, b.groups))
rng=np.random.default_rng(0); tr = rng.choice(tr, min(len(tr), int(sys.argv[3])), replace=False)
for kw in [dict(quantize=False), dict(bit_budget=2.0), dict(bit_budget=2.0, activation_bit_budget=6)]:
    t=time.time(); m = make_pipeline(prep(), NMPQATRegressor(hidden_layer_sizes=hid, max_iter=it, random_state=0, **kw)).fit(b.data.iloc[tr], b.target.iloc[tr])
    e=m[-1]; print('5g', kw, round(m.score(b.data.iloc[te], b.target.iloc[te]),4), round(e.mean_weight_bits_,2), round(e.mean_activation_bits_,2), e.n_iter_, round(time.time()-t,1))
