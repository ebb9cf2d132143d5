"""Airflow 3 DAG `harness_registry`: loads Harness Artifact Registry artifacts with dlt, every hour.

Built on dlt's Airflow helper (`PipelineTasksGroup`): one task runs the whole source, in a fresh dlt
working folder that is wiped afterwards; the incremental cursors live in the destination, so every
run carries on where the last one stopped.

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

   and, optionally, what the CLI reads from `[harness_registry_pipeline]` (same defaults):

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

import os
import shutil
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
from dlt.common.known_env import DLT_DATA_DIR, DLT_LOCAL_DIR
from dlt.helpers.airflow_helper import PipelineTasksGroup

from harness_registry import RunReport, harness_registry_source
from harness_registry_pipelines.cli import EXIT_CONFIG, describe
from harness_registry_pipelines.runner import loader_file_format, pipeline_settings

DAG_ID = "harness_registry"

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


class _LoadRun:
    """What the task does around the helper's pipeline run: builds the source when the task runs
    (not when the file is parsed, so a dag processor without the API key still parses it), refuses
    a DuckDB file in the throwaway folder, fails on unreadable registries, and cleans up."""

    def __init__(self, pipeline: dlt.Pipeline, data_dir: str) -> None:
        self.pipeline = pipeline
        # the random `dlt_<id>` folder PipelineTasksGroup made for this parse of the file
        self.data_dir = data_dir
        self.report: RunReport | None = None

    def check_destination(self) -> None:
        """A DuckDB file with no configured path would land in the throwaway data folder."""
        destination = self.pipeline.destination
        if destination is None or destination.destination_name != "duckdb":
            return
        database = os.path.abspath(self.pipeline.destination_client().config.credentials.database)
        throwaway = {
            os.path.abspath(d) for d in (self.data_dir, os.environ.get(DLT_LOCAL_DIR)) if d
        }
        if any(database.startswith(folder + os.sep) for folder in throwaway):
            raise AirflowFailException(
                "the DuckDB destination has no file configured: set DESTINATION__DUCKDB__CREDENTIALS "
                f"to an absolute path (else it would be written to {database} and wiped)"
            )

    def source(self) -> Any:
        """The source, configured by dlt; a configuration error fails the task without retries."""
        self.report = RunReport()
        try:
            return harness_registry_source(report=self.report)
        except Exception as error:
            message, code = describe(error)
            if code == EXIT_CONFIG:
                raise AirflowFailException(message) from error
            raise

    def raise_on_failures(self) -> None:
        """Some registries failed and the others were loaded: fail the task, as the CLI exits 3."""
        if self.report is None or not self.report.failures:
            return
        failed = "; ".join(f"{result.ref}: {result.error}" for result in self.report.failures)
        raise AirflowException(
            f"{len(self.report.failures)} registries could not be read (the others were loaded "
            f"and committed): {failed}"
        )

    def remove_data_folder(self) -> None:
        """Every parse of this file makes a `dlt_<id>` folder in the temp dir with an empty pipeline
        in it, and the helper's wipe leaves the folder behind after a run; a dag processor parsing
        the file every 30 s would fill the temp dir with them."""
        if Path(self.data_dir).name.startswith("dlt_"):
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def wrap(self, task: Any) -> None:
        """Runs the helper's callable, then the clean-up and the failure check."""
        run_pipeline = task.python_callable

        def run_and_check() -> None:  # no parameters: Airflow passes the context to those that ask
            try:
                run_pipeline()
            finally:
                self.remove_data_folder()
            self.raise_on_failures()

        task.python_callable = run_and_check


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
    # and the pipeline must be created after that
    tasks = PipelineTasksGroup(
        DAG_ID,
        use_data_folder=False,
        wipe_local_data=True,
        use_task_logger=True,
    )
    settings = pipeline_settings()
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
        loader_file_format=loader_file_format(pipeline.destination.destination_name),
        on_before_run=load_run.check_destination,
    )
    load_run.wrap(load_task)
    # the pipeline above only describes the task: the task run makes its working folder again
    load_run.remove_data_folder()
