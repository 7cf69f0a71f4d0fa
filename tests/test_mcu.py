"""The C export on 32-bit ARM: Cortex-M0 build and link, qemu-arm run, resource report.

The cross compilers and qemu come from Debian (``.ci/run`` installs them);
without them these tests skip, except in CI.
"""

import re
import subprocess

import numpy as np
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skqat import NMPQATClassifier, NMPQATRegressor, to_integer

from benchmarks.mcu_flash import measure_flash, skqat_flash

from .conftest import require_tool, subsample
from .test_runtime import random_graph

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
M0_FLAGS = ["-mcpu=cortex-m0", "-mthumb", "-Os", "-std=c99", "-Wall", "-Wextra", "-Werror"]
# Soft double precision: __aeabi_dadd, __aeabi_f2d, __adddf3, __extendsfdf2, ...
DOUBLE_CALL = re.compile(r"aeabi_d|2d$|df\d?$|df[a-z]")


@pytest.fixture(scope="module")
def models(california):
    """Three shapes of C: a pipeline (tables, categories), a bare classifier, wide integers."""
    X, y = california.data, california.target
    idx = subsample(len(X), 3000)
    X, y, X_test = X.iloc[idx[:2000]], y.iloc[idx[:2000]], X.iloc[idx[2000:]].copy()
    X_test.iloc[:5, X_test.columns.get_loc("ocean_proximity")] = "unseen"
    numeric = [c for c in X.columns if c != "ocean_proximity"]
    pipe = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric[:4]),
            (SimpleImputer(), numeric[4:]),
            (OneHotEncoder(handle_unknown="ignore"), ["ocean_proximity"])),
        NMPQATRegressor(hidden_layer_sizes=(32, 16), bit_budget=2, max_iter=4,
                        random_state=0)).fit(X, y)
    A = X[numeric].fillna(0).to_numpy()
    clf = NMPQATClassifier(hidden_layer_sizes=(24,), max_iter=4, random_state=0).fit(
        A, y > y.median())
    wide = random_graph(np.random.default_rng(0), [6, 17, 11, 3], input_bits=12)
    return {"pipeline": (to_integer(pipe), X_test),
            "classifier": (clf.to_integer(), X_test[numeric].fillna(0).to_numpy()),
            "wide": (wide, np.random.default_rng(1).normal(0, 3, (200, 6)))}


def _m0_object(graph, tmp_path):
    require_tool("arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-size")
    _, source = graph.export_c(tmp_path, prefix="model")
    obj = tmp_path / "model.o"
    subprocess.run(["arm-none-eabi-gcc", *M0_FLAGS, "-fstack-usage", "-c", str(source), "-o",
                    str(obj)], check=True)
    return obj


def _undefined(obj):
    out = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True, text=True,
                         check=True).stdout
    return [line.split()[-1] for line in out.splitlines() if line.strip()]


def test_the_double_call_check_can_fail(tmp_path):
    require_tool("arm-none-eabi-gcc", "arm-none-eabi-nm")
    src = tmp_path / "d.c"
    src.write_text("double twice(float x) { return (double)x * 2.5; }\n")
    subprocess.run(["arm-none-eabi-gcc", *M0_FLAGS, "-c", str(src), "-o", str(tmp_path / "d.o")],
                   check=True)
    assert any(DOUBLE_CALL.search(s) for s in _undefined(tmp_path / "d.o"))


@pytest.mark.parametrize("name", ["pipeline", "classifier", "wide"])
def test_cortex_m0_build_has_no_double_precision(name, models, tmp_path):
    graph, _ = models[name]
    symbols = _undefined(_m0_object(graph, tmp_path))
    assert not [s for s in symbols if DOUBLE_CALL.search(s)], symbols
    assert not [s for s in symbols if s in ("malloc", "calloc", "free", "realloc")]
    # Single precision only: the input step (and the optional float outputs).
    assert "__aeabi_fmul" in symbols or name == "wide"


@pytest.mark.parametrize("name", ["pipeline", "classifier", "wide"])
def test_integer_entry_links_alone_without_float_or_64_bit_helpers(name, models, tmp_path):
    require_tool("arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-size")
    graph, _ = models[name]
    flash = skqat_flash(graph, tmp_path)
    assert flash.helpers == ()
    report = graph.resource_report()
    # The report's flash: the tables exactly, the code as calibrated; within 5% linked.
    assert abs(report.flash_bytes - flash.linked) <= 0.05 * flash.linked, (report, flash)
    assert report.table_bytes < flash.linked
    if name != "wide":  # trained models: at most 500 bytes beyond the model's own bytes
        assert flash.linked <= graph.theoretical_size_bytes() + 500, flash
    # The float entries link soft float on a Cortex-M0, within 10% of the report.
    floats = skqat_flash(graph, tmp_path, entry="float")
    assert any(s.startswith("__aeabi_f") for s in floats.helpers)
    assert abs(report.flash_bytes + report.float_entry_bytes - floats.linked) <= (
        0.1 * floats.linked), (report, floats)


def test_the_helper_check_can_fail(tmp_path):
    require_tool("arm-none-eabi-gcc", "arm-none-eabi-nm", "arm-none-eabi-size")
    src = tmp_path / "w.c"
    src.write_text("#include <stdint.h>\nint64_t wide(int64_t a, int64_t b, int k) "
                   "{ return (a * b) >> k; }\n")
    flash = measure_flash([src], call="(int)wide(in[0], in[1], (int)in[2])",
                          declarations="#include <stdint.h>\nint64_t wide(int64_t, int64_t, int);"
                          "\nint64_t in[3];\n", baseline_call="(int)in[0]")
    assert "__aeabi_lmul" in flash.helpers and flash.linked > 0


@pytest.mark.parametrize("name", ["pipeline", "classifier", "wide"])
def test_stack_bytes_against_the_compiler(name, models, tmp_path):
    graph, _ = models[name]
    _m0_object(graph, tmp_path)
    report = graph.resource_report()
    header = (tmp_path / "model.h").read_text()
    assert f"#define MODEL_CODES_STACK_BYTES {report.ram_bytes}" in header
    assert f"#define MODEL_STACK_BYTES {report.ram_bytes + 2 * graph.n_features}" in header
    # The compiler's own count of the integer entry's frame: the buffers, plus saved
    # registers and scalars.
    usage = (tmp_path / "model.su").read_text()
    frame = int(re.search(r":model_predict_codes\t(\d+)", usage)[1])
    assert report.ram_bytes <= frame <= report.ram_bytes + 128, (report.ram_bytes, frame)
    assert report.widest_accumulator_bits == (64 if name == "wide" else 32)


@pytest.mark.parametrize("name", ["pipeline", "classifier", "wide"])
def test_the_test_program_passes_under_qemu_arm(name, models, tmp_path):
    require_tool("arm-linux-gnueabihf-gcc", "qemu-arm")
    graph, rows = models[name]
    header, source, test = graph.export_c(tmp_path, prefix="model", test_rows=rows)
    exe = tmp_path / "model_test"
    subprocess.run(["arm-linux-gnueabihf-gcc", "-static", "-O2", "-std=c99", "-Wall", "-Wextra",
                    "-Werror", str(source), str(test), "-o", str(exe)], check=True)
    done = subprocess.run(["qemu-arm", str(exe)], capture_output=True, text=True, timeout=300)
    n = len(rows)
    assert done.stdout.strip() == f"{n} of {n} rows agree" and done.returncode == 0
