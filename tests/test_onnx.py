"""The integer graph in ONNX: onnxruntime computes what ``predict`` does (issue 24)."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.model_selection import train_test_split

from skqat import NMPQATClassifier, NMPQATClassifierCV, NMPQATRegressor, NMPQATRegressorCV
from skqat.onnx import frame_inputs, register_converters
from skqat.runtime import IntegerMLP, QuantizedLayer
from skqat.runtime._onnx_export import DEFAULT_OPSET
from skqat.runtime._onnx_front import onnx_feeds

from .conftest import require, subsample, tabular_preprocessor
from .test_runtime import extreme_rows, random_graph

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: onnxruntime's Exp and Tanh are not numpy's: probabilities may differ in the
#: last units of place (measured at most 4 ulps of 1 on 200,000 logits).
PROBA_ATOL = 2e-15


def onnx_outputs(graph, rows, opset=DEFAULT_OPSET):
    """onnxruntime's outputs for ``rows``, by name, from a fully checked model."""
    onnx, ort = require("onnx"), require("onnxruntime")
    model = graph.to_onnx(opset=opset)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, onnx_feeds(graph, rows))))


def assert_onnx_predicts(graph, rows, expected=None, opset=DEFAULT_OPSET):
    """onnxruntime gives ``graph.predict(rows)`` bit for bit (and ``expected``, if given)."""
    out = onnx_outputs(graph, rows, opset)
    predicted = graph.predict(rows)
    if graph.task == "regression":
        values = out["variable"]
        assert values.dtype == np.float64
        np.testing.assert_array_equal(values.ravel() if values.shape[1] == 1 else values,
                                      predicted)
    else:
        np.testing.assert_array_equal(out["label"], predicted)
        np.testing.assert_allclose(out["probabilities"], graph.predict_proba(rows), rtol=0,
                                   atol=PROBA_ATOL)
    if expected is not None:
        got = out["variable"] if graph.task == "regression" else out["label"]
        np.testing.assert_array_equal(got.ravel() if got.ndim == 2 and got.shape[1] == 1
                                      else got, expected)


TASKS = [("regression", None), ("binary", np.array(["no", "yes"])),
         ("multiclass", np.array([3, 5, 9])), ("multiclass", np.array([0.5, 1.5, 2.5])),
         ("multilabel", None), ("multiclass", None)]


@pytest.mark.parametrize("task,classes", TASKS)
@pytest.mark.parametrize("float_path", [False, True])
def test_random_graphs_of_every_task_in_both_requantizations(task, classes, float_path):
    rng = np.random.default_rng(len(task) + float_path)
    n_out = 1 if task == "binary" else 3
    graph = random_graph(rng, [7, 12, 9, n_out], task=task, classes=classes,
                         float_path=float_path)
    # float_path=False gives 31-bit multipliers: the int64 requantization.
    assert all(p.in_float for p in graph._plans) == float_path
    assert_onnx_predicts(graph, extreme_rows(rng, 7, 400))
    sparse = scipy.sparse.random(50, 7, density=0.3, random_state=0)
    assert_onnx_predicts(graph, sparse.tocsr() * 10)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), depth=st.integers(1, 3), input_bits=st.integers(2, 16),
       bits=st.sampled_from([(1,), (16,), (1, 2, 16), (1, 3, 4, 8), tuple(range(1, 17))]),
       float_path=st.booleans(), task=st.sampled_from(["regression", "binary", "multiclass"]))
def test_hypothesis_graphs_with_1_and_16_bit_layers(seed, depth, input_bits, bits, float_path,
                                                     task):
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(1, 9))] + [int(rng.integers(1, 12)) for _ in range(depth)]
    sizes.append(1 if task != "multiclass" else int(rng.integers(2, 5)))
    graph = random_graph(rng, sizes, input_bits=input_bits, task=task, bits=np.array(bits),
                         float_path=float_path)
    assert_onnx_predicts(graph, extreme_rows(rng, sizes[0], 60))


def _quantized_layers(rng, sizes, bits):
    """Trained-like layers at random bit-widths from ``bits`` (0 prunes a hidden neuron)."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        w_bits = rng.choice([b for b in bits if hidden or b > 0], n_out)
        qmax = np.where(w_bits <= 1, w_bits, 2 ** np.maximum(w_bits - 1, 0) - 1)
        w = rng.integers(-qmax[:, None], qmax[:, None] + 1, (n_out, n_in))
        w[w_bits == 1] = np.where(w[w_bits == 1] >= 0, 1, -1)
        bias = rng.integers(-50, 50, n_out) * (w_bits > 0)
        layers.append(QuantizedLayer(
            weights=w.astype(np.int16), weight_bits=w_bits, bias=bias,
            weight_step=rng.uniform(1e-3, 0.1, n_out),
            activation_step=rng.uniform(0.01, 1.0, n_out) if hidden else None,
            activation_bits=rng.integers(1, 17, n_out) if hidden else None))
    return layers


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31), depth=st.integers(1, 3), input_bits=st.integers(2, 16),
       task=st.sampled_from(["regression", "binary", "multiclass", "multilabel"]))
def test_hypothesis_trained_like_graphs_with_pruned_neurons(seed, depth, input_bits, task):
    # Built as training hands them over: real steps requantized by the runtime,
    # 0-bit neurons pruned away.
    rng = np.random.default_rng(seed)
    n_out = 1 if task in ("regression", "binary") else int(rng.integers(2, 5))
    sizes = [int(rng.integers(1, 9))] + [int(rng.integers(1, 12)) for _ in range(depth)] + [n_out]
    layers = _quantized_layers(rng, sizes, bits=[0, 0, 1, 2, 3, 4, 8, 16])
    graph = IntegerMLP.from_layers(input_scale=rng.uniform(0.5, 50, sizes[0]),
                                   input_offset=rng.normal(0, 5, sizes[0]),
                                   input_bits=input_bits, layers=layers, task=task)
    assert_onnx_predicts(graph, extreme_rows(rng, sizes[0], 60))


def test_pruned_neurons_and_every_opset():
    rng = np.random.default_rng(3)
    w = rng.integers(-1, 2, (6, 4))
    w[w == 0] = 1
    hidden = QuantizedLayer(weights=w.astype(np.int8), weight_bits=np.array([2, 0, 2, 0, 2, 1]),
                            weight_step=np.full(6, 0.1), bias=rng.integers(-9, 9, 6),
                            activation_step=np.full(6, 0.2), activation_bits=np.full(6, 3))
    hidden.weights[[1, 3]] = 0
    hidden.bias[[1, 3]] = 0
    out = QuantizedLayer(weights=rng.integers(-3, 4, (3, 6)).astype(np.int8),
                         weight_bits=np.full(3, 3), weight_step=np.array([0.05, 0.07, 0.1]),
                         bias=np.zeros(3, np.int64))
    graph = IntegerMLP.from_layers(input_scale=np.full(4, 10.0), input_offset=np.zeros(4),
                                   input_bits=8, layers=[hidden, out], task="multiclass")
    assert graph.layer_sizes == [4, 4, 3]  # the two 0-bit neurons are gone
    X = extreme_rows(rng, 4, 200)
    for opset in (13, 17, 18, 21):
        assert_onnx_predicts(graph, X, opset=opset)
    with pytest.raises(ValueError, match="opset"):
        graph.to_onnx(opset=12)


@pytest.fixture(scope="module")
def shared_models(california, covertype, yt_qoe, ucc_5g):
    """A small model of each shared dataset and its test rows (after preprocessing)."""
    models = {}
    for name, data, est in [
            ("california", california, NMPQATRegressor(bit_budget=2)),
            ("covertype", covertype, NMPQATClassifier()),
            ("yt_qoe", yt_qoe, NMPQATClassifier(activation_bit_budget=6)),
            ("ucc_5g", ucc_5g, NMPQATRegressor(size_budget=1024))]:
        idx = subsample(len(data.target), 3000)
        X, y = data.data.iloc[idx], np.asarray(data.target)[idx]
        X_tr, X_te, y_tr, _ = train_test_split(X, y, test_size=0.3, random_state=0)
        prep = tabular_preprocessor().fit(X_tr)
        est.set_params(hidden_layer_sizes=(32,), max_iter=8, random_state=0)
        models[name] = est.fit(prep.transform(X_tr), y_tr), prep.transform(X_te)
    return models


@pytest.mark.parametrize("name", ["california", "covertype", "yt_qoe", "ucc_5g"])
def test_onnxruntime_equals_predict_on_every_shared_dataset(shared_models, name, tmp_path):
    est, X = shared_models[name]
    graph = est.to_integer()
    assert_onnx_predicts(graph, X, expected=est.predict(X))
    path = tmp_path / "model.onnx"
    graph.to_onnx(path)
    assert path.stat().st_size > graph.theoretical_size_bytes()  # int8 weights, float64 steps


def test_the_model_runs_in_a_process_without_torch_or_skqat(shared_models, tmp_path):
    require("onnxruntime")
    est, X = shared_models["covertype"]
    graph = est.to_integer()
    graph.to_onnx(tmp_path / "model.onnx")
    np.save(tmp_path / "X.npy", X)
    script = textwrap.dedent(f"""
        import sys
        for name in ("torch", "skqat", "sklearn", "scipy", "pandas"):
            sys.modules[name] = None  # importing any of them now fails
        import numpy as np, onnxruntime as ort
        session = ort.InferenceSession({str(tmp_path / "model.onnx")!r},
                                       providers=["CPUExecutionProvider"])
        label, proba = session.run(None, {{"X": np.load({str(tmp_path / "X.npy")!r})}})
        np.save({str(tmp_path / "label.npy")!r}, label)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(tmp_path / "label.npy"), est.predict(X))


def test_export_errors_say_what_to_do(monkeypatch):
    graph = random_graph(np.random.default_rng(0), [3, 2, 1])
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"skqat\[onnx\]"):
        graph.to_onnx()


def test_onnx_probabilities_are_within_the_stated_ulps():
    # The bound PROBA_ATOL states, on logits from -40 to 40 (softmax and logistic).
    rng = np.random.default_rng(1)
    for task, n_out in (("binary", 1), ("multiclass", 4), ("multilabel", 3)):
        graph = random_graph(rng, [5, 8, n_out], task=task, float_path=True)
        graph.output_scale[:] = 40.0 / np.abs(graph.decision_function(
            rng.normal(0, 3, (500, 5)))).max()
        X = rng.normal(0, 3, (5000, 5))
        out = onnx_outputs(graph, X)
        diff = np.abs(out["probabilities"] - graph.predict_proba(X))
        assert diff.max() <= PROBA_ATOL


# ------------------------------------------------------------------ skl2onnx
def _skl2onnx_run(pipe, X, rows, options=None):
    """onnxruntime's outputs for ``rows`` of skl2onnx's model of ``pipe``."""
    skl2onnx, ort = require("skl2onnx"), require("onnxruntime")
    register_converters()
    onx = skl2onnx.to_onnx(pipe, X[:1], options=options, target_opset=DEFAULT_OPSET)
    require("onnx").checker.check_model(onx, full_check=True)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, frame_inputs(onx, rows))


@pytest.fixture(scope="module")
def housing_frames(california):
    X, y = california.data, california.target
    idx = subsample(len(X), 5000)
    numeric = [c for c in X.columns if c != "ocean_proximity"]
    # skl2onnx's imputer runs on float32 columns only.
    X = X.iloc[idx].astype({c: np.float32 for c in numeric})
    return X.iloc[:3000], y.iloc[idx[:3000]], X.iloc[3000:], numeric


def _housing_pipeline(est, numeric):
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    return make_pipeline(make_column_transformer(
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        (OneHotEncoder(handle_unknown="ignore"), ["ocean_proximity"])), est)


@pytest.mark.parametrize("cv", [False, True])
def test_skl2onnx_converts_a_column_transformer_pipeline(housing_frames, cv):
    X, y, X_test, numeric = housing_frames
    labels = np.where(y > y.median(), "high", "low")
    est = (NMPQATClassifierCV(bit_budgets=[1.5, 2], cv=2) if cv else NMPQATClassifier())
    est.set_params(hidden_layer_sizes=(24,), max_iter=6, random_state=0)
    pipe = _housing_pipeline(est, numeric).fit(X, labels)
    expected = pipe.predict(X_test)
    label, proba = _skl2onnx_run(pipe, X, X_test, options={id(est): {"zipmap": False}})
    # skl2onnx's preprocessing is float32: a row whose input code sits at a
    # rounding edge may differ (docs/onnx.md gives the measured agreement).
    assert np.mean(label == expected) >= 0.99
    assert proba.dtype == np.float32 and proba.shape == (len(X_test), 2)
    assert np.array_equal(label, est.classes_[proba.argmax(1)])
    # zipmap: a dict per row; nocl: class indices.
    label_z, maps = _skl2onnx_run(pipe, X, X_test[:5], options={id(est): {"zipmap": True}})
    assert list(maps[0]) == ["high", "low"] and np.array_equal(label_z, label[:5])
    index, _ = _skl2onnx_run(pipe, X, X_test[:50],
                             options={id(est): {"nocl": True, "zipmap": False}})
    assert np.array_equal(est.classes_[index], label[:50])


@pytest.mark.parametrize("cv", [False, True])
def test_skl2onnx_regressor_outputs_float32_values(housing_frames, cv):
    X, y, X_test, numeric = housing_frames
    est = NMPQATRegressorCV(bit_budgets=[1.5, 2], cv=2) if cv else NMPQATRegressor()
    est.set_params(hidden_layer_sizes=(24,), max_iter=6, random_state=0)
    pipe = _housing_pipeline(est, numeric).fit(X, y)
    value, = _skl2onnx_run(pipe, X, X_test)
    assert value.dtype == np.float32 and value.shape == (len(X_test), 1)
    expected = pipe.predict(X_test)
    assert np.mean(value[:, 0] == expected.astype(np.float32)) >= 0.95


def test_pipeline_export_errors_say_what_to_do():
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from skqat import to_integer

    def fitted(frame):
        pipe = make_pipeline(make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["band"]), remainder="passthrough"),
            NMPQATRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0))
        return to_integer(pipe.fit(frame, np.arange(len(frame), dtype=float)))

    frame = pd.DataFrame({"band": ["n1", "n78"] * 20, "label": np.linspace(0, 1, 40)})
    with pytest.raises(ValueError, match="names of the model's outputs"):
        fitted(frame).to_onnx()
    graph = fitted(frame.rename(columns={"label": "load"}))
    with pytest.raises(ValueError, match="opset 19"):
        graph.to_onnx(opset=18)
    assert_onnx_predicts(graph, frame.rename(columns={"label": "load"}))


def _page_block(page, after):
    """The first ```python block of ``docs/<page>`` after the text ``after``."""
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / page).read_text()
    return text[text.index(after):].split("```python\n", 1)[1].split("```", 1)[0]


def test_the_serving_snippet_of_the_onnx_page_runs_and_agrees(tmp_path):
    # Run as printed, on raw rows with missing numbers and missing text: the
    # labels are pipeline.predict's (a missing text converted to "nan" was not).
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from skqat.onnx import to_onnx
    ort = require("onnxruntime")
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"load": rng.normal(50, 10, n),
                       "band": rng.choice(["n78", "n1", "n3"], n).astype(object)})
    df.loc[rng.random(n) < 0.1, "load"] = np.nan
    df.loc[rng.random(n) < 0.2, "band"] = np.nan  # a band the probe could not read
    y = (df.band.isna() | (df.band == "n78")).to_numpy().astype(int)
    pipeline = make_pipeline(
        ColumnTransformer([("num", SimpleImputer(strategy="median"), ["load"]),
                           ("cat", OneHotEncoder(handle_unknown="ignore"), ["band"])]),
        NMPQATClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)).fit(df, y)
    to_onnx(pipeline, tmp_path / "model.onnx")
    session = ort.InferenceSession(str(tmp_path / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    namespace = {"session": session, "df": df}
    exec(_page_block("onnx.md", "A\nserving process needs only onnxruntime"), namespace)
    np.testing.assert_array_equal(namespace["label"], pipeline.predict(df))
    # The mistake the page warns of is not harmless on these rows.
    wrong = {i.name: df[[i.name]].to_numpy().astype(
        str if i.type == "tensor(string)" else float) for i in session.get_inputs()}
    assert (session.run(None, wrong)[0] != pipeline.predict(df)).any()


def test_the_onnx_page_figures_are_those_of_the_committed_run():
    from pathlib import Path
    import pandas as pd
    root = Path(__file__).resolve().parents[1]
    runs = pd.read_csv(root / "benchmarks/results/onnx_serving.csv")
    page = " ".join((root / "docs/onnx.md").read_text().split())
    integer = runs.onnxruntime_ms / runs.integer_mlp_ms
    mlp = runs.onnxruntime_ms / runs.sklearn_mlp_ms
    size = runs.onnx_bytes / runs.model_file_bytes
    assert (f"onnxruntime took {integer.min():.2f} to {integer.max():.2f} times as long as "
            f"`IntegerMLP.predict`") in page
    assert f"and {mlp.min():.2f} to {mlp.max():.2f} times as long as scikit-learn's MLP" in page
    assert f"the ONNX file is larger: {size.min():.1f} to {size.max():.1f} times" in page
