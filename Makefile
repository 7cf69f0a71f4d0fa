# Set-up and main jobs. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The data home: ../shared/data beside the clone when it is there.
SKQAT_DATA_HOME ?= $(abspath $(wildcard ../shared/data))
export SKQAT_DATA_HOME

.PHONY: install demo test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The local CPU-only wheel first: any other torch spec downloads CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,plot]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m skqat.demo --output-dir demo_output

test: install
	$(PY) -m pytest -n 2 -p no:cacheprovider skqat tests

clean:
	rm -rf $(VENV) build *.egg-info
