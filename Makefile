# Set-up and main jobs. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The data home: ../shared/data beside the clone when it is there.
SKQAT_DATA_HOME ?= $(abspath $(wildcard ../shared/data))
export SKQAT_DATA_HOME

.PHONY: install demo test bench bench-quick bench-sparse bench-steps bench-profile bench-dask \
	bench-compression bench-prune-stream bench-stream bench-paper bench-path bench-path-monotone \
	bench-bytes bench-size-path bench-input-clip bench-width bench-onnx \
	bench-fields bench-flash bench-predict bench-fpga bench-gpu docs clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The local CPU-only wheel first: any other torch spec downloads CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,plot,dask,onnx,bench,fpga]"
	touch $@

$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m skqat.demo --output-dir demo_output

test: install
	$(PY) -m pytest -n 2 -p no:cacheprovider skqat tests

# The full benchmark (about 10 minutes on 2 cores); its results are committed.
bench: install
	$(PY) -m benchmarks.run --output benchmarks/results

# The same rows and columns on small settings (about 2 minutes).
bench-quick: install
	$(PY) -m benchmarks.run --quick --output benchmarks/results-quick

# Peak memory of two epochs on a 50,000 x 20,000 sparse matrix (a few minutes).
bench-sparse: install
	$(PY) -m benchmarks.sparse_memory --output benchmarks/results

# Milliseconds per training step against scikit-learn's MLP and skqat's float step, and whole
# fits of the defaults against the MLP on the four shared tasks (about 6 minutes).
bench-steps: install
	$(PY) -m benchmarks.step_cost --fits --output benchmarks/results

# Where a training step's time goes: each part's microseconds and tensor operations per step,
# on the shapes and methods of bench-steps (about 5 minutes).
bench-profile: install
	$(PY) -m benchmarks.step_profile --output benchmarks/results

# Incremental (dask-ml) over about 2 million KPI rows generated chunk by chunk (a few minutes).
bench-dask: install
	$(PY) -m benchmarks.dask_incremental --output benchmarks/results

# What the defaults compress, and the 1.5-bit regime, on every shared dataset (about 25 minutes).
bench-compression: install
	$(PY) -m benchmarks.compression --output benchmarks/results

# Pruning along the 5G stream: partial_fit with and without a 0-bit candidate (about 2 minutes).
bench-prune-stream: install
	$(PY) -m benchmarks.prune_stream --output benchmarks/results

# Streams that shift: partial_fit on time-ordered blocks whose first blocks mislead, against
# MLPRegressor on pre-scaled blocks, per pass, 3 seeds (about 10 minutes).
bench-stream: install
	$(PY) -m benchmarks.stream_shift --output benchmarks/results

# Covertype in the paper's regime: 4 x 512 on 100,000 rows (about 40 minutes on one core).
bench-paper: install
	$(PY) -m benchmarks.paper_regime --output benchmarks/results

# Accuracy per byte: NMP-QAT at size budgets against uniform QAT over widths, layer-level,
# float, MLP, trees, forests and LightGBM, 3 seeds on the four tasks (about 90 minutes on 2 cores).
bench-bytes: install
	$(PY) -m benchmarks.bytes_frontier --output benchmarks/results --jobs 2

# A path along bytes against bench-bytes' independent size-budgeted fits (about 10 minutes).
bench-size-path: install
	$(PY) -m benchmarks.size_path --output benchmarks/results --jobs 2

# The input clip: size-budgeted, main-benchmark, stream and paper-regime fits at clips 6 and
# 3, paired by seed (about 45 minutes on 2 cores).
bench-input-clip: install
	$(PY) -m benchmarks.input_clip --output benchmarks/results --jobs 2

# The starting width of a size-budgeted fit: three rules, paired by seed (about 25 minutes).
bench-width: install
	$(PY) -m benchmarks.width_rule --output benchmarks/results --jobs 2

# Per-neuron field bits with 12 and 4 guard bits in the multipliers (a few minutes).
bench-fields: install
	$(PY) -m benchmarks.lean_fields --output benchmarks/results

# Prediction time: the integer graph against scikit-learn's MLP on 10,000 rows (about 2 minutes).
bench-predict: install
	$(PY) -m benchmarks.predict_speed --output benchmarks/results

# FPGA: da4ml's LUTs and latency, and every test row run in Verilator (about 25 minutes).
bench-fpga: install
	$(PY) -m benchmarks.fpga --output benchmarks/results

# ONNX: agreement with predict, bytes, and onnxruntime's time per 10,000 rows (a few minutes).
bench-onnx: install
	$(PY) -m benchmarks.onnx_serving --output benchmarks/results

# Which model for my device: score against linked Cortex-M0 flash, NMP-QAT at flash budgets
# against skqat's uniform networks, emlearn's trees, forests and MLPs and LightGBM, 3 seeds on
# the four tasks (about 60 minutes on 2 cores; needs arm-none-eabi-gcc, which .ci/run installs).
bench-flash: install
	$(PY) -m benchmarks.flash_frontier --output benchmarks/results --jobs 2

# Budget paths against independent fits, the CV estimators against GridSearchCV (about 20 minutes).
bench-path: install
	$(PY) -m benchmarks.budget_path --output benchmarks/results

# Whether a budget path's larger budgets score at least as well as its smaller ones, 70 seeds
# of a small regression (about a minute).
bench-path-monotone: install
	$(PY) -m benchmarks.path_monotone --output benchmarks/results --jobs 2

# GPU against CPU step time, bits and accuracy (on a machine with a CUDA device).
bench-gpu: install
	$(PY) -m benchmarks.gpu_check --output benchmarks/results

# The documentation site, warnings as errors, with every gallery example run.
docs: $(VENV)/.docs-installed
	rm -rf docs/_build docs/auto_examples docs/gen_modules docs/sg_execution_times.rst
	cd docs && ../$(PY) -m sphinx -W --keep-going -b html . _build/html

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/auto_examples docs/gen_modules
