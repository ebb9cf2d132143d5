"""Runs the Harness Artifact Registry pipeline: the entry point the CLI, the Airflow DAG and the bench
share, so that all of them load the same way.

Example:
    from harness_registry_pipelines.runner import pipeline_settings, run_pipeline

    run = run_pipeline(
        pipeline_settings(destination="postgres", dataset_name="harness"),
        source_options={"registries": ["acme/docker-prod"], "page_size": 200},
        lock_timeout=60,
    )
    print(run.report.rows_loaded, [r.ref for r in run.report.failures])
"""

import contextlib
import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

import dlt
from dlt.common.destination import Destination
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.common.pipeline import LoadInfo

from harness_registry import ConfigError, RunReport, harness_registry_source
from harness_registry_pipelines.destinations import destination_kind, duckdb_database
from harness_registry_pipelines.duckdb_memory import bounded_duckdb_destination
from harness_registry_pipelines.lakehouse import (
    apply_table_format,
    remove_stale_nested_rows,
    resolve_table_format,
)
from harness_registry_pipelines.runlock import RunLock

# dlt config section of the pipeline settings: `[harness_registry_pipeline]` in .dlt/config.toml or
# HARNESS_REGISTRY_PIPELINE__<KEY> in the environment.
PIPELINE_SECTION = "harness_registry_pipeline"
# Not `harness_registry` for the dataset: DuckDB names the catalog after the file
# harness_registry.duckdb, and a schema of the same name makes `harness_registry.artifacts` ambiguous.
DEFAULTS = {
    "pipeline_name": "harness_registry",
    "destination": "duckdb",
    "dataset_name": "harness",
}

# Load file format per destination. dlt's default for DuckDB (insert_values) builds huge SQL strings
# and peaks at gigabytes of memory on 100k rows; parquet loads the same rows in a fraction of the time
# and memory. Destinations not listed keep dlt's default for them. Not csv for PostgreSQL: COPY reads
# an unquoted empty field as NULL, so empty strings (Docker's `uuid`, the key's `artifact_type`)
# would not survive.
LOADER_FILE_FORMATS = {"duckdb": "parquet", "motherduck": "parquet"}

logger = logging.getLogger("harness_registry")

__all__ = [
    "DEFAULTS",
    "LOADER_FILE_FORMATS",
    "PIPELINE_SECTION",
    "PipelineRun",
    "PipelineSettings",
    "check_destination",
    "destination_kind",
    "destination_names",
    "duckdb_database",
    "load_source",
    "loader_file_format",
    "pipeline_settings",
    "run_pipeline",
]


class PipelineSettings(TypedDict):
    """Which dlt pipeline loads where: the pipeline's name, the destination and the dataset."""

    pipeline_name: str
    destination: str
    dataset_name: str


@dataclass(frozen=True)
class PipelineRun:
    """What one run did: the source's per-registry report and dlt's load info."""

    settings: PipelineSettings
    report: RunReport
    load_info: LoadInfo


def pipeline_settings(
    pipeline_name: str | None = None,
    destination: str | None = None,
    dataset_name: str | None = None,
) -> PipelineSettings:
    """Each setting as given, else from `[harness_registry_pipeline]` in dlt's config, else `DEFAULTS`.

    Example:
        pipeline_settings(destination="postgres")
        # {"pipeline_name": "harness_registry", "destination": "postgres", "dataset_name": "harness"}
    """
    given = {
        "pipeline_name": pipeline_name,
        "destination": destination,
        "dataset_name": dataset_name,
    }
    resolved = {
        key: value or dlt.config.get(f"{PIPELINE_SECTION}.{key}", str) or DEFAULTS[key]
        for key, value in given.items()
    }
    return PipelineSettings(**resolved)


def destination_names() -> list[str]:
    """The destinations dlt knows by name (`dlt.destinations`), sorted: `athena` ... `weaviate`."""
    # `destination` is the decorator for custom destinations, not a destination
    return sorted(name for name in dlt.destinations.__all__ if name != "destination")


def check_destination(name: str) -> Destination:
    """The dlt destination called `name`, its credentials found in config; checked before any
    pipeline is created, because a pipeline keeps its destination in its local state even when the
    command then fails (and the next command would warn about it).

    `name` is a destination type (`postgres`) or a named destination configured with a
    `destination_type` under `[destination.NAME]`.

    Raises:
        ConfigError: an unknown destination, or one whose credentials are not configured.
    """
    try:
        destination = Destination.from_reference(name)
    except UnknownDestinationModule:
        close = difflib.get_close_matches(name, destination_names(), n=1)
        guess = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(
            f"unknown destination {name!r}{guess}: use one of {', '.join(destination_names())}, "
            f"or a name with destination_type set under [destination.{name}]"
        ) from None
    # partial: the dataset and the working folder come with the pipeline, the credentials do not
    config = destination.configuration(destination.spec(), accept_partial=True)
    credentials = getattr(config, "credentials", None)
    if credentials is not None and not credentials.is_resolved():
        raise ConfigError(
            f"no credentials for destination {name}: set them under "
            f"[destination.{name}.credentials] in .dlt/secrets.toml or in "
            f"DESTINATION__{name.upper()}__CREDENTIALS"
        )
    return destination


def loader_file_format(kind: str) -> str | None:
    """The load file format for a destination kind (`duckdb`, see `destination_kind`), or None for
    dlt's default."""
    return LOADER_FILE_FORMATS.get(kind)


def load_source(
    pipeline: dlt.Pipeline,
    source_options: Mapping[str, Any] | None = None,
    *,
    refresh: str | None = None,
    table_format: str | None = None,
) -> tuple[RunReport, LoadInfo]:
    """Builds the source (options not given are resolved by dlt from config) and runs one load on
    `pipeline`, in the file format of its destination; returns the report and dlt's load info.

    `table_format` (`delta`, `iceberg`; else `table_format` under `[harness_registry_pipeline]`)
    loads the filesystem destination as open tables that merge: see `lakehouse`.

    A package left by a run that was killed after extracting is loaded first: `pipeline.run` would
    only finish that package and skip this run's data.

    A DuckDB destination loads with bounded memory (`duckdb_memory.DUCKDB_LOAD_SETTINGS`) unless
    the user set DuckDB's `memory_limit` or `threads` themselves; the pipeline keeps that
    destination after the run.

    Raises:
        ConfigError, ConfigFieldMissingException: bad or missing settings, before any request.
        PipelineStepFailed: dlt could not extract, normalize or load; nothing new was committed.
    """
    report = RunReport()
    source = harness_registry_source(**(source_options or {}), report=report)
    apply_table_format(source, pipeline, resolve_table_format(table_format))
    # None keeps the pipeline's destination
    destination = bounded_duckdb_destination(pipeline)
    if pipeline.has_pending_data:
        logger.warning("finishing the load package of an interrupted run first")
        pipeline.normalize()
        remove_stale_nested_rows(pipeline, pipeline.load(destination=destination))
    file_format = loader_file_format(destination_kind(pipeline.destination))
    info = pipeline.run(
        source, destination=destination, loader_file_format=file_format, refresh=refresh
    )
    remove_stale_nested_rows(pipeline, info)
    return report, info


def run_pipeline(
    settings: PipelineSettings | None = None,
    source_options: Mapping[str, Any] | None = None,
    *,
    refresh: str | None = None,
    lock_timeout: float | None = None,
    progress: str | None = None,
    table_format: str | None = None,
) -> PipelineRun:
    """Runs one load of the pipeline and returns its report and load info.

    Args:
        settings: pipeline name, destination and dataset; `pipeline_settings()` when None.
        source_options: source settings by option name (`harness_registry.options.OPTIONS`) that
            override dlt's config for this run.
        refresh: dlt's refresh mode, e.g. `drop_sources` to start from an empty dataset.
        lock_timeout: hold the pipeline's run lock, waiting this many seconds for another run to
            finish; None for no lock (a scheduler that never overlaps runs).
        progress: dlt's progress collector (`log`, `tqdm`, ...), None for none.
        table_format: `delta` or `iceberg` for open tables on the filesystem destination; None
            for `table_format` under `[harness_registry_pipeline]`, else plain files.

    Raises:
        ConfigError: an unknown destination or one without credentials, before the pipeline is
            created (its local state stays as it was).
        RunLockHeld: another run holds the lock, still after `lock_timeout`.
    """
    settings = settings or pipeline_settings()
    destination = check_destination(settings["destination"])
    lock = (
        RunLock(settings["pipeline_name"], timeout=lock_timeout)
        if lock_timeout is not None
        else None
    )
    with lock or contextlib.nullcontext():
        # created under the lock: a pipeline restores its state from the working folder, which a
        # concurrent run may still be changing
        pipeline = dlt.pipeline(
            pipeline_name=settings["pipeline_name"],
            destination=destination,
            dataset_name=settings["dataset_name"],
            progress=progress,
        )
        report, info = load_source(
            pipeline, source_options, refresh=refresh, table_format=table_format
        )
    return PipelineRun(settings=settings, report=report, load_info=info)
