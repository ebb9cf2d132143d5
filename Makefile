# Two commands for a newcomer: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
# The exact versions the test suite last passed on (see `make lock`): a fresh clone installs those,
# not whatever is newest that day. pyproject.toml keeps the ranges that other installs may use.
CONSTRAINTS := constraints.txt
# The newest versions pyproject.toml allows, for `make test-latest` and `make lock`.
LATEST_VENV := .venv-latest
# Tests run in parallel, one worker per core; each worker has its own emulator processes.
PYTEST_ARGS ?= -n auto --dist worksteal

define LOCK_HEADER
# The exact versions the test suite passed on (Python 3.11, Linux). `make test` and `make demo`
# install with `pip install -c constraints.txt`. Written by `make lock`: do not edit by hand.
endef
export LOCK_HEADER

.PHONY: demo test test-fast lint format bench test-airflow test-latest lock clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) -e .
	@touch $@

# dev includes the lakehouse and notebook extras: the tests exercise both.
$(VENV)/.installed-dev: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) -e '.[dev]'
	@touch $@ $(VENV)/.installed $(VENV)/.installed-notebook

demo: $(VENV)/.installed
	$(BIN)/harness-registry demo

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit-test loop: the tests that run no pipeline (units, the emulator, options, report SQL).
# `make test` remains the whole suite, and the one CI runs.
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m quick

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

# Airflow 3 is large: it gets its own virtualenv, and `make test` leaves it out. It installs without
# constraints.txt: Airflow pins its own dependency tree (its constraints files list ~700 packages per
# Airflow and Python version), which a lock made for .venv would fight rather than reproduce.
test-airflow:
	bash tests/airflow_dag/run_airflow_test.sh

# The suite against the newest dlt, duckdb... that pyproject.toml allows, in its own virtualenv so
# that .venv stays on the lock. Reinstalls (upgrades) every time it runs.
test-latest:
	@test -x $(LATEST_VENV)/bin/python || { $(PYTHON) -m venv $(LATEST_VENV) && echo '*' > $(LATEST_VENV)/.gitignore; }
	$(LATEST_VENV)/bin/python -m pip --disable-pip-version-check -q install --upgrade pip
	$(LATEST_VENV)/bin/python -m pip --disable-pip-version-check -q install --upgrade --upgrade-strategy eager -e '.[dev]'
	$(LATEST_VENV)/bin/python -c 'from importlib.metadata import version as v; print("testing with dlt", v("dlt"), "duckdb", v("duckdb"))'
	$(LATEST_VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Move the lock to the newest versions, only once the suite passed on them: `make lock`, then review
# and commit the diff of constraints.txt. .venv follows on the next `make test`.
lock: test-latest
	{ echo "$$LOCK_HEADER"; $(LATEST_VENV)/bin/python -m pip --disable-pip-version-check freeze --exclude-editable; } > $(CONSTRAINTS)
	@echo "$(CONSTRAINTS) now holds the versions the suite passed on in $(LATEST_VENV)"

clean:
	rm -rf $(VENV) $(LATEST_VENV) .venv-airflow .pytest_cache *.egg-info

# What to do after `make demo`: reports, SQL and the notebook, from the venv (no other tool needed).
.PHONY: report sql notebook

report: $(VENV)/.installed
	$(BIN)/harness-registry report

# The DuckDB command-line tool on the package index lags the duckdb library's file format, so SQL
# goes through the library: a prompt on harness_registry.duckdb (SQL_ARGS='"SELECT ..."' for one query).
sql: $(VENV)/.installed
	$(BIN)/harness-registry sql $(SQL_ARGS)

$(VENV)/.installed-notebook: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) -e '.[notebook]'
	@touch $@

# Opens the notebook in Jupyter; with no browser (a server, CI) or NOTEBOOK_ARGS=--html, runs it and
# writes notebooks/explore_artifacts.html.
notebook: $(VENV)/.installed-notebook
	$(BIN)/harness-registry notebook $(NOTEBOOK_ARGS)
