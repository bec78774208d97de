# Set-up and everyday commands. From a fresh clone: `make demo` or `make test` builds .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# Use the shared data folder beside the checkout when there is one and DEEPNET_DATA is not set.
ifeq ($(origin DEEPNET_DATA),undefined)
ifneq ($(wildcard ../shared/data),)
export DEEPNET_DATA := $(abspath ../shared/data)
endif
endif

.PHONY: venv demo test bench report readme clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

demo: venv
	$(VENV)/bin/deepnet demo

test: venv
	$(PY) -m pytest -q --durations=15

bench: venv
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_convnet.py
	$(PY) benchmarks/bench_ntm.py
	$(PY) benchmarks/bench_lm.py
	$(PY) benchmarks/bench_rbm.py
	$(PY) benchmarks/bench_autoencoder.py
	$(PY) benchmarks/bench_ctc.py
	$(PY) benchmarks/bench_captioning.py
	$(PY) benchmarks/bench_dqn.py
	$(PY) benchmarks/bench_glimpse.py

# Regenerate the README's results table from results/ (never typed by hand).
readme: venv
	$(VENV)/bin/deepnet report --readme README.md

report: venv
	$(VENV)/bin/deepnet report

clean:
	rm -rf $(VENV) runs .pytest_cache *.egg-info
