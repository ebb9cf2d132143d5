"""The Airflow DAG, run for real: `airflow dags test` against the emulator, in a throwaway AIRFLOW_HOME.

Airflow 3 is not in the `dev` extra: `make test-airflow` (tests/airflow_dag/run_airflow_test.sh) builds
`.venv-airflow` and runs these tests there with HARNESS_RUN_AIRFLOW_TESTS=1; `make test` skips them.
Airflow runs in subprocesses only, so this process never reads or writes an Airflow home.
"""

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

if os.environ.get("HARNESS_RUN_AIRFLOW_TESTS") != "1":
    pytest.skip(
        "Airflow DAG tests run with `make test-airflow` (own .venv-airflow with Airflow 3); "
        "set HARNESS_RUN_AIRFLOW_TESTS=1 to run them here",
        allow_module_level=True,
    )
try:
    # the installed distribution, not `find_spec("airflow")`, which any folder named airflow on
    # sys.path would satisfy
    AIRFLOW_VERSION = importlib.metadata.version("apache-airflow")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "apache-airflow is not installed in this interpreter: run `make test-airflow`",
        allow_module_level=True,
    )

import duckdb

from harness_emulator import EmulatorProcess  # the `emulator` fixture is in tests/conftest.py

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = REPO_ROOT / "pipelines" / "harness_registry_dag.py"
DAG_ID = "harness_registry"
TASK_ID = "harness_registry.harness_registry"
DATASET = "harness_airflow"
AIRFLOW_TIMEOUT = 300

CHECK_DAG = """
import json
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
except ImportError:
    from airflow.models.dagbag import DagBag

bag = DagBag()  # the dags folder; examples are off in the environment
dag = bag.dags.get("harness_registry")
print(json.dumps({
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "schedule": str(dag.schedule) if dag else None,
    "catchup": dag.catchup if dag else None,
    "max_active_runs": dag.max_active_runs if dag else None,
    "tasks": {
        t.task_id: {"retries": t.retries, "retry_delay": t.retry_delay.total_seconds()}
        for t in (dag.tasks if dag else [])
    },
}))
"""


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated Airflow home in tmp, and a dags folder holding a symlink to the DAG file (as the
    DAG's docstring advises). Nothing of the developer's environment reaches Airflow or dlt."""
    root = tmp_path_factory.mktemp("airflow")
    dags = root / "dags"
    dags.mkdir()
    (dags / DAG_FILE.name).symlink_to(DAG_FILE)
    (root / "airflow_home").mkdir()
    (root / "tmp").mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "SOURCES__", "DESTINATION__", "HARNESS_REGISTRY", "DLT_"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(root / "airflow_home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(root / "logs"),
            # PipelineTasksGroup makes dlt's per-run data folders in the temp dir
            "TMPDIR": str(root / "tmp"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "HARNESS_REGISTRY_PIPELINE__DATASET_NAME": DATASET,
            "PYTHONUNBUFFERED": "1",
        }
    )
    # dlt reads Airflow Variables as a config provider, even at parse time: the tables must exist
    check_ok(airflow(env, "db", "migrate"), "airflow db migrate")
    # Airflow 3 lists (and `dags test` finds) a DAG only once it is serialized to the database
    check_ok(airflow(env, "dags", "reserialize"), "airflow dags reserialize")
    return env


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the `airflow` command of this interpreter (.venv-airflow)."""
    return python(env, "-m", "airflow", *args)


def python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Runs this interpreter in the Airflow home, away from the repository's .dlt folder."""
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=env["AIRFLOW_HOME"],
        capture_output=True,
        text=True,
        timeout=AIRFLOW_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def dags_test(env: dict[str, str], logical_date: str) -> tuple[str, str]:
    """`airflow dags test` of the DAG; returns how it ended ("success", "failed", "up_for_retry")
    and its output. A failed task is retried after minutes, and `dags test` waits for it: the first
    `up_for_retry` ends the command instead."""
    log_path = Path(env["AIRFLOW_HOME"]) / f"dags_test_{logical_date[:10]}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, logical_date],
            env=env,
            cwd=env["AIRFLOW_HOME"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + AIRFLOW_TIMEOUT
        outcome = ""
        while process.poll() is None:
            if "new_state=up_for_retry" in log_path.read_text(errors="replace"):
                outcome = "up_for_retry"
            elif time.monotonic() > deadline:
                outcome = "timeout"
            if outcome:
                process.kill()
                process.wait()
                break
            time.sleep(0.5)
    output = log_path.read_text(errors="replace")
    if not outcome:
        outcome = "success" if process.returncode == 0 else "failed"
    return outcome, output


def task_error(output: str) -> str:
    """The task's exception, from `dags test` output, for assertion messages."""
    start = output.find("Task failed with exception")
    return output[start : start + 8000] if start >= 0 else output[-8000:]


def check_ok(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, (
        f"{what} exited {result.returncode}\n--- stdout ---\n{result.stdout[-6000:]}"
        f"\n--- stderr ---\n{result.stderr[-6000:]}"
    )


def source_env(
    airflow_env: dict[str, str], emulator: EmulatorProcess, registries: list[str], duckdb_file: Path
) -> dict[str, str]:
    """The DAG's configuration: dlt's environment variables only."""
    return {
        **airflow_env,
        "SOURCES__HARNESS_REGISTRY__REGISTRIES": json.dumps(registries),
        "SOURCES__HARNESS_REGISTRY__BASE_URL": emulator.base_url,
        "SOURCES__HARNESS_REGISTRY__API_KEY": emulator.api_key,
        "SOURCES__HARNESS_REGISTRY__REQUESTS_PER_MINUTE": "0",
        "DESTINATION__DUCKDB__CREDENTIALS": str(duckdb_file),
    }


def readable_registries(emulator: EmulatorProcess) -> list[str]:
    return [
        r["path"]
        for r in emulator.dataset()["registries"]
        if not r.get("forbidden") and not r.get("deleted")
    ]


def loaded_counts(duckdb_file: Path) -> Counter[str]:
    with duckdb.connect(str(duckdb_file), read_only=True) as db:
        rows = db.sql(
            f"SELECT registry_ref, count(*) FROM {DATASET}.artifacts GROUP BY 1"
        ).fetchall()
    return Counter(dict(rows))


def dlt_leftovers(env: dict[str, str]) -> list[str]:
    """dlt data folders (`dlt_<id>`) left in the temp dir by parses and runs of the DAG."""
    return sorted(p.name for p in Path(env["TMPDIR"]).glob("dlt_*"))


def test_dag_definition(airflow_env: dict[str, str]) -> None:
    """Hourly, no catch-up, one run at a time, retried: read back from a DagBag."""
    assert AIRFLOW_VERSION.split(".")[0] == "3", AIRFLOW_VERSION
    result = python(
        {**airflow_env, "SOURCES__HARNESS_REGISTRY__API_KEY": "not-used-at-parse-time"},
        "-c",
        CHECK_DAG,
    )
    check_ok(result, "DagBag")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["import_errors"] == {}
    assert found["schedule"] == "@hourly"
    assert found["catchup"] is False
    assert found["max_active_runs"] == 1
    assert list(found["tasks"]) == [TASK_ID]
    for task in found["tasks"].values():
        assert task["retries"] >= 1
        assert task["retry_delay"] > 0


def test_dag_parses_without_source_config(airflow_env: dict[str, str]) -> None:
    """A dag processor without the API key or registries still parses the file (the source is built
    when the task runs), and a parse leaves no dlt folder behind."""
    result = python(airflow_env, "-c", CHECK_DAG)
    check_ok(result, "DagBag")
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["import_errors"] == {}
    assert list(found["tasks"]) == [TASK_ID]
    assert dlt_leftovers(airflow_env) == []


def test_dags_test_loads_every_artifact(
    airflow_env: dict[str, str], emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """`airflow dags test` runs the DAG against the emulator; every readable artifact lands."""
    duckdb_file = tmp_path / "harness_registry.duckdb"
    readable = readable_registries(emulator)
    assert readable, "the emulator serves no readable registry"
    env = source_env(airflow_env, emulator, readable, duckdb_file)

    listed = airflow(env, "dags", "list", "--output", "json")
    check_ok(listed, "airflow dags list")
    # Airflow logs to stdout too: the JSON is the last line
    assert DAG_ID in {d["dag_id"] for d in json.loads(listed.stdout.strip().splitlines()[-1])}

    outcome, output = dags_test(env, "2025-06-01T00:00:00+00:00")
    assert outcome == "success", task_error(output)

    truth = emulator.dataset()["artifacts"]
    expected = Counter({ref: len(truth[ref]) for ref in readable})
    assert loaded_counts(duckdb_file) == +expected  # +: registries without artifacts have no rows
    assert sum(expected.values()) > 0
    # the helper wipes the pipeline's working folder, the DAG the data folder around it
    assert dlt_leftovers(env) == []

    # the next hourly run starts from the cursors kept in the destination: nothing is duplicated
    outcome, output = dags_test(env, "2025-06-01T01:00:00+00:00")
    assert outcome == "success", task_error(output)
    assert loaded_counts(duckdb_file) == +expected


def test_unreadable_registry_fails_the_task_after_loading_the_others(
    airflow_env: dict[str, str], emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """As the CLI exits 3: the readable registries are committed, then the task fails (and is
    retried)."""
    forbidden = [r["path"] for r in emulator.dataset()["registries"] if r.get("forbidden")]
    if not forbidden:
        pytest.skip("the emulator's data has no forbidden registry")
    readable = readable_registries(emulator)[:1]
    duckdb_file = tmp_path / "partial.duckdb"
    env = source_env(airflow_env, emulator, [*readable, forbidden[0]], duckdb_file)

    outcome, output = dags_test(env, "2025-06-02T00:00:00+00:00")

    assert outcome == "up_for_retry", task_error(output)
    assert "could not be read" in output and forbidden[0] in output, task_error(output)
    truth = emulator.dataset()["artifacts"]
    assert loaded_counts(duckdb_file) == +Counter({readable[0]: len(truth[readable[0]])})


def test_missing_configuration_fails_without_retries(
    airflow_env: dict[str, str], emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """No DuckDB path (the file would land in the throwaway data folder): the task fails at once,
    with the variable to set, and is not retried."""
    env = source_env(airflow_env, emulator, readable_registries(emulator), tmp_path / "x.duckdb")
    del env["DESTINATION__DUCKDB__CREDENTIALS"]

    outcome, output = dags_test(env, "2025-06-03T00:00:00+00:00")

    assert outcome == "failed", task_error(output)
    assert "set DESTINATION__DUCKDB__CREDENTIALS" in output, task_error(output)
    assert not list(Path(env["TMPDIR"]).rglob("*.duckdb"))
    assert not [r for r in emulator.requests_log() if "/artifacts" in r["path"]]
