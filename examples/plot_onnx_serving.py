"""
Serving with ONNX: the exact integer model, and the skl2onnx route
==================================================================

Teams that serve scikit-learn models in production often do it with ONNX and
onnxruntime. A fitted skqat pipeline has two ways there:

* ``skqat.onnx.to_onnx(pipeline)``: the integer graph with the pipeline's
  preprocessing as its front end. Each raw column is an input, and
  onnxruntime predicts exactly what ``pipeline.predict`` does.
* ``skl2onnx.to_onnx(pipeline, X[:1])`` after
  ``skqat.onnx.register_converters()``: skl2onnx converts the preprocessing
  itself (in float32) and our converter adds the integer graph.

Here both routes serve a QoE stall classifier, and we count the rows where
each one differs from ``pipeline.predict``.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
import pandas as pd
import skl2onnx
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skqat import NMPQATClassifier, to_integer
from skqat.datasets import fetch_yt_qoe
from skqat.onnx import frame_inputs, onnx_inputs, register_converters, to_onnx
from skqat.preprocessing import make_tabular_preprocessor

# Few epochs on purpose, to keep the example quick.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

qoe = fetch_yt_qoe()
X_train, X_test, y_train, y_test = train_test_split(qoe.data, qoe.target.to_numpy(),
                                                    train_size=3000, test_size=5000,
                                                    stratify=qoe.target, random_state=0)


def classifier():
    return NMPQATClassifier(hidden_layer_sizes=(32,), bit_budget=2, max_iter=20,
                            random_state=0)


pipe = make_pipeline(make_tabular_preprocessor(), classifier()).fit(X_train, y_train)

# %%
# The exact route: one input per raw column (numbers as float64 with NaN for
# missing, text as strings with "" for missing); ``onnx_inputs`` builds them
# from a DataFrame. The session needs neither skqat nor torch.
session = ort.InferenceSession(to_onnx(pipe).SerializeToString(),
                               providers=["CPUExecutionProvider"])
print("inputs:", [i.name for i in session.get_inputs()][:4], "...")
label, proba = session.run(None, onnx_inputs(pipe, X_test))
exact_differing = int(np.sum(label != pipe.predict(X_test)))
print(f"exact route: {exact_differing} of {len(X_test)} labels differ from predict; "
      f"largest probability difference {np.abs(proba - pipe.predict_proba(X_test)).max():.1e}")

# %%
# The skl2onnx route, on the pipeline a practitioner converts with skl2onnx.
# Its imputer takes float32 columns and its one-hot encoder no booleans, so
# the frame is cast first (for the fit too, so that both see the same rows).
types = {c: np.float32 if pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
         else str for c, t in X_train.dtypes.items()}
X_train32, X_test32 = X_train.astype(types), X_test.astype(types)
est = classifier()
pipe32 = make_pipeline(make_column_transformer(
    (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
     make_column_selector(dtype_include="number")),
    (OneHotEncoder(handle_unknown="ignore", sparse_output=False),
     make_column_selector(dtype_exclude="number"))), est).fit(X_train32, y_train)
register_converters()
onx = skl2onnx.to_onnx(pipe32, X_test32[:1], options={id(est): {"zipmap": False}})
session32 = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
# One (N, 1) input per column, of the type skl2onnx declared for it.
label32, _ = session32.run(None, frame_inputs(onx, X_test32))
skl2onnx_differing = int(np.sum(label32 != pipe32.predict(X_test32)))
print(f"skl2onnx route: {skl2onnx_differing} of {len(X_test)} labels differ from predict")

# %%
# Sizes: the ONNX file stores int8 weights and float64 requantization
# constants per neuron, the skqat model file bit-packed weights and narrow
# integer fields (both with the front end).
sizes = {"skqat model file": len(to_integer(pipe).to_bytes()),
         "ONNX, exact route": len(to_onnx(pipe).SerializeToString()),
         "ONNX, skl2onnx route": len(onx.SerializeToString())}
fig, ax = plt.subplots(figsize=(6, 2.5))
ax.barh(list(sizes), list(sizes.values()), color=["tab:blue", "tab:green", "tab:orange"])
ax.set_xlabel("bytes")
ax.set_title(f"Differing labels: exact {exact_differing}, skl2onnx {skl2onnx_differing} "
             f"of {len(X_test)}")
fig.tight_layout()
plt.show()
