# Two commands set everything up: `make demo` and `make test` (both refresh .venv first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: bench-peers venv demo test test-slow notebooks lint clean

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
	$(BIN)/python -m pytest -m "not slow" --durations=20 tests

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow tests

# Re-executes the notebooks in place with full settings (their outputs are committed).
notebooks: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter-execute --inplace --timeout=-1 \
		01_quickstart.ipynb 02_reversal.ipynb 03_representations.ipynb 04_attention.ipynb

lint: $(STAMP)
	$(BIN)/python -m flake8 keras_s2s serving tests benchmarks

# keras_s2s against PyTorch 2.13 (nn.LSTM) and OpenNMT-tf 2.32 (TF 2.12) on the same model and
# batches, alternating (benchmarks/peers/). Each peer lives in its own venv; neither is a
# project dependency.
PEERS := .venv-peers
M30K := ../shared/data/multi30k
# `make bench-peers ROUNDS=3`: more rounds (the table gives each round's ratio too).
ROUNDS ?= 2
$(PEERS)/torch/bin/python:
	python3 -m venv $(PEERS)/torch
	$(PEERS)/torch/bin/pip install --quiet torch==2.13.0 numpy

$(PEERS)/opennmt/bin/python:
	python3 -m venv $(PEERS)/opennmt
	$(PEERS)/opennmt/bin/pip install --quiet "OpenNMT-tf[tensorflow]==2.32.0"

bench-peers: $(STAMP) $(PEERS)/torch/bin/python $(PEERS)/opennmt/bin/python
	$(BIN)/python benchmarks/peers/compare.py --peer torch=$(PEERS)/torch/bin/python \
		--peer opennmt=$(PEERS)/opennmt/bin/python --rounds $(ROUNDS) --out bench_peers.json \
		--variant train.cpu_replicas=1 \
		-- --preset small --src $(M30K)/train.en.gz --tgt $(M30K)/train.fr.gz --steps 200 \
		--precision fp32 --set train.optimizer=sgd --set train.learning_rate=0.7 \
		--set train.clip_norm=5

clean:
	rm -rf $(VENV) runs build *.egg-info
