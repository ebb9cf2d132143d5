"""Airflow 3 DAG `harness_registry`: loads Harness Artifact Registry artifacts with dlt, every hour.

Built on dlt's Airflow helper (`PipelineTasksGroup`): each task runs a dlt pipeline in a fresh dlt
working folder that is wiped afterwards; the incremental cursors live in the destination, so every
run carries on where the last one stopped.

One task, or one mapped task per target
---------------------------------------
With no targets configured the DAG has one task, `harness_registry.harness_registry`, which loads
what `[sources.harness_registry]` names with the key there.

One Harness SaaS key allows 400 requests a minute, so one worker saturates one key. To go past it,
list targets, each an account, a set of spaces or registries, or a self-managed server (which has
no limit), with its own key: the DAG then maps one task instance per target
(`harness_registry.load_target`, dynamic task mapping, so any executor runs them: Local, Celery,
Kubernetes). Each runs its own dlt pipeline, `<pipeline_name>_<target name>`, with its own state
(cursors), and all of them load into the one dataset:

    # .dlt/config.toml in the dags folder
    [harness_registry_pipeline]
    targets = [
        {name = "acme", spaces = ["acme"]},
        {name = "globex", registries = ["globex/releases", "globex/ops/infra-images"]},
        {name = "onprem", spaces = ["main"], base_url = "https://har.internal.example",
         requests_per_minute = 0, api_key_secret = "sources.harness_registry.targets.onprem.api_key"},
    ]

or the same list as JSON in `HARNESS_REGISTRY_PIPELINE__TARGETS`. A target takes `name` (lower
case letters, digits and _, unique), `registries` and/or `spaces`, and optionally `api_key_secret`,
`base_url` and any other source option but `mode` (`package_types`, `requests_per_minute`,
`page_size`, ...); what it leaves out comes from `[sources.harness_registry]`, except the registries
and spaces, which are the target's alone. A malformed list (a repeated name, an unknown field, a bad
ref) is one import error naming the target and the field.

Keys: a target names where its key is, never the key. `api_key_secret` is a dlt secret path,
by default `sources.harness_registry.targets.<name>.api_key`, read when the task runs from
`.dlt/secrets.toml` in the dags folder, the Airflow Variable `dlt_secrets_toml` (secrets.toml
content) or the workers' environment (`SOURCES__HARNESS_REGISTRY__TARGETS__ACME__API_KEY`). The
mapped task's only argument is the target's name: task arguments show in the Airflow UI and the
metadata database.

Side by side, or one at a time: a DuckDB file has one writer (a second process cannot even open it
to read the pipeline state while a load holds it), so with the `duckdb` destination the target
tasks run one at a time (`max_active_tis_per_dagrun=1`): each at its own key's full rate, but one
after the other. With a warehouse (PostgreSQL, BigQuery, Snowflake, MotherDuck...) they run side by
side, as many as the executor's slots allow: that is where several keys pay off. To cap them, or to
serialise a DuckDB file that other DAGs also write, create an Airflow pool and name it in
`[harness_registry_pipeline] pool` (`airflow pools set harness_registry 2 "Harness loads"`;
`HARNESS_REGISTRY_PIPELINE__POOL=harness_registry`). On Celery or Kubernetes a DuckDB file must sit
on storage every worker mounts; a warehouse or MotherDuck is the better fit there.

A target that fails fails only its own task instance; the others load. A target whose key is
refused, or whose configuration is wrong, fails at once without retries; one with registries that
could not be read is retried after its readable registries were loaded (as the CLI exits 3).

Deploy
------
1. Install the project and Airflow on the workers: `pip install -e '.[airflow]'` from a clone of
   this repository (or `make test-airflow`, which builds `.venv-airflow` with both).
2. Put this file into the Airflow dags folder, as a copy or a symlink. It imports only the installed
   packages `harness_registry` and `harness_registry_pipelines`:

       ln -s "$PWD/pipelines/harness_registry_dag.py" "$AIRFLOW_HOME/dags/"
3. Configure it the dlt way; nothing is set in this file. Environment variables of the workers:

       SOURCES__HARNESS_REGISTRY__REGISTRIES='["acme/shared-docker", "acme/data/pypi"]'
       SOURCES__HARNESS_REGISTRY__SPACES='["acme"]'           # optional: every registry below
       SOURCES__HARNESS_REGISTRY__API_KEY=pat.xxxx             # a secret, see below
       SOURCES__HARNESS_REGISTRY__BASE_URL=https://app.harness.io
       DESTINATION__DUCKDB__CREDENTIALS=/data/harness_registry.duckdb   # an absolute path
       RUNTIME__DLTHUB_TELEMETRY=false                         # as the repository's config.toml

   (or `HARNESS_REGISTRY_PIPELINE__TARGETS` and a key per target, above) and, optionally, what the
   CLI reads from `[harness_registry_pipeline]` (same defaults):

       HARNESS_REGISTRY_PIPELINE__PIPELINE_NAME=...   HARNESS_REGISTRY_PIPELINE__DATASET_NAME=...
       HARNESS_REGISTRY_PIPELINE__DESTINATION=duckdb  # or postgres, ... (DESTINATION__POSTGRES__...)

   The same keys can live in `.dlt/config.toml` and `.dlt/secrets.toml` inside the dags folder (the
   helper points dlt's project folder there; copy this repository's `.dlt/config.toml` as a start),
   and secrets in the Airflow Variable `dlt_secrets_toml` (secrets.toml content), which dlt reads.
   With DuckDB, `DESTINATION__DUCKDB__CREDENTIALS` must be set: without it dlt would write the file
   into the task's throwaway data folder, so the task refuses to run. A configuration error fails
   the task without retries.
4. `airflow dags reserialize` (or wait for the dag processor), then unpause `harness_registry`.

Schedule: hourly, `catchup=False` and `max_active_runs=1`, so a paused or broken DAG does not
start a storm of backfill runs and two loads never overlap. A failed task is retried (see
`DEFAULT_ARGS`). The task fails when a registry could not be read even though the other registries
were loaded and committed, as the CLI exits 3 then; the retry reads only what moved since.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG

try:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 3.0
    from airflow.exceptions import AirflowException, AirflowFailException

import dlt
from airflow.providers.standard.operators.python import PythonOperator
from dlt.common.destination import Destination
from dlt.common.known_env import DLT_DATA_DIR, DLT_LOCAL_DIR
from dlt.helpers.airflow_helper import PipelineTasksGroup

from harness_registry import AuthError, RunReport, harness_registry_source
from harness_registry_pipelines.cli import describe, error_chain
from harness_registry_pipelines.exit_codes import EXIT_CONFIG
from harness_registry_pipelines.runner import (
    PIPELINE_SECTION,
    PipelineSettings,
    destination_kind,
    duckdb_database,
    load_source,
    loader_file_format,
    pipeline_settings,
)
from harness_registry_pipelines.targets import Target, configured_targets, secret_env_var

DAG_ID = "harness_registry"
TARGET_TASK_ID = "load_target"
# Destinations whose data is one file with one writer: their target tasks run one at a time.
SINGLE_WRITER_DESTINATIONS = frozenset({"duckdb"})

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-platform",
    "depends_on_past": False,
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    # a load that hangs must not hold the single active run slot for ever; a first full load of a
    # large account takes far less (the HTTP client has its own timeouts too)
    "execution_timeout": timedelta(hours=3),
}

logger = logging.getLogger("harness_registry")


def check_duckdb_file(pipeline: dlt.Pipeline, throwaway_folders: Iterable[str | None]) -> None:
    """A DuckDB file with no configured path would land in a throwaway data folder and be wiped."""
    configured = duckdb_database(pipeline)
    if configured is None:
        return
    database = os.path.abspath(configured)
    throwaway = {os.path.abspath(folder) for folder in throwaway_folders if folder}
    if any(database.startswith(folder + os.sep) for folder in throwaway):
        raise AirflowFailException(
            "the DuckDB destination has no file configured: set DESTINATION__DUCKDB__CREDENTIALS "
            f"to an absolute path (else it would be written to {database} and wiped)"
        )


def raise_on_failures(report: RunReport | None, who: str = "") -> None:
    """Some registries failed and the others were loaded: fail the task, as the CLI exits 3."""
    if report is None or not report.failures:
        return
    failed = "; ".join(f"{result.ref}: {result.error}" for result in report.failures)
    raise AirflowException(
        f"{who}{len(report.failures)} registries could not be read (the others were loaded "
        f"and committed): {failed}"
    )


def caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is the error or any error it wraps (dlt wraps what a source raises)."""
    return any(isinstance(wrapped, kind) for wrapped in error_chain(error))


def task_failure(error: Exception, who: str = "") -> Exception:
    """The exception a failed load raises in Airflow: what a retry cannot fix (bad configuration,
    a refused key) fails the task at once with the one-line cause; anything else is kept as it is,
    and retried."""
    if isinstance(error, AirflowException):
        return error
    message, code = describe(error)
    if code == EXIT_CONFIG or caused_by(error, AuthError):
        return AirflowFailException(f"{who}{message}")
    return error


def remove_data_folder(data_dir: str) -> None:
    """Every parse of this file makes a `dlt_<id>` folder in the temp dir with an empty pipeline
    in it, and the helper's wipe leaves the folder behind after a run; a dag processor parsing
    the file every 30 s would fill the temp dir with them."""
    if Path(data_dir).name.startswith("dlt_"):
        shutil.rmtree(data_dir, ignore_errors=True)


class _LoadRun:
    """What the single task does around the helper's pipeline run: builds the source when the task
    runs (not when the file is parsed, so a dag processor without the API key still parses it),
    refuses a DuckDB file in the throwaway folder, fails on unreadable registries, and cleans up."""

    def __init__(self, pipeline: dlt.Pipeline, data_dir: str) -> None:
        self.pipeline = pipeline
        # the random `dlt_<id>` folder PipelineTasksGroup made for this parse of the file
        self.data_dir = data_dir
        self.report: RunReport | None = None

    def check_destination(self) -> None:
        """A DuckDB file with no configured path would land in the throwaway data folder."""
        check_duckdb_file(self.pipeline, (self.data_dir, os.environ.get(DLT_LOCAL_DIR)))

    def source(self) -> Any:
        """The source, configured by dlt; a configuration error fails the task without retries."""
        self.report = RunReport()
        try:
            return harness_registry_source(report=self.report)
        except Exception as error:
            raise task_failure(error) from error

    def wrap(self, task: Any) -> None:
        """Runs the helper's callable, then the clean-up and the failure check."""
        run_pipeline = task.python_callable

        def run_and_check() -> None:  # no parameters: Airflow passes the context to those that ask
            try:
                run_pipeline()
            except Exception as error:
                failure = task_failure(error)
                if failure is error:
                    raise
                raise failure from error
            finally:
                remove_data_folder(self.data_dir)
            raise_on_failures(self.report)

        task.python_callable = run_and_check


class TargetLoad:
    """The callable of the mapped task: loads one target, named by its only argument.

    dlt's helper makes one task per pipeline when the file is parsed, and cannot be mapped; this
    does what its task does (a fresh dlt working folder, wiped afterwards; dlt's config from the
    dags folder, which the group set up) for one target, through the runner's `load_source`. The
    key is resolved here, in the worker, from the target's `api_key_secret`.

    Example:
        PythonOperator.partial(task_id="load_target", python_callable=TargetLoad(settings, data_dir))
            .expand(op_kwargs=[{"target_name": "acme"}, {"target_name": "globex"}])
    """

    def __init__(self, settings: PipelineSettings, data_dir: str) -> None:
        self.settings = settings
        self.data_dir = data_dir

    def __call__(self, target_name: str) -> None:
        who = f"target {target_name!r}: "
        target = self.find(target_name)
        working_folder = tempfile.mkdtemp(prefix=f"dlt_{target.name}_")
        try:
            report = self.load(target, working_folder)
        except Exception as error:
            if caused_by(error, AuthError):
                # the source's message names the single task's key, not this target's
                raise AirflowFailException(
                    f"{who}the server refused the key at {target.api_key_secret} (401): fix that "
                    f"secret (or {secret_env_var(target.api_key_secret)}), and check that the "
                    "token has not expired"
                ) from error
            failure = task_failure(error, who)
            if failure is error:
                raise
            raise failure from error
        finally:
            shutil.rmtree(working_folder, ignore_errors=True)
            remove_data_folder(self.data_dir)
        logger.info(
            "%s%d rows loaded from %d registries, %d requests (%d throttled)",
            who,
            report.rows_loaded,
            len(report.registries),
            report.requests,
            report.throttled,
        )
        raise_on_failures(report, who)

    def find(self, target_name: str) -> Target:
        """The target's configuration, read again on the worker (a task argument carries only the
        name)."""
        try:
            targets = {target.name: target for target in configured_targets()}
        except Exception as error:
            raise task_failure(error) from error
        if target_name not in targets:
            raise AirflowFailException(
                f"target {target_name!r} is not in {PIPELINE_SECTION}.targets on this worker: "
                "give the workers the same configuration as the dag processor"
            )
        return targets[target_name]

    def load(self, target: Target, working_folder: str) -> RunReport:
        """One load of the target's own pipeline into the shared dataset."""
        pipeline = dlt.pipeline(
            pipeline_name=target.pipeline_name(self.settings["pipeline_name"]),
            destination=self.settings["destination"],
            dataset_name=self.settings["dataset_name"],
            pipelines_dir=working_folder,
        )
        check_duckdb_file(pipeline, (working_folder, self.data_dir, os.environ.get(DLT_LOCAL_DIR)))
        report, info = load_source(pipeline, target.source_options(target.resolve_api_key()))
        logger.info("%s", info)
        return report


def add_single_task(tasks: PipelineTasksGroup, settings: PipelineSettings) -> None:
    """Today's one task: the whole source of `[sources.harness_registry]`, run by the helper."""
    pipeline = dlt.pipeline(
        pipeline_name=settings["pipeline_name"],
        destination=settings["destination"],
        dataset_name=settings["dataset_name"],
    )
    load_run = _LoadRun(pipeline, os.environ[DLT_DATA_DIR])
    (load_task,) = tasks.add_run(
        pipeline,
        load_run.source,
        decompose="none",
        loader_file_format=loader_file_format(destination_kind(pipeline.destination)),
        on_before_run=load_run.check_destination,
    )
    load_run.wrap(load_task)


def add_target_tasks(
    tasks: PipelineTasksGroup, settings: PipelineSettings, targets: Iterable[Target]
) -> None:
    """One mapped task instance per target, named after it in the UI; one at a time into a DuckDB
    file, side by side into anything else."""
    destination = destination_kind(Destination.from_reference(settings["destination"]))
    with tasks:
        PythonOperator.partial(
            task_id=TARGET_TASK_ID,
            python_callable=TargetLoad(settings, os.environ[DLT_DATA_DIR]),
            map_index_template="{{ task.op_kwargs['target_name'] }}",
            max_active_tis_per_dagrun=1 if destination in SINGLE_WRITER_DESTINATIONS else None,
            **({"pool": pool} if (pool := dlt.config.get(f"{PIPELINE_SECTION}.pool", str)) else {}),
        ).expand(op_kwargs=[{"target_name": target.name} for target in targets])


with DAG(
    dag_id=DAG_ID,
    description="Harness Artifact Registry artifacts into a dlt destination, incrementally",
    schedule="@hourly",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["dlt", "harness"],
    doc_md=__doc__,
) as dag:
    # the group first: it points dlt at a fresh data folder and the dags folder's .dlt config,
    # and the pipeline and the targets must be read after that
    group = PipelineTasksGroup(
        DAG_ID,
        use_data_folder=False,
        wipe_local_data=True,
        use_task_logger=True,
    )
    dag_settings = pipeline_settings()
    dag_targets = configured_targets()  # a malformed list is an import error, naming the fault
    if dag_targets:
        add_target_tasks(group, dag_settings, dag_targets)
    else:
        add_single_task(group, dag_settings)
    # the pipeline above only describes the task: the task run makes its working folder again
    remove_data_folder(os.environ[DLT_DATA_DIR])
