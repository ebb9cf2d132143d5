# Two commands for a newcomer: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint format bench test-airflow clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/python pipelines/harness_registry_pipeline.py demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

# Airflow 3 is large: it gets its own virtualenv, and `make test` leaves it out.
test-airflow:
	bash tests/airflow_dag/run_airflow_test.sh

clean:
	rm -rf $(VENV) .venv-airflow .pytest_cache *.egg-info

# What to do after `make demo`: reports, SQL and the notebook, from the venv (no other tool needed).
.PHONY: report sql notebook

report: $(VENV)/.installed
	$(BIN)/harness-registry report

# The DuckDB command-line tool on the package index lags the duckdb library's file format, so SQL
# goes through the library: a prompt on harness_registry.duckdb (SQL_ARGS='"SELECT ..."' for one query).
sql: $(VENV)/.installed
	$(BIN)/harness-registry sql $(SQL_ARGS)

$(VENV)/.installed-notebook: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[notebook]'
	@touch $@

# Opens the notebook in Jupyter; with no browser (a server, CI) or NOTEBOOK_ARGS=--html, runs it and
# writes notebooks/explore_artifacts.html.
notebook: $(VENV)/.installed-notebook
	$(BIN)/harness-registry notebook $(NOTEBOOK_ARGS)
