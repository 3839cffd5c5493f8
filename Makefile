# The README's commands. Everything runs from the project's own .venv, created on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Extras installed by `make setup`; CI adds postgres and celery (see .ci/run).
EXTRAS ?= dev,bench
export DAGSTER_HOME ?= $(abspath dagster_home)
export MEMSAFE_DATA_DIR ?= $(abspath data)

.PHONY: setup demo test test-instance instance ui bench sample clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

setup: $(VENV)/.installed

## demo: generate sample data and run every location's assets through Dagster, then a summary table
demo: setup
	$(PY) -m memsafe.demo

## test: the whole test suite (about 23 minutes on 2 cores with the services .ci/run starts)
test: setup
	$(PY) -m pytest

## test-instance: only the tests that start real Dagster processes (artefacts in test-artifacts/)
test-instance: setup
	$(PY) -m pytest -m instance

## instance: set every location's pool limits on the instance in $DAGSTER_HOME (default dagster_home/)
instance: setup
	$(PY) -m iso_energy.instance

## ui: the Dagster UI and daemon for the four code locations on http://127.0.0.1:3000 (stops on Ctrl-C or SIGTERM)
ui: instance
	$(PY) -m memsafe.ui -w workspace.yaml -h 127.0.0.1 -p 3000

## sample: only write the sample market-operator files
sample: setup
	$(PY) -m iso_energy.sample

## bench: benchmarks against the tools a user would pick instead (see bench/README.md)
bench: setup
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf data dagster_home/storage dagster_home/history dagster_home/logs dagster_home/schedules \
	       dagster_home/.logs_queue dagster_home/.telemetry test-artifacts
