"""0/1 columns' input steps as two int8 codes: the runtime's section, then the estimators."""

import warnings
import zlib

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from skqat import NMPQATClassifier, NMPQATRegressor
from skqat._inputs import binary_columns
from skqat.model_selection import starting_width
from skqat.runtime import IntegerMLP, ModelFileError, load_bytes
from skqat.runtime._input_steps_file import input_steps_bytes, int8_features
from skqat.runtime._rows import binary_input_steps, input_codes, round_to_bfloat16
from tests.test_runtime import extreme_rows, random_graph

# ----------------------------------------------------------------- runtime


@settings(max_examples=200, deadline=None)
@given(scale=st.floats(1e-6, 1e6), offset=st.floats(-1e4, 1e4), bits=st.integers(2, 16))
def test_binary_steps_give_0_and_1_their_codes(scale, offset, bits):
    a, c = round_to_bfloat16([scale, 0.5]), round_to_bfloat16([offset, -0.25])
    binary = np.array([True, False])
    new_a, new_c = binary_input_steps(a, c, binary, bits)
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(input_codes(X, new_a, new_c, bits),
                                  input_codes(X, a, c, bits))
    # The other column, and every column of wider codes, keep their steps.
    assert (new_a[1], new_c[1]) == (a[1], c[1])
    if bits > 8:
        np.testing.assert_array_equal(new_a, a)
        np.testing.assert_array_equal(new_c, c)
    else:
        assert int8_features(new_a, new_c).tolist() == [True, False]


def _with_int8_steps(graph, features, scales):
    scale, offset = graph.input_scale.copy(), graph.input_offset.copy()
    scale[features], offset[features] = scales, -3.0
    return IntegerMLP(round_to_bfloat16(scale), round_to_bfloat16(offset), graph.input_bits,
                      graph.layers, graph.output_scale, graph.output_offset, graph.task)


def _rewritten(data, version=None, flags=None, at=None, byte=None):
    body = bytearray(data[:-4])
    for pos, value in ((8, version), (13, flags), (at, byte)):
        if value is not None:
            body[pos] = value
    return bytes(body) + zlib.crc32(bytes(body)).to_bytes(4, "little")


def test_int8_steps_take_two_bytes_and_load_back_exactly():
    rng = np.random.default_rng(3)
    plain = random_graph(rng, [11, 6, 2], task="multiclass")
    plain = IntegerMLP(round_to_bfloat16(plain.input_scale), round_to_bfloat16(plain.input_offset),
                       plain.input_bits, plain.layers, plain.output_scale, plain.output_offset,
                       plain.task)
    # 140 - 3 is out of int8: that feature stays bfloat16.
    graph = _with_int8_steps(plain, [2, 5, 9], [37.0, 140.0, 1.0])
    assert int8_features(graph.input_scale, graph.input_offset).sum() == 2
    data = graph.to_bytes()
    # Two features at 2 bytes instead of 4, and a 2-byte bitmap.
    assert len(data) == len(plain.to_bytes()) - 2 * 2 + 2
    assert graph.theoretical_size_bytes() == plain.theoretical_size_bytes() - 2 * 2 + 2
    loaded = load_bytes(data)
    assert loaded == graph
    X = extreme_rows(rng, 11, 60)
    X[8:, [2, 5]] = rng.integers(0, 2, (52, 2))
    np.testing.assert_array_equal(loaded.predict(X), graph.predict(X))
    # A graph without int8 steps writes no bitmap: the layout of version 3.
    assert load_bytes(_rewritten(plain.to_bytes(), version=3)) == plain


def test_int8_steps_in_a_damaged_or_older_file_are_refused():
    rng = np.random.default_rng(4)
    graph = _with_int8_steps(random_graph(rng, [10, 3, 1]), [0, 4], [20.0, 5.0])
    data = graph.to_bytes()
    assert data[13] & 32
    with pytest.raises(ModelFileError, match="header"):  # version 3 had no int8 steps
        load_bytes(_rewritten(data, version=3))
    bitmap_at = 20 + 3  # after the header and three one-byte layer sizes
    assert data[bitmap_at:bitmap_at + 2] == bytes([0b10001, 0])
    with pytest.raises(ModelFileError, match="bitmap"):  # a feature past the 10th
        load_bytes(_rewritten(data, at=bitmap_at + 1, byte=0b100))
    with pytest.raises(ModelFileError, match="bitmap"):  # the flag without a feature
        load_bytes(_rewritten(data, at=bitmap_at, byte=0))
    # A bitmap that names other features reads other bytes: refused, never misread.
    with pytest.raises(ModelFileError):
        load_bytes(_rewritten(data, at=bitmap_at, byte=0b111))


def test_section_bytes_by_kind():
    assert input_steps_bytes(np.full(9, 0.1), np.zeros(9)) == 72
    assert input_steps_bytes(np.full(9, 0.5), np.zeros(9)) == 36
    assert input_steps_bytes(np.full(9, 8.0), np.zeros(9)) == 2 + 18
    assert input_steps_bytes([8.0, 0.1], [0.0, 0.0]) == 1 + 2 + 8
    # One 0/1 column among 20 bfloat16 ones: its 2 bytes saved do not pay for a 3-byte
    # bitmap, so the section keeps the bfloat16 layout (and writes no bitmap).
    scale, offset = np.r_[8.0, np.full(19, 0.5)], np.zeros(20)
    assert input_steps_bytes(scale, offset) == 80
    graph = random_graph(np.random.default_rng(5), [20, 3, 1])
    graph = IntegerMLP(scale, offset, 8, graph.layers, graph.output_scale, graph.output_offset,
                       graph.task)
    assert not graph.to_bytes()[13] & 32 and load_bytes(graph.to_bytes()) == graph


# -------------------------------------------------------------- estimators


def _one_hot_table(rng, n=300):
    X = np.column_stack([rng.normal(size=(n, 3)), np.eye(4)[rng.integers(0, 4, n)],
                         rng.integers(0, 2, n)])
    y = X[:, 0] + 2 * X[:, 3] - X[:, 7] + 0.1 * rng.normal(size=n)
    return X, y


def test_binary_columns_dense_and_sparse_agree():
    X, _ = _one_hot_table(np.random.default_rng(0))
    X[5, 1] = 0.0  # a 0 in a continuous column does not make it binary
    expected = [False] * 3 + [True] * 5
    assert binary_columns(X).tolist() == expected
    assert binary_columns(sp.csr_matrix(X)).tolist() == expected
    assert binary_columns(sp.csc_matrix(X)).tolist() == expected
    X[7, 4] = 2.0
    assert binary_columns(sp.csr_matrix(X)).tolist() == expected[:4] + [False] + expected[5:]


@pytest.mark.parametrize("Est", [NMPQATClassifier, NMPQATRegressor])
def test_binary_columns_train_on_their_standardized_codes(Est):
    rng = np.random.default_rng(1)
    X, y = _one_hot_table(rng)
    y = (y > 0).astype(int) if Est is NMPQATClassifier else y
    est = Est(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert est.binary_features_.tolist() == [False] * 3 + [True] * 5
    # The codes training saw are those of the plain standardized step.
    a = round_to_bfloat16(1.0 / (est.input_scale_ * est.input_steps_))
    c = round_to_bfloat16(-est.input_mean_ * a)
    np.testing.assert_array_equal(est._input_codes(X), input_codes(X, a, c, est.input_bits))
    graph = est.to_integer()
    assert int8_features(graph.input_scale, graph.input_offset).tolist() == \
        est.binary_features_.tolist()
    # 2 bytes saved per 0/1 column, 1 spent on the bitmap.
    assert est.model_size_bytes_ == graph.theoretical_size_bytes()
    plain = IntegerMLP(a, c, graph.input_bits, graph.layers, graph.output_scale,
                       graph.output_offset, graph.task, graph.classes)
    assert est.model_size_bytes_ == plain.theoretical_size_bytes() - 5 * 2 + 1
    # Other values in those columns: the graph still computes what predict does.
    X_odd = X.copy()
    X_odd[:, 3:] = rng.uniform(-2, 3, (len(X), 5))
    np.testing.assert_array_equal(graph.predict(X_odd), est.predict(X_odd))
    np.testing.assert_array_equal(load_bytes(graph.to_bytes()).predict(X_odd),
                                  est.predict(X_odd))


def test_a_stream_ends_a_binary_column_at_its_first_other_value():
    rng = np.random.default_rng(2)
    X, y = _one_hot_table(rng)
    est = NMPQATRegressor(hidden_layer_sizes=(8,), random_state=0)
    est.partial_fit(X[:150], y[:150])
    assert est.binary_features_[3:].all()
    X2 = X[150:].copy()
    X2[0, 4] = 0.5
    est.partial_fit(X2, y[150:])
    assert est.binary_features_.tolist() == [False] * 3 + [True, False, True, True, True]
    graph = est.to_integer()
    assert not int8_features(graph.input_scale, graph.input_offset)[4]
    np.testing.assert_array_equal(graph.predict(X2), est.predict(X2))


def test_a_size_budget_starts_as_wide_as_the_lean_steps_allow():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=(400, 4)), np.eye(40)[rng.integers(0, 40, 400)]])
    y = X[:, 0] + X[:, 5]
    est = NMPQATRegressor(size_budget=400, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    width = est.coefs_[0].shape[1]
    # 4 features at 4 bytes, 40 at 2 and a 6-byte bitmap: 102 bytes, not 176.
    assert width == starting_width(400, n_features=44, input_steps_bytes=102)
    assert width > starting_width(400, n_features=44)
    assert est.model_size_bytes_ <= 400


# ------------------------------------------------------------- input_clip


@pytest.mark.parametrize("clip", [1.5, 3.0, 6.0])
def test_input_clip_sets_the_input_step_and_saturates_beyond_it(clip):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 3))
    y = X @ [1.0, -2.0, 0.5]
    est = NMPQATRegressor(hidden_layer_sizes=(8,), max_iter=5, input_clip=clip,
                          random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    np.testing.assert_allclose(est.input_steps_, clip / 127)
    # Rows at k standard deviations in every column: the codes grow as k * 127 / clip
    # up to the clip, and saturate at the top code beyond it.
    graph = est.to_integer()
    at = lambda k: est.input_mean_ + k * est.input_scale_  # noqa: E731
    half = graph.quantize_input(at(clip / 2)[None])[0]
    assert np.all(np.abs(half - 63.5) <= 1.5)
    for k in (clip, clip + 0.5, 10 * clip):
        np.testing.assert_array_equal(graph.quantize_input(at(k)[None])[0], 127)
        np.testing.assert_array_equal(graph.quantize_input(at(-k)[None])[0], -127)
    # Beyond the clip a row changes nothing: the model saw the same codes.
    np.testing.assert_array_equal(est.predict(at(clip + 1)[None]), est.predict(at(50)[None]))


@pytest.mark.parametrize("Est", [NMPQATClassifier, NMPQATRegressor])
def test_input_clip_is_checked_and_reaches_every_fit(Est):
    X = np.random.default_rng(5).normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    for bad in (0, -1.0, "wide"):
        with pytest.raises(ValueError, match="input_clip"):
            Est(input_clip=bad).fit(X, y)
    # "auto": 3 standard deviations for a fit, 6 for a stream (its first block may mislead).
    est = Est(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(est.fit(X, y).input_steps_, 3 / 127)
        classes = {"classes": [0, 1]} if Est is NMPQATClassifier else {}
        np.testing.assert_allclose(clone(est).partial_fit(X, y, **classes).input_steps_, 6 / 127)
        # An explicit clip is used by both.
        est.set_params(input_clip=4.0)
        np.testing.assert_allclose(clone(est).partial_fit(X, y, **classes).input_steps_, 4 / 127)
    # A float network takes the standardized inputs unclipped, whatever the clip.
    float_est = Est(hidden_layer_sizes=(4,), max_iter=2, quantize=False, input_clip=0.5,
                    random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        float_est.fit(X, y)
    out = float_est.predict_proba if Est is NMPQATClassifier else float_est.predict
    rows = float_est.input_mean_ + np.array([[1.0], [50.0]]) * float_est.input_scale_
    # Both rows are beyond the clip: a clipped network would give them the same output.
    assert not np.array_equal(out(rows[:1]), out(rows[1:]))


def test_a_stream_keeps_the_clip_it_learned_with(monkeypatch):
    import skqat._base as base

    rng = np.random.default_rng(6)
    X = rng.normal(size=(400, 3))
    y = X.sum(1)
    seen = []
    update = base.update_input_statistics
    monkeypatch.setattr(base, "update_input_statistics",
                        lambda *a, clip, **k: seen.append(clip) or update(*a, clip=clip, **k))
    est = NMPQATRegressor(hidden_layer_sizes=(4,), input_clip=2.0, random_state=0)
    est.partial_fit(X[:200], y[:200])
    est.set_params(input_clip=5.0)
    est.partial_fit(X[200:] * 3, y[200:])
    # The input steps are the first call's, and the rescaling of the first layer
    # clips as the network learned to (not as input_clip now says).
    np.testing.assert_allclose(est.input_steps_, 2.0 / 127)
    assert seen == [pytest.approx(2.0)]
    # A new fit starts afresh with the new clip.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.set_params(max_iter=2).fit(X, y)
    np.testing.assert_allclose(est.input_steps_, 5.0 / 127)
