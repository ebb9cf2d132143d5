"""Shared fixtures: a real emulator process in a clean state for each test, isolated dlt
pipelines, and helpers that run the source or the CLI against it."""

import contextlib
import io
import logging
import os
import pickle
import subprocess
import sys
import traceback
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from harness_emulator import EmulatorProcess
from harness_registry import RunReport, harness_registry_source
from harness_registry_pipelines.jsonschema_import import import_jsonschema

# Before any test module is collected: test_emulator_spec.py imports jsonschema at collection, in
# every worker, and test_notebook.py nbformat (which imports it); as the `notebook` command does,
# without the IRI grammar it would compile for formats none of them checks (jsonschema_import.py).
import_jsonschema()

REPO_ROOT = Path(__file__).resolve().parents[1]
CLI = REPO_ROOT / "pipelines" / "harness_registry_pipeline.py"
ZERO_TIME_MS = -62135596800000

# Fast, bounded retries for every test, in-process and in subprocesses alike.
TEST_RUNTIME_ENV = {
    "RUNTIME__REQUEST_MAX_ATTEMPTS": "3",
    "RUNTIME__REQUEST_BACKOFF_FACTOR": "0.05",
    "RUNTIME__REQUEST_MAX_RETRY_DELAY": "0.2",
    "RUNTIME__REQUEST_TIMEOUT": "5",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}


@pytest.fixture(autouse=True)
def isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's ~/.dlt, secrets or other tests' pipelines."""
    isolate_dlt(tmp_path, monkeypatch)


def isolate_dlt(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dlt's pipelines and the run locks in `folder`, the test settings, no developer's settings;
    for a fixture of a wider scope than a test's, which the autouse fixture has not isolated yet."""
    monkeypatch.setenv("DLT_DATA_DIR", str(folder / "dlt_data"))
    monkeypatch.setenv("HARNESS_REGISTRY_LOCK_DIR", str(folder / "locks"))
    for key, value in TEST_RUNTIME_ENV.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith(("SOURCES__", "DESTINATION__")):
            monkeypatch.delenv(key)


class SharedEmulator(EmulatorProcess):
    """A default emulator process that tests use one after another, in a clean state each time.

    Faults, triggers, latency, the rate limit, the tie order and the request log are reset over
    the control endpoints, and the seeded data is restored when a test may have changed it: this
    process notes every control call that may change the data (a mutation, a trigger, any call
    it does not know). Restoring costs the emulator ~0.04 s of CPU, a new process ~0.3 s.
    """

    # Control calls whose effect `reset()` undoes; any other call except a GET may change the data.
    RESETTABLE_CALLS = frozenset(
        {
            ("POST", "reset-log"),
            ("POST", "config"),
            ("POST", "faults"),
            ("DELETE", "faults"),
            ("DELETE", "triggers"),
            ("POST", "restore-data"),
        }
    )

    def __init__(self) -> None:
        super().__init__()
        self.data_may_have_changed = False
        # the answers of `dataset` while the data is the seeded data, pickled (a fresh copy each
        # time, ~1.6 ms, where a request costs the emulator ~10 ms to answer and this one ~4 ms)
        self._seeded_datasets: dict[tuple[Any, ...], bytes] = {}

    def control(self, method: str, endpoint: str, payload: Any = None, **query: str) -> Any:
        if method != "GET" and (method, endpoint) not in self.RESETTABLE_CALLS:
            self.data_may_have_changed = True
        return super().control(method, endpoint, payload, **query)

    def dataset(
        self, registry: str | None = None, *, versions: bool = False, artifacts: bool = True
    ) -> dict[str, Any]:
        """The ground truth, asked once per process for each set of arguments while the data is
        unchanged: tests ask for it many times, and every test starts from the same seeded
        data."""
        if self.data_may_have_changed:
            return super().dataset(registry, versions=versions, artifacts=artifacts)
        key = (registry, versions, artifacts)
        if key not in self._seeded_datasets:
            answer = super().dataset(registry, versions=versions, artifacts=artifacts)
            self._seeded_datasets[key] = pickle.dumps(answer)
        return pickle.loads(self._seeded_datasets[key])

    @property
    def running(self) -> bool:
        """Still running: a test may have stopped it."""
        return bool(self.base_url) and self.returncode is None

    def reset(self) -> None:
        """Back to the state of a new process: no faults or triggers, the seeded data, no latency
        or rate limit, ties in random order, an empty request log."""
        self.clear_faults()
        self.clear_triggers()  # first: a trigger left armed would change the restored data
        if self.data_may_have_changed:
            self.restore_data()
            self.data_may_have_changed = False
        self.set_config(latency_ms=0.0, rate_limit_per_minute=None, tie_order="random")
        self.reset_log()


class EmulatorLender:
    """Hands each test the shared emulator, reset, or a new one when the last test stopped it."""

    def __init__(self) -> None:
        self._current: SharedEmulator | None = None

    def lend(self) -> SharedEmulator:
        current = self._current
        if current is None or not current.running:
            if current is not None:
                current.stop()
            current = self._current = SharedEmulator().start()
        current.reset()
        return current

    def close(self) -> None:
        if self._current is not None:
            self._current.stop()
        self._current = None


@pytest.fixture(scope="session")
def emulator_lender() -> Iterator[EmulatorLender]:
    lender = EmulatorLender()
    yield lender
    lender.close()


@contextlib.contextmanager
def module_setup(
    emulator_lender: EmulatorLender, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[tuple[Path, SharedEmulator, pytest.MonkeyPatch]]:
    """For a fixture wider than a test (a load that several tests read): a folder of its own
    named `name`, dlt isolated in it as `isolated_dlt` does for a test, and the shared emulator,
    reset. The environment is put back on exit; the emulator goes back to the lender, which
    restores its data for the next test if the fixture changed it."""
    folder = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_dlt(folder, monkeypatch)
        yield folder, emulator_lender.lend(), monkeypatch


@pytest.fixture
def emulator(emulator_lender: EmulatorLender) -> EmulatorProcess:
    """An emulator process with the default seeded data and nothing else set, so tests may mutate
    it freely: a process shared with earlier tests, reset (its faults, triggers, configuration and
    request log, and its data restored after a test changed it), or a new one."""
    return emulator_lender.lend()


@pytest.fixture
def pipeline(tmp_path: Path) -> dlt.Pipeline:
    return make_pipeline(tmp_path)


def make_pipeline(tmp_path: Path, name: str = "harness_registry_test") -> dlt.Pipeline:
    database = str(tmp_path / "test.duckdb")
    pipeline = dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(database),
        dataset_name="harness_registry",
    )
    _DUCKDB_FILES[pipeline] = database
    _MADE_HERE.add(pipeline)
    return pipeline


def run_source(
    emulator: EmulatorProcess,
    pipeline: dlt.Pipeline,
    *,
    loader_file_format: str | None = "parquet",
    refresh: str | None = None,
    **source_args: Any,
) -> tuple[RunReport, Any]:
    """Runs the source against the emulator; returns the run report and dlt's load info."""
    report = RunReport()
    args: dict[str, Any] = {
        "base_url": emulator.base_url,
        "api_key": emulator.api_key,
        "requests_per_minute": 0,
        **source_args,
    }
    source = harness_registry_source(**args, report=report)
    with _one_duckdb_instance(pipeline):
        info = pipeline.run(source, loader_file_format=loader_file_format, refresh=refresh)
    return report, info


@contextlib.contextmanager
def _one_duckdb_instance(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Keeps the DuckDB database of a `make_pipeline` pipeline open while `pipeline` runs.

    dlt opens and closes the database about five times in a run, and DuckDB starts a new database
    instance (~20 ms of CPU) each time the file has no other connection in the process; with this
    one open, dlt's connections share its instance (what DuckDB does for connections to the same
    file with the same settings: dlt's to a plain file have none). The database is closed after
    the run, so that the test, a CLI process or a read-only reader then open it as before.
    """
    if pipeline not in _MADE_HERE:
        yield
        return
    with duckdb.connect(_DUCKDB_FILES[pipeline]):
        yield


def query(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    """Runs SQL on the pipeline's DuckDB file; `{ds}` stands for the dataset name."""
    return queries(pipeline, sql)[0]


def queries(pipeline: dlt.Pipeline, *sqls: str) -> list[list[tuple[Any, ...]]]:
    """The rows of each SQL, as `query` runs it, over one read-only connection: each connection
    to a file no one else has open starts a DuckDB instance, ~20 ms of CPU."""
    with duckdb.connect(duckdb_file(pipeline), read_only=True) as db:
        return [db.sql(sql.format(ds=pipeline.dataset_name)).fetchall() for sql in sqls]


# The DuckDB file of each pipeline a test queried or made with `make_pipeline`: a test's pipeline
# keeps its destination, and asking dlt for it resolves the destination's whole configuration
# again (~0.1 s of CPU).
_DUCKDB_FILES: weakref.WeakKeyDictionary[dlt.Pipeline, str] = weakref.WeakKeyDictionary()
# The pipelines `make_pipeline` made: a DuckDB file given as a plain path, nothing else configured.
_MADE_HERE: weakref.WeakSet[dlt.Pipeline] = weakref.WeakSet()


def duckdb_file(pipeline: dlt.Pipeline) -> str:
    if pipeline not in _DUCKDB_FILES:
        _DUCKDB_FILES[pipeline] = pipeline.destination_client().config.credentials.database
    return _DUCKDB_FILES[pipeline]


def loaded_artifacts(pipeline: dlt.Pipeline) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every `artifacts` row by key, with its labels from the child table, in load order."""
    columns = (
        "registry_ref, name, artifact_type, package_type, latest_version, downloads_count, "
        "is_quarantined, uuid, registry_uuid, registry_identifier, last_modified, labels_text, _dlt_id"
    )
    rows, label_rows = queries(
        pipeline,
        f"SELECT {columns} FROM {{ds}}.artifacts",
        "SELECT _dlt_parent_id, value FROM {ds}.artifacts__labels ORDER BY _dlt_list_idx",
    )
    labels: dict[str, list[str]] = {}
    for parent, value in label_rows:
        labels.setdefault(parent, []).append(value)
    names = [c.strip() for c in columns.split(",")]
    result = {}
    for row in rows:
        record = dict(zip(names, row, strict=True))
        record["labels"] = labels.get(record.pop("_dlt_id"), [])
        key = (record["registry_ref"], record["name"], record["artifact_type"])
        assert key not in result, f"duplicate row for {key}"
        result[key] = record
    return result


def expected_artifact(registry_ref: str, api_row: dict[str, Any]) -> dict[str, Any]:
    """What the loaded row must hold for one artifact as the emulator serves it (written from the
    API notes, independently of the source's own row shaping)."""
    millis = int(api_row["lastModified"])
    labels = api_row.get("labels") or []
    return {
        "registry_ref": registry_ref,
        "name": api_row["name"],
        "artifact_type": api_row.get("artifactType") or "",
        "package_type": api_row["packageType"],
        "latest_version": api_row["latestVersion"],
        "downloads_count": api_row["downloadsCount"],
        "is_quarantined": api_row["isQuarantined"],
        "uuid": api_row["uuid"],
        "registry_uuid": api_row["registryUUID"],
        "registry_identifier": api_row["registryIdentifier"],
        "last_modified": None
        if millis == ZERO_TIME_MS
        else datetime.fromtimestamp(millis / 1000, tz=UTC),
        "labels_text": ", ".join(labels) if labels else None,
        "labels": list(labels),
    }


def expected_artifacts(
    emulator: EmulatorProcess, registry_refs: list[str]
) -> dict[tuple[str, str, str], dict[str, Any]]:
    truth = emulator.dataset()["artifacts"]
    expected = {}
    for ref in registry_refs:
        for api_row in truth[ref]:
            row = expected_artifact(ref, api_row)
            expected[(ref, row["name"], row["artifact_type"])] = row
    return expected


def normalize_times(rows: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """DuckDB returns aware timestamps in the session time zone; compare them in UTC."""
    for row in rows.values():
        if isinstance(row.get("last_modified"), datetime):
            row["last_modified"] = row["last_modified"].astimezone(UTC)
    return rows


def readable_registries(emulator: EmulatorProcess) -> list[str]:
    return [
        r["path"]
        for r in emulator.dataset()["registries"]
        if not r.get("forbidden") and not r.get("deleted")
    ]


def artifact_requests(emulator: EmulatorProcess, registry_ref: str) -> list[dict[str, Any]]:
    """The API requests the emulator saw for one registry's artifacts, in order."""
    marker = f"/registry/{registry_ref}/+/artifacts"
    return [r for r in emulator.requests_log() if r["path"].split("?")[0].endswith(marker)]


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Runs the CLI as a user would, from the repository root, with the test's environment."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, str(CLI), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def call_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """Runs the CLI's `main(args)` in this process as `run_cli` runs it in a new one: the test's
    environment plus `env`, from `cwd` (dlt's settings read from its `.dlt/`), standard input
    `stdin`, and standard output and error captured, the logs included. Everything `main` may
    change (the environment, the working directory, logging, dlt's settings) is put back after.

    A new Python process costs ~1.5 s of CPU before the CLI does anything; tests of what the CLI
    says and does (messages, exit codes, summaries, help) call it here. Tests whose subject is the
    process itself (a command as pasted, signals, the lock between processes, the console script,
    the key kept out of a real process's output) keep `run_cli`.
    """
    from harness_registry_pipelines.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        _cli_process_state([str(CLI), *args], env or {}, cwd, stderr),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        _replaced_stdin(io.StringIO(stdin)),
    ):
        try:
            code = main(list(args))
        except SystemExit as leaving:  # argparse's --help and usage errors
            code = _exit_status(leaving.code)
        except BaseException:  # as the interpreter reports an uncaught error (--verbose)
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(
        [sys.executable, str(CLI), *args], code, stdout.getvalue(), stderr.getvalue()
    )


def _exit_status(code: object) -> int:
    """The process exit status `sys.exit(code)` gives, printing a message as Python does."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


@contextlib.contextmanager
def _replaced_stdin(stream: io.StringIO) -> Iterator[None]:
    saved = sys.stdin
    sys.stdin = stream
    try:
        yield
    finally:
        sys.stdin = saved


@contextlib.contextmanager
def _cli_process_state(
    argv: list[str], env: dict[str, str], cwd: Path, stderr: io.StringIO
) -> Iterator[None]:
    """The environment, working directory, dlt settings and log handlers of a new CLI process,
    restored afterwards so that the next test sees this process as it was."""
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_argv = sys.argv
    root = logging.getLogger()
    root_handlers, root_level = root.handlers[:], root.level
    urllib3_level = logging.getLogger("urllib3").level
    dlt_handlers: list[logging.StreamHandler] = []
    dlt_streams: list[Any] = []
    try:
        os.environ.update(env)
        os.chdir(cwd)
        sys.argv = argv  # argparse names the program after argv[0]
        dlt.current.run_context().reload()  # dlt's settings as a process in `cwd` reads them
        root.handlers = []  # the CLI's logging.basicConfig adds its handler, on this stderr
        # dlt logs through a handler of its own, made once per process: onto this stderr too
        dlt_handlers = [
            h for h in logging.getLogger("dlt").handlers if isinstance(h, logging.StreamHandler)
        ]
        dlt_streams = [handler.setStream(stderr) for handler in dlt_handlers]
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = root_handlers, root_level
        logging.getLogger("urllib3").setLevel(urllib3_level)
        for handler, stream in zip(dlt_handlers, dlt_streams, strict=True):
            handler.setStream(stream)
        sys.argv = saved_argv
        for key in set(os.environ) - set(saved_env):
            del os.environ[key]
        for key, value in saved_env.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        os.chdir(saved_cwd)
        dlt.current.run_context().reload()


def cli_env(emulator, tmp_path: Path, api_key: str | None = None) -> dict[str, str]:
    return {
        "SOURCES__HARNESS_REGISTRY__API_KEY": api_key if api_key is not None else emulator.api_key,
        "SOURCES__HARNESS_REGISTRY__BASE_URL": emulator.base_url,
        "SOURCES__HARNESS_REGISTRY__REQUESTS_PER_MINUTE": "0",
        "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "cli.duckdb"),
    }


def registry_args(refs):
    return [arg for ref in refs for arg in ("--registry", ref)]


# The modules whose tests each take several seconds (README commands and notebooks as pasted, kills,
# Delta and Iceberg runs). pytest-xdist hands tests out in collection order and a worker cannot
# steal a test that has started, so a long test collected last can leave the other core idle at
# the end: these go first. Order only; every test runs either way.
SLOW_MODULES_FIRST = (
    "test_readme_commands.py",
    "test_notebook.py",
    "test_interrupted.py",
    "test_lakehouse.py",
    "test_security.py",
    "test_concurrency.py",
)


# The modules whose tests run no dlt pipeline and no CLI process: units with fake clients, the
# emulator over HTTP, the option and report-SQL checks. `make test-fast` (`pytest -m quick`) runs
# them, for the edit-test loop; `make test` runs everything. A module left off this list only
# makes the quick tier smaller, never `make test`.
QUICK_MODULES = frozenset(
    {
        "test_cli_help.py",
        "test_client_retries.py",
        "test_cursors.py",
        "test_docs_links.py",
        "test_emulator_artifacts.py",
        "test_emulator_bench_lazy.py",
        "test_emulator_faults.py",
        "test_emulator_mutations.py",
        "test_emulator_process.py",
        "test_emulator_registries.py",
        "test_emulator_spec.py",
        "test_emulator_versions.py",
        "test_options.py",
        "test_paginator.py",
        "test_report_output.py",
        "test_report_sql.py",
        "test_targets.py",
        "test_unit_paginator.py",
        "test_unit_races.py",
        "test_unit_rows.py",
        "test_unit_scheduler.py",
        "test_unit_versions.py",
        "test_validation.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in QUICK_MODULES:
            item.add_marker(pytest.mark.quick)

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return (
            SLOW_MODULES_FIRST.index(name)
            if name in SLOW_MODULES_FIRST
            else len(SLOW_MODULES_FIRST)
        )

    items.sort(key=rank)  # stable: the order within and among the other modules is kept
