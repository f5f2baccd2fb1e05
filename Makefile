# Two commands set everything up: `make demo` and `make test` (both refresh .venv first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv demo test test-slow notebooks lint clean

venv: $(STAMP)

# Reinstall only when setup.cfg or pyproject.toml changed since the last install.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/keras-s2s demo --model-dir runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" tests

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow tests

# Re-executes the notebooks in place with full settings (their outputs are committed).
notebooks: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter-execute --inplace --timeout=-1 \
		01_quickstart.ipynb 02_reversal.ipynb 03_representations.ipynb 04_attention.ipynb

lint: $(STAMP)
	$(BIN)/python -m flake8 keras_s2s serving tests

clean:
	rm -rf $(VENV) runs build *.egg-info
