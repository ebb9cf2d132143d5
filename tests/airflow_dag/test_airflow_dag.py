"""The Airflow DAG, run for real: `airflow dags test` against the emulator, in a throwaway AIRFLOW_HOME.

Airflow 3 is not in the `dev` extra: `make test-airflow` (tests/airflow_dag/run_airflow_test.sh) builds
`.venv-airflow` and runs these tests there with HARNESS_RUN_AIRFLOW_TESTS=1; `make test` skips them.
Airflow runs in subprocesses only, each with the module's Airflow home; this process gets a throwaway
one from run_airflow_test.sh (dlt would make Airflow create ~/airflow otherwise).

The DAG is tested in both shapes: its single task (no targets configured) and one mapped task
instance per target (`HARNESS_REGISTRY_PIPELINE__TARGETS`), the latter against two emulators, one
per account, each with its own key.
"""

import importlib.metadata
import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
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
from dlt.common.versioned_state import decompress_state

from harness_emulator import EmulatorProcess  # the `emulator` fixture is in tests/conftest.py

REPO_ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = REPO_ROOT / "pipelines" / "harness_registry_dag.py"
DAG_ID = "harness_registry"
TASK_ID = "harness_registry.harness_registry"
TARGET_TASK_ID = "harness_registry.load_target"
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


# The DAG as several configurations see it: one DagBag per environment, all in one interpreter (each
# Airflow start-up costs seconds). Reads a JSON list of {variable: value or null} from stdin.
CHECK_DAG_VARIANTS = """
import json, os, sys
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
except ImportError:
    from airflow.models.dagbag import DagBag

found = []
for variant in json.load(sys.stdin):
    for key, value in variant.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    bag = DagBag()
    dag = bag.dags.get("harness_registry")
    found.append({
        "import_errors": [str(v) for v in bag.import_errors.values()],
        "tasks": {
            t.task_id: {
                "mapped": t.is_mapped,
                "targets": [kw["target_name"] for kw in t.expand_input.value["op_kwargs"]]
                if t.is_mapped else None,
                "max_active_tis_per_dagrun": t.max_active_tis_per_dagrun,
                "pool": t.pool,
                "retries": t.retries,
            }
            for t in (dag.tasks if dag else [])
        },
    })
print(json.dumps(found))
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


def task_states(env: dict[str, str], logical_date: str) -> dict[tuple[str, int], str]:
    """The state of each task instance of the DAG run at `logical_date`, by (task id, map index),
    as Airflow's CLI reports them."""
    runs = airflow(env, "dags", "list-runs", DAG_ID, "--output", "json")
    check_ok(runs, "airflow dags list-runs")
    wanted = datetime.fromisoformat(logical_date)
    (run_id,) = [
        run["run_id"]
        for run in json.loads(runs.stdout.strip().splitlines()[-1])
        if run["logical_date"] and datetime.fromisoformat(run["logical_date"]) == wanted
    ]
    states = airflow(env, "tasks", "states-for-dag-run", DAG_ID, run_id, "--output", "json")
    check_ok(states, "airflow tasks states-for-dag-run")
    return {
        (ti["task_id"], int(ti["map_index"])): ti["state"]
        for ti in json.loads(states.stdout.strip().splitlines()[-1])
    }


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


def check_dag_variants(
    airflow_env: dict[str, str], variants: list[dict[str, str | None]]
) -> list[dict]:
    """What a DagBag finds under each environment variant, applied one after the other."""
    result = subprocess.run(
        [sys.executable, "-c", CHECK_DAG_VARIANTS],
        env=airflow_env,
        cwd=airflow_env["AIRFLOW_HOME"],
        capture_output=True,
        text=True,
        timeout=AIRFLOW_TIMEOUT,
        input=json.dumps(variants),
    )
    check_ok(result, "DagBag")
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_targets_map_one_task_instance_each(airflow_env: dict[str, str]) -> None:
    """With targets the DAG maps one task instance per target name (never a key): one at a time
    into a DuckDB file, side by side into a warehouse, in a pool when one is named; a malformed
    list is one import error naming the fault."""
    targets = json.dumps(
        [
            {"name": "acme", "spaces": ["acme"]},
            {"name": "onprem", "registries": ["main/docker"], "base_url": "https://har.example"},
        ]
    )
    duckdb_run, postgres_run, pooled, repeated, with_key = check_dag_variants(
        airflow_env,
        [
            {"HARNESS_REGISTRY_PIPELINE__TARGETS": targets},
            {"HARNESS_REGISTRY_PIPELINE__DESTINATION": "postgres"},
            {"HARNESS_REGISTRY_PIPELINE__POOL": "harness_loads"},
            {
                "HARNESS_REGISTRY_PIPELINE__TARGETS": json.dumps(
                    [{"name": "acme", "spaces": ["acme"]}, {"name": "acme", "spaces": ["acme/x"]}]
                ),
                "HARNESS_REGISTRY_PIPELINE__DESTINATION": None,
                "HARNESS_REGISTRY_PIPELINE__POOL": None,
            },
            {
                "HARNESS_REGISTRY_PIPELINE__TARGETS": json.dumps(
                    [{"name": "acme", "spaces": ["acme"], "api_key": "pat.never.shown"}]
                )
            },
        ],
    )

    assert duckdb_run["import_errors"] == []
    assert duckdb_run["tasks"] == {
        TARGET_TASK_ID: {
            "mapped": True,
            "targets": ["acme", "onprem"],
            "max_active_tis_per_dagrun": 1,
            "pool": "default_pool",
            "retries": 2,
        }
    }
    assert postgres_run["tasks"][TARGET_TASK_ID]["max_active_tis_per_dagrun"] is None
    assert postgres_run["tasks"][TARGET_TASK_ID]["pool"] == "default_pool"
    assert pooled["tasks"][TARGET_TASK_ID]["pool"] == "harness_loads"

    assert repeated["tasks"] == {}
    (error,) = repeated["import_errors"]
    assert "harness_registry_pipeline.targets: the name 'acme' is used twice" in error
    (error,) = with_key["import_errors"]
    assert "'acme' holds an api_key" in error and "api_key_secret" in error
    assert "pat.never.shown" not in error
    assert dlt_leftovers(airflow_env) == []


def artifact_keys(
    emulator: EmulatorProcess, registries: list[str]
) -> Counter[tuple[str, str, str]]:
    """The emulator's artifacts in `registries`, as (registry_ref, name, artifact_type) keys."""
    truth = emulator.dataset()["artifacts"]
    return Counter(
        (ref, artifact["name"], artifact.get("artifactType") or "")
        for ref in registries
        for artifact in truth[ref]
    )


def loaded_keys(duckdb_file: Path) -> Counter[tuple[str, str, str]]:
    with duckdb.connect(str(duckdb_file), read_only=True) as db:
        rows = db.sql(
            f"SELECT registry_ref, name, artifact_type FROM {DATASET}.artifacts"
        ).fetchall()
    return Counter(rows)


def pipeline_cursors(duckdb_file: Path) -> dict[str, set[str]]:
    """The registries with an incremental cursor in each pipeline's newest state, as dlt stored
    it in the destination (decoded here: a dlt pipeline in this process would look for Airflow
    Variables in an Airflow home)."""
    with duckdb.connect(str(duckdb_file), read_only=True) as db:
        rows = db.sql(
            f"SELECT pipeline_name, state FROM {DATASET}._dlt_pipeline_state "
            "QUALIFY row_number() OVER (PARTITION BY pipeline_name ORDER BY version DESC) = 1"
        ).fetchall()
    return {
        name: set(
            decompress_state(state)["sources"]["harness_registry"]["resources"]["artifacts"][
                "cursors"
            ]
        )
        for name, state in rows
    }


def test_targets_load_side_by_side_into_one_dataset(
    airflow_env: dict[str, str], tmp_path: Path
) -> None:
    """Two accounts on two servers, each with its own key, a third target whose key the server
    refuses and a fourth with no key: the two load exactly their servers' artifacts into one
    dataset, each pipeline with its own state; the others fail their own task instances alone, at
    once (a retry would not fix a key)."""
    acme_key, globex_key = "acme-account-key", "globex-account-key"
    with (
        EmulatorProcess(seed=42, api_key=acme_key) as acme_server,
        EmulatorProcess(seed=7, api_key=globex_key) as globex_server,
    ):
        acme = [r for r in readable_registries(acme_server) if r.startswith("acme/")]
        globex = [
            r["path"]
            for r in globex_server.dataset()["registries"]
            if r["path"].startswith("globex/")
        ]
        assert acme and globex
        assert not [
            r
            for r in globex_server.dataset()["registries"]
            if r["path"] in globex and (r["forbidden"] or r["deleted"])
        ], "the globex space must be readable in full"
        duckdb_file = tmp_path / "targets.duckdb"
        targets = [
            {"name": "acme", "registries": acme, "base_url": acme_server.base_url},
            # a space, found at run time, and a key at a secret path of one's own
            {
                "name": "globex",
                "spaces": ["globex"],
                "base_url": globex_server.base_url,
                "api_key_secret": "harness_keys.globex",
            },
            {"name": "stale_key", "registries": acme[:1], "base_url": acme_server.base_url},
            # no key anywhere: fails before any request
            {"name": "no_key", "registries": acme[:1], "base_url": acme_server.base_url},
        ]
        env = {
            **airflow_env,
            "HARNESS_REGISTRY_PIPELINE__TARGETS": json.dumps(targets),
            "SOURCES__HARNESS_REGISTRY__TARGETS__ACME__API_KEY": acme_key,
            "HARNESS_KEYS__GLOBEX": globex_key,
            # globex's key, sent to acme's server
            "SOURCES__HARNESS_REGISTRY__TARGETS__STALE_KEY__API_KEY": globex_key,
            # shared by the targets that do not set it
            "SOURCES__HARNESS_REGISTRY__REQUESTS_PER_MINUTE": "0",
            # the single task's scope, which must not leak into any target: a forbidden registry
            "SOURCES__HARNESS_REGISTRY__REGISTRIES": json.dumps(["acme/platform/locked"]),
            "DESTINATION__DUCKDB__CREDENTIALS": str(duckdb_file),
        }
        logical_date = "2025-06-04T00:00:00+00:00"

        outcome, output = dags_test(env, logical_date)

        # the run fails, because one target failed, and only that one
        assert outcome == "failed", task_error(output)
        assert task_states(env, logical_date) == {
            (TARGET_TASK_ID, 0): "success",
            (TARGET_TASK_ID, 1): "success",
            (TARGET_TASK_ID, 2): "failed",
            (TARGET_TASK_ID, 3): "failed",
        }, task_error(output)
        assert (
            "target 'stale_key': the server refused the key at "
            "sources.harness_registry.targets.stale_key.api_key (401)" in output
        ), task_error(output)
        assert (
            "target 'no_key': configuration: no API key at "
            "sources.harness_registry.targets.no_key.api_key: set it in .dlt/secrets.toml"
        ) in output, task_error(output)
        assert acme_key not in output and globex_key not in output

        expected = artifact_keys(acme_server, acme) + artifact_keys(globex_server, globex)
        assert loaded_keys(duckdb_file) == expected
        with duckdb.connect(str(duckdb_file), read_only=True) as db:
            listed = db.sql(f"SELECT path FROM {DATASET}.registries").fetchall()
        assert sorted(path for (path,) in listed) == sorted(globex)
        # a pipeline, and a state, per target; none for those without a usable key
        assert pipeline_cursors(duckdb_file) == {
            "harness_registry_acme": set(acme),
            "harness_registry_globex": set(globex),
        }
        assert dlt_leftovers(env) == []
        # the refused key was sent once, not retried request after request; no_key sent nothing
        assert [r["status"] for r in acme_server.requests_log() if r.get("status") == 401] == [401]
