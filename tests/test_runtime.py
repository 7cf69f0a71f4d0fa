"""The integer graph against an independent integer reference, the model file, the C export.

Graphs here are random, built directly from integer parts: every candidate
bit-width from 1 to 16, random requantization factors, inputs far outside
any training range, and the widest fan-in the runtime supports.
"""

import math
import pickle
import re
import shutil
import subprocess
import warnings
import zlib

import numpy as np
import scipy.sparse as sp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skqat.runtime import (IntegerLayer, IntegerMLP, ModelFileError, QuantizedLayer, load,
                           load_bytes)
from skqat.runtime import _fixed_point as fp
from skqat.runtime._layer import MAX_FAN_IN, saturated_bias
from skqat.runtime._rows import fits_bfloat16, round_to_bfloat16

ALL_BITS = np.arange(1, 17)


# ---------------------------------------------------------------- reference
def reference_outputs(graph, X):
    """A deliberately plain integer implementation: Python ints, explicit loops."""
    qmax = np.float32(2 ** (graph.input_bits - 1) - 1)
    outputs = []
    with np.errstate(over="ignore", invalid="ignore"):
        X = np.asarray(X, dtype=np.float64).astype(np.float32)
    for x in X:
        codes = []
        for xi, a, c in zip(x, graph.input_scale, graph.input_offset):
            with np.errstate(over="ignore", invalid="ignore"):  # float32 scalars, one rounding each
                v = np.float32(xi) * np.float32(a)
                v = np.float32(v + np.float32(c))
            if v != v:
                v = np.float32(0.0)
            v = min(max(v, -qmax), qmax)
            codes.append(int(np.floor(np.float32(v + np.float32(0.5)))))
        for layer in graph.layers:
            rows = layer.weights.astype(np.int64)
            nxt = []
            for j in range(rows.shape[0]):
                acc = int(layer.bias[j]) + int(np.dot(rows[j], np.asarray(codes, np.int64)))
                m, k = int(layer.multiplier[j]), int(layer.shift[j])
                r = acc * m if k == 0 else (acc * m + (1 << (k - 1))) // (1 << k)
                if layer.activation_bits is not None:
                    r = min(max(r, 0), (1 << int(layer.activation_bits[j])) - 1)
                nxt.append(r)
            codes = nxt
        outputs.append(codes)
    return np.array(outputs, dtype=np.int64)


def random_graph(rng, sizes, input_bits=8, task="regression", classes=None, bits=ALL_BITS,
                 float_path=False, product_bits=None):
    """A valid graph with random per-neuron bit-widths drawn from ``bits``.

    ``float_path`` picks multipliers narrow enough for the runtime's float64
    requantization; otherwise they take all the int64 room (31 bits).
    ``product_bits`` overrides both: multipliers keep ``bound * M`` below
    ``2**product_bits`` for the layer's widest bound (24: float32's).
    """
    product_bits = product_bits or (53 if float_path else 62)
    layers, max_code = [], 2 ** (input_bits - 1) - 1
    typical_code = max_code / 2
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        w_bits = rng.choice(bits, n_out)
        qmax = np.where(w_bits == 1, 1, 2 ** (w_bits - 1) - 1)
        w = rng.integers(-qmax[:, None], qmax[:, None] + 1, size=(n_out, n_in))
        w[w_bits == 1] = np.where(w[w_bits == 1] >= 0, 1, -1)
        act = rng.choice(bits, n_out) if hidden else np.full(n_out, 16)
        typical = max(1, int(np.sqrt(n_in) * np.median(qmax) * typical_code))
        half = min(typical // 4, 2**31 - 1)
        bias = rng.integers(-half, half + 1, n_out)
        bound = n_in * qmax.max() * max_code + typical
        m_bits = max(1, min(31, product_bits - 1 - int(bound).bit_length()))
        mult = rng.integers(2 ** (m_bits - 1), 2**m_bits, n_out)
        # Shifts that bring a typical accumulator to the top of the next codes'
        # range, give or take a few bits: codes at zero, mid-range and saturated.
        centre = typical.bit_length() + m_bits - act
        shift = np.clip(centre + rng.integers(-3, 4, n_out), 0, 61)
        layers.append(IntegerLayer(w.astype(np.int16), w_bits, bias, mult, shift,
                                   act if hidden else None))
        if hidden:
            max_code = 2 ** int(act.max()) - 1
            typical_code = 2.0 ** np.median(act) / 4
    n_features = sizes[0]
    return IntegerMLP(rng.normal(0, 20, n_features), rng.normal(0, 5, n_features), input_bits,
                      layers, rng.uniform(0.01, 1, sizes[-1]), rng.normal(0, 1, sizes[-1]), task,
                      classes)


def widen_some_multipliers(rng, graph):
    """``graph`` with some neurons' multiplier and shift ``e`` bits wider (the same factor).

    A few neurons then leave float32's room, or float64's, for the
    runtime's other paths, within the int64 bound.
    """
    layers = []
    for layer, bounds in zip(graph.layers, graph.accumulator_bounds()):
        mult, shift = layer.multiplier.astype(np.int64), layer.shift.astype(np.int64)
        for j, bound in enumerate(bounds):
            room = min(30 - int(mult[j]).bit_length(), fp.MAX_SHIFT - int(shift[j]),
                       fp.PRODUCT_BITS - 2 - int(bound).bit_length() - int(mult[j]).bit_length())
            if room > 0 and rng.random() < 0.3:
                e = int(rng.integers(1, room + 1))
                mult[j], shift[j] = mult[j] << e, shift[j] + e
        layers.append(IntegerLayer(layer.weights, layer.weight_bits, layer.bias, mult, shift,
                                   layer.activation_bits))
    return IntegerMLP(graph.input_scale, graph.input_offset, graph.input_bits, layers,
                      graph.output_scale, graph.output_offset, graph.task, graph.classes)


def extreme_rows(rng, n_features, n_rows, non_finite=False):
    """Rows that saturate the input step; ``non_finite`` adds rows the model refuses."""
    X = rng.normal(0, 3, (n_rows, n_features))
    X[0] = 1e300  # saturates high (infinite in float32: the C refuses it)
    X[1] = -1e300  # saturates low
    X[2] = 3e38
    X[4:8] *= 1e6
    if non_finite:
        X[2] = np.inf
        X[3, ::2] = np.nan
    return X


@pytest.mark.parametrize("float_path", [False, True])
@pytest.mark.parametrize("seed", range(6))
def test_runtime_matches_plain_integer_reference(seed, float_path):
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(1, 12))] + list(rng.integers(1, 24, int(rng.integers(1, 4)))) + [3]
    graph = random_graph(rng, sizes, input_bits=int(rng.integers(2, 17)), float_path=float_path)
    if float_path:  # float64 folds every neuron: only a float32 output layer leaves some
        assert all(layer.requantization is None or layer.weights.dtype == np.float32
                   for layer in graph._folded.layers)
    X = extreme_rows(rng, sizes[0], 40)
    expected = reference_outputs(graph, X)
    np.testing.assert_array_equal(graph.decision_function(X), expected)
    # The graph is not degenerate: outputs vary from row to row.
    assert len(np.unique(expected, axis=0)) > 1


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), float_path=st.booleans())
def test_the_folded_layers_compute_the_plain_integers(seed, float_path):
    # One product per layer (scale and constant folded in, neurons grouped by
    # activation bits, float or int64 requantization; some neurons' wider
    # multipliers mix both in a layer) gives the integers of the plain
    # implementation, on any graph.
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(1, 12))] + list(rng.integers(1, 24, int(rng.integers(1, 4)))) + [3]
    graph = widen_some_multipliers(rng, random_graph(
        rng, sizes, input_bits=int(rng.integers(2, 17)), float_path=float_path))
    X = extreme_rows(rng, sizes[0], 12)
    np.testing.assert_array_equal(graph.decision_function(X), reference_outputs(graph, X))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_float32_products_compute_the_plain_integers(seed):
    # Narrow weights and codes keep the accumulators below 2**24 (float32
    # products); multipliers near float32's room fold some neurons and leave
    # others to int64, in hidden and output layers alike.
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(1, 12))] + list(rng.integers(1, 24, int(rng.integers(1, 4)))) + [3]
    graph = widen_some_multipliers(rng, random_graph(
        rng, sizes, input_bits=int(rng.integers(2, 9)), bits=np.arange(1, 9),
        product_bits=int(rng.integers(20, 27))))
    X = extreme_rows(rng, sizes[0], 12)
    np.testing.assert_array_equal(graph.decision_function(X), reference_outputs(graph, X))


def test_each_layer_runs_in_float32_where_its_integers_fit():
    rng = np.random.default_rng(4)
    graph = random_graph(rng, [10, 40, 3], input_bits=8, bits=np.arange(1, 5), product_bits=24)
    first = graph.layers[0]
    # Five neurons whose multiplier (10 bits more, the shift too) leaves float32's room.
    wider = np.arange(40) % 8 == 3
    hidden = IntegerLayer(first.weights, first.weight_bits, first.bias,
                          np.where(wider, first.multiplier * 1024, first.multiplier),
                          np.where(wider, first.shift + 10, first.shift), first.activation_bits)
    outputs = {
        # Within float32's reach; one multiplier beyond its room: int64 for that one.
        "float32": IntegerLayer(rng.integers(-7, 8, (3, 40)), [4] * 3, [5, -3, 0],
                                [3, 2**20, 5], [0, 16, 1]),
        # Beyond float32's reach (the biases): float64, where all three fold.
        "float64": IntegerLayer(rng.integers(-2**15 + 1, 2**15, (3, 40)), [16] * 3,
                                [2**25, 5, -2**26], [1] * 3, [0] * 3),
    }
    X = extreme_rows(rng, 10, 40)
    for precision, output in outputs.items():
        graph = IntegerMLP(graph.input_scale, graph.input_offset, 8, [hidden, output],
                           [1.0] * 3, [0.0] * 3, "regression")
        top, bottom = graph._folded.layers
        # The hidden layer's other neurons fold into a float32 product; those
        # five into a float64 one beside it.
        assert graph._plans[0].reach.max() < 2**24 and top.weights.dtype == np.float32
        assert len(top.side.weights) == 5 and top.requantization is None
        assert len(top.weights) == 40 - 5 + 1  # and the ones row
        assert bottom.weights.dtype == np.dtype(precision)
        int64_rows = [] if bottom.requantization is None else bottom.requantization.rows
        assert list(int64_rows) == ([1] if precision == "float32" else [])
        expected = reference_outputs(graph, X)
        np.testing.assert_array_equal(graph.decision_function(X), expected)
        assert len(np.unique(expected, axis=0)) > 1


def test_forward_codes_refuses_codes_beyond_the_input_bits(classifier_graph):
    X = np.random.default_rng(0).normal(0, 3, (20, classifier_graph.n_features))
    codes = classifier_graph.quantize_input(X)
    np.testing.assert_array_equal(classifier_graph.forward_codes(codes),
                                  classifier_graph.decision_function(X))
    top = 2 ** (classifier_graph.input_bits - 1) - 1
    codes[3, 1] = -top - 1
    with pytest.raises(ValueError, match=rf"within \[-{top}, {top}\]"):
        classifier_graph.forward_codes(codes)


def test_a_pickled_graph_rebuilds_its_plans(classifier_graph):
    # The plans derive from the layers: not stored, rebuilt on loading.
    state = classifier_graph.__getstate__()
    assert "_plans" not in state and "_folded" not in state
    copy = pickle.loads(pickle.dumps(classifier_graph))
    X = np.random.default_rng(0).normal(0, 3, (50, classifier_graph.n_features))
    np.testing.assert_array_equal(copy.decision_function(X),
                                  classifier_graph.decision_function(X))
    np.testing.assert_array_equal(copy.predict(X), classifier_graph.predict(X))


def test_runtime_matches_reference_at_the_widest_fan_in():
    rng = np.random.default_rng(0)
    # The widest weights, activations and inputs: the largest accumulator bound.
    graph = random_graph(rng, [MAX_FAN_IN, 3, 2], input_bits=16, bits=[16])
    assert not graph._plans[0].in_float  # the runtime's int64 requantization
    X = extreme_rows(rng, MAX_FAN_IN, 8)
    np.testing.assert_array_equal(graph.decision_function(X), reference_outputs(graph, X))


def test_accumulator_bound_is_checked_at_build():
    layer = IntegerLayer([[32767] * 4], [16], [0], [2**31 - 1], [0])
    with pytest.raises(ValueError, match="overflow"):
        IntegerMLP(np.ones(4), np.zeros(4), 16, [layer], [1.0], [0.0], "regression")
    with pytest.raises(ValueError, match="fan-in"):
        IntegerMLP(np.ones(MAX_FAN_IN + 1), np.zeros(MAX_FAN_IN + 1), 8,
                   [IntegerLayer(np.ones((1, MAX_FAN_IN + 1), np.int8), [2], [0], [1], [0])],
                   [1.0], [0.0], "regression")


def test_layer_rejects_codes_beyond_their_bit_width():
    with pytest.raises(ValueError, match="bit-width"):
        IntegerLayer([[2, 0]], [2], [0], [1], [0])
    with pytest.raises(ValueError, match="bit-width"):
        IntegerLayer([[1, 0]], [1], [0], [1], [0])


# --------------------------------------------------------------- model file
@pytest.fixture(scope="module")
def classifier_graph():
    rng = np.random.default_rng(1)
    return random_graph(rng, [7, 9, 5, 4], task="multiclass",
                        classes=np.array(["low", "médium", "high", "very high"]))


def test_model_file_round_trip(tmp_path, classifier_graph):
    path = tmp_path / "model.skqat"
    n = classifier_graph.save(path)
    assert path.stat().st_size == n
    loaded = load(path)
    assert loaded == classifier_graph
    X = extreme_rows(np.random.default_rng(0), 7, 30)
    np.testing.assert_array_equal(loaded.predict(X), classifier_graph.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), classifier_graph.predict_proba(X))


@pytest.mark.parametrize("classes", [None, np.array([3, 7]), np.array([0.5, 2.5]),
                                     np.array([False, True])])
def test_model_file_class_label_kinds(classes):
    rng = np.random.default_rng(2)
    graph = random_graph(rng, [3, 4, 1], task="binary", classes=classes)
    assert load_bytes(graph.to_bytes()) == graph


def _with_version(data, version, flags=None):
    """Model-file bytes with another version byte (and flags byte), checksum redone."""
    body = bytearray(data[:-4])
    body[8] = version
    if flags is not None:
        body[13] = flags
    return bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "little")


def test_bfloat16_input_steps_take_two_bytes_each_and_version_2_files_still_load():
    rng = np.random.default_rng(5)
    graph = random_graph(rng, [6, 4, 2], task="multiclass")
    assert not fits_bfloat16(graph.input_scale)  # random float32 steps: 4 bytes each
    half = IntegerMLP(round_to_bfloat16(graph.input_scale), round_to_bfloat16(graph.input_offset),
                      graph.input_bits, graph.layers, graph.output_scale, graph.output_offset,
                      graph.task)
    assert len(half.to_bytes()) == len(graph.to_bytes()) - 4 * 6
    assert half.theoretical_size_bytes() == graph.theoretical_size_bytes() - 4 * 6
    assert load_bytes(half.to_bytes()) == half
    X = extreme_rows(rng, 6, 40)
    np.testing.assert_array_equal(load_bytes(half.to_bytes()).predict(X), half.predict(X))
    # Version 2 was version 3 without the bfloat16 flag: its files still load...
    old = graph.to_bytes()
    assert load_bytes(_with_version(old, 2)) == graph
    # ...and a version 2 file cannot claim the flag it did not have.
    with pytest.raises(ModelFileError, match="header"):
        load_bytes(_with_version(old, 2, flags=old[13] | 16))


def test_round_to_bfloat16_is_the_nearest_bfloat16():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(0, 1e3, 500), rng.normal(0, 1e-30, 100), [0.0, -0.0, 1.5]])
    r = round_to_bfloat16(v)
    assert fits_bfloat16(r)
    # The two bfloat16 neighbours of each float32: truncation and the next one up.
    f = v.astype(np.float32)
    down = (f.view(np.uint32) & 0xFFFF0000).view(np.float32).astype(np.float64)
    up = ((f.view(np.uint32) & 0xFFFF0000) + 0x10000).view(np.float32).astype(np.float64)
    err = np.abs(r.astype(np.float64) - f)
    assert np.all(err <= np.minimum(np.abs(f - down), np.abs(up - f)))
    assert np.all(np.abs(r - f) <= np.abs(f) * 2.0**-8)
    assert np.isfinite(round_to_bfloat16([3.4e38])).all()


def test_model_file_errors_are_clear(tmp_path, classifier_graph):
    data = classifier_graph.to_bytes()
    with pytest.raises(ModelFileError, match="magic"):
        load_bytes(b"PK\x03\x04" + data[4:])
    for version, message in [(5, "format version 5"), (1, "version 1 had a float64 input")]:
        wrong_version = bytearray(data)
        wrong_version[8] = version
        with pytest.raises(ModelFileError, match=message):
            load_bytes(bytes(wrong_version))
    with pytest.raises(ModelFileError, match="truncated"):
        load_bytes(data[:-10])
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x10
    with pytest.raises(ModelFileError, match="checksum"):
        load_bytes(bytes(flipped))
    # A forged checksum does not get a broken graph through either.
    forged = bytearray(data[:-4])
    forged[20] = 0x7F  # the number of features
    forged = bytes(forged) + zlib.crc32(bytes(forged)).to_bytes(4, "little")
    with pytest.raises(ModelFileError):
        load_bytes(forged)
    assert issubclass(ModelFileError, ValueError)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _load_or_clear_error(data, original):
    try:
        loaded = load_bytes(data)
    except ModelFileError:
        return
    assert loaded == original


@FUZZ
@given(data=st.binary(max_size=2048))
def test_fuzz_random_bytes(data, classifier_graph):
    _load_or_clear_error(data, classifier_graph)


@FUZZ
@given(cut=st.integers(min_value=0))
def test_fuzz_truncations(cut, classifier_graph):
    data = classifier_graph.to_bytes()
    _load_or_clear_error(data[:cut % len(data)], classifier_graph)


@FUZZ
@given(flips=st.lists(st.integers(min_value=0), min_size=1, max_size=4))
def test_fuzz_bit_flips(flips, classifier_graph):
    data = bytearray(classifier_graph.to_bytes())
    for f in flips:
        data[(f // 8) % len(data)] ^= 1 << (f % 8)
    _load_or_clear_error(bytes(data), classifier_graph)


@FUZZ
@given(offset=st.integers(min_value=0), junk=st.binary(min_size=1, max_size=64))
def test_fuzz_overwrites_with_a_valid_checksum(offset, junk, classifier_graph):
    # Past the checksum, the parser itself must refuse what does not add up; a
    # change that still describes a valid graph (a scale, say) loads as that graph.
    body = bytearray(classifier_graph.to_bytes()[:-4])
    start = offset % len(body)
    body[start:start + len(junk)] = junk[:len(body) - start]
    body = bytes(body)
    try:
        loaded = load_bytes(body + zlib.crc32(body).to_bytes(4, "little"))
    except ModelFileError:
        return
    assert isinstance(loaded, IntegerMLP)
    assert loaded.predict(np.zeros((1, loaded.n_features))).shape[0] == 1


# ----------------------------------------------------------------- C export
def compile_c(graph, directory, rows, prefix="skqat_model"):
    """Export with ``rows`` as test rows, compile natively, run: the C's outputs must agree."""
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed for the C export tests")
    header, source, test = graph.export_c(directory, prefix=prefix, test_rows=rows)
    exe = directory / "model_test"
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wdouble-promotion",
             "-Wconversion", "-O2"]
    subprocess.run(["gcc", *flags, str(source), str(test), "-o", str(exe)], check=True)
    done = subprocess.run([str(exe)], capture_output=True, text=True)
    n = len(rows)
    assert done.stdout.strip() == f"{n} of {n} rows agree", done.stdout
    assert done.returncode == 0
    return source


@pytest.mark.parametrize("seed", range(3))
def test_c_export_matches_runtime_on_random_graphs(tmp_path, seed):
    rng = np.random.default_rng(seed)
    graph = random_graph(rng, [6, 17, 11, 3], input_bits=int(rng.integers(2, 17)))
    compile_c(graph, tmp_path, extreme_rows(rng, 6, 200, non_finite=True))


def test_graph_refuses_nan_and_infinity_as_predict_does(tmp_path):
    # numpy raises, the generated C returns <PREFIX>_REFUSED, and export_c's
    # test rows expect exactly the non-finite rows (in float32) to be refused.
    rng = np.random.default_rng(0)
    graph = random_graph(rng, [5, 9, 2], input_bits=8)
    X = extreme_rows(rng, 5, 30, non_finite=True)
    for bad in (X[2:3], X[3:4], sp.csr_matrix(X[3:4])):
        with pytest.raises(ValueError, match="NaN or infinity.*SimpleImputer"):
            graph.predict(bad)
    graph.predict(X[4:])  # finite rows still predict
    source = compile_c(graph, tmp_path, X)
    assert "refused_number(x[i], 1u)" in source.read_text()
    status = (tmp_path / "skqat_model_test.c").read_text().split("expected_status")[1]
    refused = [int(v) for v in re.findall(r"\{ (\d) \}", status.split("};")[0])]
    with np.errstate(over="ignore"):  # beyond float32: infinite, as the device reads it
        expected = ~np.isfinite(X.astype(np.float32)).all(axis=1)
    assert refused == expected.astype(int).tolist() and sum(refused) == 4


def test_c_test_program_fails_when_the_c_disagrees(tmp_path, classifier_graph):
    rows = extreme_rows(np.random.default_rng(3), 7, 24)[4:]  # finite in float32
    _, _, test = classifier_graph.export_c(tmp_path, prefix="net", test_rows=rows)
    text = test.read_text()
    head, table = text.split("expected[", 1)
    first = re.search(r"\{ (INT64_C\()?(-?\d+)", table)  # row 0, output 0: off by one
    table = table[:first.start(2)] + str(int(first[2]) + 1) + table[first.end(2):]
    test.write_text(head + "expected[" + table)
    exe = tmp_path / "net_test"
    subprocess.run(["gcc", "-std=c99", str(tmp_path / "net.c"), str(test), "-o", str(exe)],
                   check=True)
    done = subprocess.run([str(exe)], capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout.strip() == "19 of 20 rows agree"


def test_c_export_core_is_integer_only(tmp_path, classifier_graph):
    _, source = classifier_graph.export_c(tmp_path, prefix="net")
    text = source.read_text()
    core = text[text.index("static uint32_t take("):text.index("int net_predict_codes(")]
    core += text[text.index("int net_predict_codes("):text.index("\n}\n", text.index(
        "int net_predict_codes("))]
    assert "float" not in core and "double" not in text
    # One loop over the layers' tables: no code per layer.
    assert "layer_1" not in text and text.count("for (l = 0u;") == 1
    with pytest.raises(ValueError, match="C identifier"):
        classifier_graph.export_c(tmp_path, prefix="not-an-identifier")


def _layers_with_pruned_neurons(rng, sizes, pruned_bits):
    """Random trained layers whose hidden neurons of ``pruned`` bits are zero rows, zero bias.

    ``pruned_bits`` is 0 (the pruned neurons) or 2 (the same neurons kept as
    2-bit rows of zero codes: the same network, unpruned).
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        hidden = i < len(sizes) - 2
        bits = rng.choice([1, 2, 4, 8], n_out)
        qmax = np.where(bits == 1, 1, 2 ** (bits - 1) - 1)
        w = rng.integers(-qmax[:, None], qmax[:, None] + 1, size=(n_out, n_in))
        w[bits == 1] = np.where(w[bits == 1] >= 0, 1, -1)
        bias = rng.integers(-50, 51, n_out)
        kw = {}
        if hidden:
            gone = rng.random(n_out) < 0.4 if i else np.arange(n_out) > 0  # layer 0: all but one
            bits[gone], w[gone], bias[gone] = pruned_bits, 0, 0
            kw = dict(activation_step=np.full(n_out, 0.1), activation_bits=rng.choice([4, 8], n_out))
        layers.append(QuantizedLayer(weights=w.astype(np.int8), weight_bits=bits, bias=bias,
                                     weight_step=rng.uniform(0.01, 0.05, n_out), **kw))
    return layers


@pytest.mark.parametrize("seed", range(3))
def test_zero_bit_neurons_are_pruned_and_compute_the_same(tmp_path, seed):
    sizes = [5, 7, 12, 9, 2]
    graphs = [IntegerMLP.from_layers(input_scale=np.full(5, 20.0), input_offset=np.zeros(5),
                                     input_bits=8, task="regression",
                                     layers=_layers_with_pruned_neurons(
                                         np.random.default_rng(seed), sizes, bits))
              for bits in (0, 2)]
    pruned, kept = graphs
    assert pruned.layer_sizes[:2] == [5, 1] and kept.layer_sizes == sizes
    assert all(a < b for a, b in zip(pruned.layer_sizes[2:-1], sizes[2:-1]))
    assert pruned.theoretical_size_bytes() < kept.theoretical_size_bytes()
    X = extreme_rows(np.random.default_rng(seed), 5, 200)
    np.testing.assert_array_equal(pruned.decision_function(X), kept.decision_function(X))
    pruned.save(tmp_path / "m.skqat")
    np.testing.assert_array_equal(load(tmp_path / "m.skqat").decision_function(X),
                                  kept.decision_function(X))
    compile_c(pruned, tmp_path, X)  # the C of the pruned graph computes what it computes


def test_a_hidden_layer_pruned_entirely_becomes_one_zero_neuron():
    rng = np.random.default_rng(0)
    layers = _layers_with_pruned_neurons(rng, [4, 3, 2], 0)
    layers[0] = QuantizedLayer(weights=np.zeros((3, 4), np.int8), weight_bits=np.zeros(3, int),
                               bias=np.zeros(3, int), weight_step=np.ones(3),
                               activation_step=np.ones(3), activation_bits=np.full(3, 4))
    graph = IntegerMLP.from_layers(input_scale=np.ones(4), input_offset=np.zeros(4),
                                   input_bits=8, task="regression", layers=layers)
    assert graph.layer_sizes == [4, 1, 2]
    X = rng.normal(size=(20, 4))
    out = graph.decision_function(X)
    assert (out == out[0]).all()  # the inputs no longer reach the outputs


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(0, 20), act=st.integers(1, 8))
def test_saturated_biases_never_change_an_output(seed, k, act):
    # Dead and saturated hidden neurons get smaller biases; every code stays the same,
    # for inputs at the extremes of the code range as well as random ones.
    rng = np.random.default_rng(seed)
    n_out, n_in, max_code = 12, 5, 15
    w = rng.integers(-3, 4, (n_out, n_in))
    reach = np.abs(w).sum(1) * max_code
    bias = rng.choice([-1, 1], n_out) * (reach + rng.integers(-3, 3000, n_out))
    mult = rng.integers(0, 2**10, n_out)
    shift = np.full(n_out, k)
    acts = np.full(n_out, act)
    new = saturated_bias(w, bias, mult, shift, acts, max_code)
    assert np.all(np.abs(new) <= np.abs(bias))
    assert np.any(new != bias)
    codes = np.vstack([rng.integers(0, max_code + 1, (200, n_in)),
                       np.where(w > 0, max_code, 0), np.where(w < 0, max_code, 0)])
    outs = [np.clip(fp.requantize(codes @ w.T + b, mult, shift), 0, 2**acts - 1)
            for b in (bias, new)]
    np.testing.assert_array_equal(outs[0], outs[1])


@settings(max_examples=300, deadline=None)
@given(log_real=st.floats(-30, 30), bound=st.integers(1, 2**40),
       max_result=st.one_of(st.none(), st.integers(1, 2**16 - 1)))
def test_the_multiplier_a_neuron_needs_always_represents_its_factor(log_real, bound, max_result):
    real = 2.0**log_real
    if max_result is None and bound * real >= 2**40:
        return  # an output beyond any graph's range: refused elsewhere
    n = fp.needed_multiplier_bits(bound, real, max_result)
    if math.frexp(real)[1] + 1 > fp.multiplier_bits(bound):
        return  # the bound leaves no room: the graph is out of range (GraphRangeError)
    m, k = fp.quantize_multiplier(real, n)
    assert 0 <= k <= fp.MAX_SHIFT and 0 < m < 2**n
    if k < fp.MAX_SHIFT:  # a full-width multiplier: relative error below 2**(1 - n)
        assert abs(m * 2.0**-k - real) <= real * 2.0 ** (1 - n)


def test_a_neuron_worth_thousands_of_codes_per_unit_builds():
    # weight step / activation step = 8080: one accumulator unit is 8080 codes
    # (a degenerate but trainable neuron; it once failed the export).
    hidden = QuantizedLayer(weights=np.array([[1, -1], [1, 1]], dtype=np.int8),
                            weight_bits=np.array([2, 2]), weight_step=np.array([8.08, 0.1]),
                            bias=np.array([0, 1]), activation_step=np.array([0.001, 0.05]),
                            activation_bits=np.array([4, 4]))
    out = QuantizedLayer(weights=np.array([[1, 1]], dtype=np.int8), weight_bits=np.array([2]),
                         weight_step=np.array([0.01]), bias=np.array([0]))
    graph = IntegerMLP.from_layers(input_scale=np.ones(2), input_offset=np.zeros(2),
                                   input_bits=8, layers=[hidden, out], task="regression")
    assert graph.layers[0].multiplier[0] * 2.0 ** -graph.layers[0].shift[0] == 8080
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-2.0, 3.0]])
    np.testing.assert_array_equal(graph.decision_function(X), reference_outputs(graph, X))


def test_huge_finite_rows_predict_without_a_warning(classifier_graph):
    # The finite check sums the rows first; a sum that overflows is no warning
    # of the user's (the values are finite), and the rows still predict.
    rows = np.full((3, classifier_graph.n_features), 1e308)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(classifier_graph.predict(rows)) == 3
