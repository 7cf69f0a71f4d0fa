"""Serving with ONNX: agreement with ``predict``, bytes and prediction time (issue 24).

On each task of :mod:`benchmarks.tasks` (seed 0, 6,000 training rows, up to
10,000 test rows), one pipeline: the task's preprocessing and the default
NMP-QAT estimator. Measured in this one run:

* **exact route** (:func:`skqat.onnx.to_onnx` of the whole pipeline, raw
  columns in): rows where onnxruntime's label or value differs from
  ``pipeline.predict``, and the largest probability difference;
* **skl2onnx route** (``skl2onnx.to_onnx(pipeline, X[:1])`` after
  :func:`skqat.onnx.register_converters`) on the pipeline a practitioner
  converts (:func:`skl2onnx_pipeline`), numeric columns as float32 (as
  skl2onnx's imputer needs) and others as text: the same count (a regression value counts as
  equal when it is ``predict``'s value in float32);
* bytes of the ONNX file against the skqat model file (front end included);
* milliseconds per 10,000 rows, one thread, best of 5: onnxruntime on the
  exact model, ``IntegerMLP.predict`` on the raw rows, and scikit-learn's
  ``MLPClassifier``/``MLPRegressor`` (100,) behind the same preprocessing.

Usage::

    python -m benchmarks.onnx_serving --output benchmarks/results
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import skl2onnx
import torch
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from skqat import NMPQATClassifier, NMPQATRegressor, to_integer
from skqat.onnx import frame_inputs, onnx_inputs, register_converters, to_onnx

from .report import markdown_table
from .tasks import TASKS, load_raw_split


def _session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def _ms_per_10k(fn, n_rows, repeats=5):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return 1e3 * best * 10_000 / n_rows


def _differing(kind, got, expected, float32=False):
    got = np.asarray(got).reshape(len(expected), -1)[:, 0] if kind == "regression" else got
    if float32:
        expected = np.asarray(expected).astype(np.float32)
    return int(np.sum(got != expected))


def skl2onnx_pipeline(estimator):
    """What a practitioner converts with skl2onnx: median imputation and scaling, one-hot.

    (skl2onnx converts ``SimpleImputer(add_indicator=True)``, which the
    tasks' own preprocessing uses, without its indicator columns.)
    """
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    return make_pipeline(make_column_transformer(
        (numeric, make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore", sparse_output=False),
         make_column_selector(dtype_exclude="number"))), estimator)


def _skl2onnx_differing(split, classify):
    """Test rows where the skl2onnx route's label (value in float32) differs from predict."""
    est = NMPQATClassifier(random_state=0) if classify else NMPQATRegressor(random_state=0)
    # skl2onnx's imputer takes float32 only, its one-hot encoder no booleans.
    types = {c: np.float32 if pd.api.types.is_numeric_dtype(t) and not
             pd.api.types.is_bool_dtype(t) else str for c, t in split.X_train.dtypes.items()}
    X_train, X = split.X_train.astype(types), split.X_test.astype(types)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = skl2onnx_pipeline(est).fit(X_train, split.y_train)
    register_converters()
    onx = skl2onnx.to_onnx(pipe, X[:1], options={id(est): {"zipmap": False}} if classify
                           else None)
    out = _session(onx).run(None, frame_inputs(onx, X))
    return _differing(split.kind, out[0], pipe.predict(X), float32=not classify)


def serve_task(task, max_train=6000, max_test=10_000):
    """One row of the report: the task's pipeline, both ONNX routes, bytes and times."""
    split = load_raw_split(task, 0, max_train, max_test)
    classify = split.kind == "classification"
    est = NMPQATClassifier(random_state=0) if classify else NMPQATRegressor(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(split.preprocessor, est).fit(split.X_train, split.y_train)
    X = split.X_test
    expected = pipe.predict(X)
    graph = to_integer(pipe)
    model = to_onnx(pipe)
    session = _session(model)
    feeds = onnx_inputs(pipe, X)
    out = session.run(None, feeds)
    row = {"task": task, "kind": split.kind, "rows": len(X),
           "exact_differing": _differing(split.kind, out[0], expected)}
    if classify:
        row["proba_max_diff"] = float(np.abs(out[1] - pipe.predict_proba(X)).max())
    row["skl2onnx_differing"] = _skl2onnx_differing(split, classify)
    row["onnx_bytes"] = len(model.SerializeToString())
    row["model_file_bytes"] = len(graph.to_bytes())
    mlp = make_pipeline(split.preprocessor, (MLPClassifier if classify else MLPRegressor)(
        random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.fit(split.X_train, split.y_train)
    row["onnxruntime_ms"] = _ms_per_10k(lambda: session.run(None, feeds), len(X))
    row["integer_mlp_ms"] = _ms_per_10k(lambda: graph.predict(X), len(X))
    row["sklearn_mlp_ms"] = _ms_per_10k(lambda: mlp.predict(X), len(X))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with threadpool_limits(1):
        rows = pd.DataFrame([serve_task(t) for t in args.tasks.split(",")])
    args.output.mkdir(parents=True, exist_ok=True)
    rows.to_csv(args.output / "onnx_serving.csv", index=False)
    columns = ["task", "rows", "exact_differing", "skl2onnx_differing", "onnx_bytes",
               "model_file_bytes", "onnxruntime_ms", "integer_mlp_ms", "sklearn_mlp_ms"]
    text = ("# Serving with ONNX\n\nSeed 0, 6,000 training rows, the default estimator behind "
            "each task's preprocessing. `*_differing`: test rows whose label (or value) differs "
            "from `pipeline.predict`. Times: milliseconds per 10,000 rows, one thread, best of "
            "5 (`*_ms`; the MLP is scikit-learn's (100,)). Written by "
            "`python -m benchmarks.onnx_serving`.\n\n" + markdown_table(rows, columns))
    if "proba_max_diff" in rows:
        text += ("\nLargest probability difference, exact route: "
                 + ", ".join(f"{r.task} {r.proba_max_diff:.1e}" for r in rows.itertuples()
                             if r.kind == "classification") + ".\n")
    (args.output / "onnx_serving.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
