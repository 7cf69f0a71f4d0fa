"""A fitted pipeline as one integer model: ``skqat.to_integer`` against ``pipeline.predict`` (issue 15)."""

import re
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (FunctionTransformer, MaxAbsScaler, MinMaxScaler, OneHotEncoder,
                                   OrdinalEncoder, PolynomialFeatures, RobustScaler,
                                   StandardScaler)

from skqat import NMPQATClassifier, NMPQATRegressor, to_integer
from skqat.runtime import Step, load_bytes
from skqat.runtime._device_plan import float32_keys, keys_to_float32, _threshold_plan
from skqat.runtime._rows import input_codes

from .conftest import subsample, tabular_preprocessor
from .test_onnx import assert_onnx_predicts
from .test_runtime import compile_c

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
SMALL = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0)


def assert_same_everywhere(pipe, model, rows, tmp_path):
    """The integer model, its model file and its C give what the pipeline predicts."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Found unknown categories")
        expected = pipe.predict(rows)
        seen = pipe[:-1].transform(rows)
    seen = seen.toarray() if hasattr(seen, "toarray") else np.asarray(seen, dtype=np.float64)
    # What the estimator receives, bit for bit: each numeric column's float64 value, and
    # every input code (numeric and one-hot tables alike).
    for num in model.raw_inputs.numeric:
        column = rows[num.column] if hasattr(rows, "columns") else rows[
            :, model.raw_inputs.columns.index(num.column)]
        finite = np.isfinite(seen[:, num.feature])
        np.testing.assert_array_equal(num.values(np.asarray(column)[finite]),
                                      seen[finite, num.feature])
    np.testing.assert_array_equal(model.quantize_input(rows), input_codes(
        seen, model.input_scale, model.input_offset, model.input_bits))
    np.testing.assert_array_equal(model.predict(rows), expected)
    np.testing.assert_array_equal(load_bytes(model.to_bytes()).predict(rows), expected)
    compile_c(model, tmp_path, rows)
    assert_onnx_predicts(model, rows, expected)


@pytest.fixture(scope="module")
def housing(california):
    """California housing: a categorical column, missing values, a split by rows."""
    X, y = california.data, california.target
    idx = subsample(len(X), 6000)
    return X.iloc[idx[:4000]], y.iloc[idx[:4000]], X.iloc[idx[4000:]].copy()


def test_pipeline_equality_on_real_data_with_missing_and_unseen_categories(housing, tmp_path):
    X, y, X_test = housing
    numeric = [c for c in X.columns if c != "ocean_proximity"]
    pipe = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (OneHotEncoder(handle_unknown="ignore"), ["ocean_proximity"])),
        NMPQATRegressor(bit_budget=2, **SMALL)).fit(X, y)
    assert X["total_bedrooms"].isna().any() and X_test["total_bedrooms"].isna().any()
    X_test.iloc[:7, X_test.columns.get_loc("ocean_proximity")] = "ON THE MOON"  # unseen
    X_test.iloc[7:9, X_test.columns.get_loc("ocean_proximity")] = np.nan
    X_test.iloc[9:12, X_test.columns.get_loc("median_income")] = np.nan
    model = to_integer(pipe)
    assert [c.column for c in model.raw_inputs.categorical] == ["ocean_proximity"]
    assert_same_everywhere(pipe, model, X_test, tmp_path)


def test_the_package_preprocessor_with_indicators_on_real_data(housing, tmp_path):
    X, y, X_test = housing
    y_class = (y > y.median()).map({True: "high", False: "low"})
    pipe = make_pipeline(tabular_preprocessor(), NMPQATClassifier(**SMALL)).fit(X, y_class)
    X_test.iloc[:3, X_test.columns.get_loc("ocean_proximity")] = "unseen"
    model = to_integer(pipe)
    assert_same_everywhere(pipe, model, X_test.iloc[:500], tmp_path)
    np.testing.assert_array_equal(model.predict_proba(X_test), pipe.predict_proba(X_test))


def _toy_frame(n, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "rsrp": rng.normal(-95, 8, n), "load": rng.uniform(0, 1, n),
        "users": rng.integers(0, 50, n).astype(float), "snr": rng.normal(12, 6, n),
        "band": rng.choice(["n1", "n3", "n28", "n78", "n258"], n, p=[.4, .3, .2, .08, .02]),
        "vendor": rng.choice(["a", "b", "c"], n), "cell": rng.integers(0, 6, n),
    })
    frame.loc[rng.random(n) < 0.1, "rsrp"] = np.nan
    frame.loc[rng.random(n) < 0.05, "vendor"] = np.nan
    target = frame["load"] * 3 + (frame["band"] == "n78") + 0.1 * frame["snr"]
    return frame, target


@pytest.mark.parametrize("case", ["every_option", "sparse_one_hot", "ordinal_then_scaled"])
def test_every_supported_step_and_option(case, tmp_path):
    X, y = _toy_frame(600, 0)
    X_test, _ = _toy_frame(300, 1)
    X_test.loc[:5, "band"] = "n999"
    X_test.loc[6:9, "vendor"] = "zz"
    X_test.loc[10:12, "cell"] = 17
    if case == "every_option":
        pre = make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="mean", add_indicator=True), RobustScaler()),
             ["rsrp"]),
            (MinMaxScaler(clip=True), ["load"]),
            (MaxAbsScaler(), ["users"]),
            (OneHotEncoder(min_frequency=30, handle_unknown="infrequent_if_exist",
                           sparse_output=False), ["band"]),
            (make_pipeline(SimpleImputer(strategy="most_frequent"),
                           OneHotEncoder(drop="first", handle_unknown="ignore")), ["vendor"]),
            (OneHotEncoder(max_categories=4, handle_unknown="ignore"), ["cell"]),
            remainder="passthrough")
    elif case == "sparse_one_hot":  # scalers after a sparse ColumnTransformer multiply by 1/s
        pre = make_pipeline(
            make_column_transformer(
                (OneHotEncoder(handle_unknown="ignore"), ["band", "vendor", "cell"]),
                (SimpleImputer(), ["rsrp"]), remainder="drop", sparse_threshold=1.0),
            StandardScaler(with_mean=False), MaxAbsScaler())
    else:
        pre = make_column_transformer(
            (make_pipeline(OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                          encoded_missing_value=-2), StandardScaler()),
             ["band", "vendor"]),
            (SimpleImputer(missing_values=-999.0, strategy="median"), ["snr"]),
            remainder="drop")
    pipe = make_pipeline(pre, NMPQATRegressor(**SMALL)).fit(X, y)
    model = to_integer(pipe)
    assert_same_everywhere(pipe, model, X_test, tmp_path)


def test_rows_the_pipeline_refuses_are_refused():
    X, y = _toy_frame(300, 0)
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["band"]), ("passthrough", ["rsrp"])),
        NMPQATRegressor(**SMALL)).fit(X.fillna({"rsrp": 0.0}), y)
    model = to_integer(pipe)
    unseen = X.fillna({"rsrp": 0.0}).iloc[:3].assign(band="n999")
    for rows, message in [(unseen, "unknown category"), (X.iloc[:40], "SimpleImputer")]:
        with pytest.raises(ValueError):
            pipe.predict(rows)
        with pytest.raises(ValueError, match=message):
            model.predict(rows)
    with pytest.raises(ValueError, match="no column 'band'"):
        model.predict(X.drop(columns="band"))


@pytest.mark.parametrize("step", [PolynomialFeatures(), FunctionTransformer(np.log1p)])
def test_unsupported_steps_are_named(step):
    X, y = _toy_frame(200, 0)
    pipe = make_pipeline(make_column_transformer((step, ["load", "users"])),
                         NMPQATRegressor(**SMALL)).fit(X, y)
    with pytest.raises(ValueError, match=type(step).__name__):
        to_integer(pipe)


def test_arrays_without_column_names_and_bare_estimators(tmp_path):
    X, y = _toy_frame(300, 0)
    A = X[["load", "users", "snr"]].to_numpy()
    pipe = make_pipeline(StandardScaler(), NMPQATRegressor(**SMALL)).fit(A, y)
    model = to_integer(pipe)
    assert model.raw_inputs.columns == ("x0", "x1", "x2")
    assert_same_everywhere(pipe, model, A[:50], tmp_path)
    assert to_integer(pipe[-1]) == pipe[-1].to_integer()
    with pytest.raises(ValueError, match="NMP-QAT"):
        to_integer(make_pipeline(StandardScaler()).fit(A))


@settings(max_examples=60, deadline=None)
@given(mean=st.floats(-1e4, 1e4), scale=st.floats(1e-3, 1e4), a=st.floats(0.01, 100),
       c=st.floats(-50, 50), bits=st.integers(2, 10), data=st.data())
def test_threshold_tables_give_every_float32_its_code(mean, scale, a, c, bits, data):
    # The C's comparison of integer keys gives every float32 input the code the
    # float64 steps and the float32 input step give it: at, next to and between thresholds.
    steps = (Step("sub", mean), Step("div", scale))

    def code(x):
        v = np.asarray(x, dtype=np.float64)
        for s in steps:
            v = s.apply(v)
        return input_codes(v[:, None], np.float32([a]), np.float32([c]), bits)[:, 0]

    qmax = 2 ** (bits - 1) - 1
    plan = _threshold_plan(0, 0, code, qmax)
    keys = np.concatenate([plan.thresholds + d for d in (-1, 0, 1)] + [
        float32_keys(np.float32(data.draw(st.lists(st.floats(width=32, allow_nan=False),
                                                   min_size=1, max_size=20))))])
    keys = np.clip(keys, -2139095041, 2139095040)
    device = plan.base + np.searchsorted(plan.thresholds, keys, side="right")
    np.testing.assert_array_equal(device, code(keys_to_float32(keys)))


def test_a_warning_free_fold():
    X, y = _toy_frame(300, 0)
    pipe = make_pipeline(make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["band"]), remainder="drop"),
        NMPQATRegressor(**SMALL)).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_integer(pipe)


def test_scaled_columns_at_wide_input_bits_are_refused_by_the_c_export(tmp_path):
    # A threshold table per scaled column has 2**input_bits entries: above 12 bits the
    # export says so (the numpy model and the model file still work).
    X, y = _toy_frame(200, 0)
    pipe = make_pipeline(make_column_transformer((StandardScaler(), ["load", "snr"])),
                         NMPQATRegressor(input_bits=14, **SMALL)).fit(X, y)
    model = to_integer(pipe)
    np.testing.assert_array_equal(load_bytes(model.to_bytes()).predict(X), pipe.predict(X))
    with pytest.raises(ValueError, match="input_bits <= 12"):
        model.export_c(tmp_path)
    unscaled = make_pipeline(make_column_transformer(("passthrough", ["load", "snr"])),
                             NMPQATRegressor(input_bits=14, **SMALL)).fit(X, y)
    compile_c(to_integer(unscaled), tmp_path, X.iloc[:50])


def test_c_signals_the_rows_the_model_refuses(tmp_path):
    # Unknown categories under handle_unknown="error" and unimputed NaN or infinite
    # numbers: IntegerMLP.predict raises, the C returns SKQAT_MODEL_REFUSED for them.
    X, y = _toy_frame(300, 0)
    pipe = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["band"]), ("passthrough", ["rsrp"]),
                                (SimpleImputer(), ["load"])),
        NMPQATRegressor(**SMALL)).fit(X.fillna({"rsrp": 0.0}), y)
    model = to_integer(pipe)
    rows = X.iloc[:40].copy()
    rows["rsrp"] = rows["rsrp"].fillna(-90.0)
    rows.iloc[3, rows.columns.get_loc("band")] = "n999"  # unknown: refused
    rows.iloc[5, rows.columns.get_loc("rsrp")] = np.nan  # nothing imputes rsrp: refused
    rows.iloc[7, rows.columns.get_loc("rsrp")] = np.inf  # refused
    rows.iloc[9, rows.columns.get_loc("load")] = np.nan  # imputed: accepted
    for r in (3, 5, 7):
        with pytest.raises(ValueError):
            model.predict(rows.iloc[[r]])
    model.predict(rows.iloc[[9]])
    source = compile_c(model, tmp_path, rows)
    header = source.with_suffix(".h").read_text()
    assert "#define SKQAT_MODEL_REFUSED 1" in header and "int skqat_model_predict(" in header
    test = (tmp_path / "skqat_model_test.c").read_text()
    status = test[test.index("expected_status"):]
    assert [int(s) for s in re.findall(r"\{ (\d) \}", status)][:10] == [0, 0, 0, 1, 0, 1, 0, 1,
                                                                         0, 0]
    # The test program checks the status: a refused row expected as accepted fails it.
    flipped = test[:test.index("expected_status")] + status.replace("{ 1 }", "{ 0 }", 1)
    (tmp_path / "skqat_model_test.c").write_text(flipped)
    exe = tmp_path / "flipped"
    subprocess.run(["gcc", "-std=c99", str(source), str(tmp_path / "skqat_model_test.c"), "-o",
                    str(exe)], check=True)
    done = subprocess.run([str(exe)], capture_output=True, text=True)
    assert done.stdout.strip() == "39 of 40 rows agree" and done.returncode == 1
