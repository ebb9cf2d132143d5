#!/usr/bin/env bash
# `make test-airflow`: runs the Airflow DAG test in its own virtualenv, .venv-airflow at the repo root.
#
# Airflow 3 is large (about 1 GB installed, minutes to download), so it lives outside .venv and outside
# the `dev` extra. The environment is created on first use and reinstalled only when pyproject.toml
# changes (its hash is kept in a stamp file). Extra arguments go to pytest, e.g. `-x -s`.
#
#   PYTHON=python3.12 bash tests/airflow_dag/run_airflow_test.sh   # pick the interpreter (3.11 to 3.13)
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-airflow
STAMP="$VENV/.installed-airflow"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

if [ -z "${PYTHON:-}" ]; then
    if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else "Python 3.11 to 3.13 is needed: set PYTHON=python3.11")'
    echo "creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
    echo '*' >"$VENV/.gitignore" # as venv does itself from Python 3.13 on: git never sees it
    "${PIP[@]}" install --upgrade pip
fi

wanted="$("$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$wanted" ]; then
    echo "installing the project with the airflow and dev extras into $VENV (takes a few minutes the first time)"
    started=$SECONDS
    "${PIP[@]}" install -e '.[airflow,dev]'
    echo "$wanted" >"$STAMP"
    echo "installed in $((SECONDS - started)) s: $("$VENV/bin/python" -c 'from importlib.metadata import version as v; print("apache-airflow", v("apache-airflow"), "dlt", v("dlt"))')"
fi

export HARNESS_RUN_AIRFLOW_TESTS=1
# dlt, imported by the tests themselves, looks for Airflow Variables as soon as it reads any config,
# and Airflow then creates ~/airflow with a database in it. The tests give every Airflow they run a
# home of its own; pytest's process gets a throwaway one.
AIRFLOW_HOME="$(mktemp -d "${TMPDIR:-/tmp}/harness-airflow-home.XXXXXX")"
export AIRFLOW_HOME
trap 'rm -rf "$AIRFLOW_HOME"' EXIT
"$VENV/bin/python" -m pytest tests/airflow_dag -q -p no:cacheprovider "$@"
