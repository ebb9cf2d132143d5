"""SQL reports over the loaded tables, run through the pipeline's destination (DuckDB, PostgreSQL).

Each report is one versioned file in `reports/`, `NN_name.sql` (read and checked by
report_queries.py), run in the order of `NN`. Its parameters are `:since`, `:now`, `:top` and
`:cleanup_before`, bound by the database driver (never pasted into the SQL); `since` is the report
time minus `days` and `cleanup_before` the report time minus `cleanup_days`, computed here so that
no date arithmetic differs between databases.

A report that reads the versions is skipped when the dataset was loaded without them (`run` without
`--versions`, the default): `ReportRun.skipped` names it and the JSON output lists it. Only when the
user asked for such a report by name (`--report storage`) does the command print one note on stderr
(`note: versions not loaded: run with --versions ...`); it exits 0 either way, its output holding the other
reports only. The artifact reports never depend on the versions.

    .venv/bin/harness-registry report [--format table|csv|json] [--days N]

`print_reports` returns 0, or 2 with one line on stderr when nothing is loaded yet (or for a negative
`--days` or `--cleanup-days`, a `--top` below 1). `run_reports` returns the rows themselves, for
tests and other callers.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import dlt
from dlt.common.destination import Destination

from harness_registry_pipelines.destinations import DUCKDB, destination_kind, duckdb_file
from harness_registry_pipelines.exit_codes import EXIT_CONFIG, EXIT_OK
from harness_registry_pipelines.queries import (
    RUN_HINT,
    VERSIONS_HINT,
    ArtifactQueries,
    NoDataError,
)
from harness_registry_pipelines.report_output import FORMATS, WRITERS, plural
from harness_registry_pipelines.report_queries import (
    DEFAULT_CLEANUP_DAYS,
    DEFAULT_DAYS,
    DEFAULT_TOP,
    PARAMS,
    REPORTS_DIR,
    ReportQuery,
    load_report_queries,
    report_files,
    report_names,
)
from harness_registry_pipelines.runner import check_destination
from harness_registry_pipelines.sql_engine import DltEngine

__all__ = [
    "DEFAULT_CLEANUP_DAYS",
    "DEFAULT_DAYS",
    "DEFAULT_TOP",
    "FORMATS",
    "PARAMS",
    "REPORTS_DIR",
    "NoDataError",
    "ReportQuery",
    "ReportResult",
    "ReportRun",
    "load_report_queries",
    "print_reports",
    "report_files",
    "report_names",
    "run_reports",
]


@dataclass
class ReportResult:
    """One report's rows: Python values, timestamps as aware UTC datetimes, numbers as int/float."""

    name: str
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass
class ReportRun:
    """All reports of one run, with the time window they were computed for; `skipped` names the
    reports left out because the dataset holds no versions."""

    destination: str
    dataset: str
    now: datetime
    days: int
    top: int
    results: list[ReportResult]
    cleanup_days: int = DEFAULT_CLEANUP_DAYS
    skipped: list[str] = field(default_factory=list)

    @property
    def since(self) -> datetime:
        return self.now - timedelta(days=self.days)

    @property
    def cleanup_before(self) -> datetime:
        return self.now - timedelta(days=self.cleanup_days)

    @property
    def note(self) -> str | None:
        """The one line to tell a reader about skipped reports, or None."""
        if not self.skipped:
            return None
        return f"note: {VERSIONS_HINT} (skipped: {', '.join(self.skipped)})"

    def __getitem__(self, name: str) -> ReportResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)


def run_reports(
    pipeline: dlt.Pipeline,
    *,
    days: int = DEFAULT_DAYS,
    top: int = DEFAULT_TOP,
    now: datetime | None = None,
    names: Sequence[str] | None = None,
    directory: Path = REPORTS_DIR,
    cleanup_days: int = DEFAULT_CLEANUP_DAYS,
) -> ReportRun:
    """Runs the reports on the pipeline's destination and dataset, over one connection.

    Raises:
        NoDataError: the dataset has no `artifacts` table.
        ValueError: `days`/`top`/`cleanup_days` out of range, or an unknown report name.
    """
    destination = pipeline.destination.destination_name if pipeline.destination else "?"
    with pipeline.sql_client() as client:
        return run_on_client(
            client,
            destination=destination,
            dataset=pipeline.dataset_name,
            days=days,
            top=top,
            now=now,
            names=names,
            directory=directory,
            cleanup_days=cleanup_days,
        )


def run_on_client(client: Any, *, destination: str, dataset: str, **options: Any) -> ReportRun:
    """Runs the reports through an open dlt sql client, every statement over its one connection;
    `destination` and `dataset` (as configured) label the run and its errors, `options` are those
    of `run_queries`.

    Raises:
        NoDataError: the dataset has no `artifacts` table.
    """
    # the dataset as the destination spells it (its naming convention may change the case)
    spelled = client.make_qualified_table_name_path(None, quote=False)[-1]
    try:
        queries = ArtifactQueries(DltEngine(client), spelled)
    except NoDataError:
        raise NoDataError(
            f"no artifacts loaded yet in dataset {dataset} on {destination}: run `{RUN_HINT}` first"
        ) from None
    return run_queries(queries, destination=destination, dataset=dataset, **options)


def run_queries(
    queries: ArtifactQueries,
    *,
    destination: str,
    dataset: str,
    days: int = DEFAULT_DAYS,
    top: int = DEFAULT_TOP,
    now: datetime | None = None,
    names: Sequence[str] | None = None,
    directory: Path = REPORTS_DIR,
    cleanup_days: int = DEFAULT_CLEANUP_DAYS,
) -> ReportRun:
    """Runs the reports through the shared query layer (any engine: a dlt client, a DuckDB
    connection). `destination` and `dataset` only label the run. Reports that read the versions
    are skipped (named in `skipped`) when the dataset holds none."""
    if days < 0:
        raise ValueError(f"days must be 0 or more, not {days}")
    if top < 1:
        raise ValueError(f"top must be at least 1, not {top}")
    if cleanup_days < 0:
        raise ValueError(f"cleanup_days must be 0 or more, not {cleanup_days}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    values = {
        "now": now,
        "since": now - timedelta(days=days),
        "top": top,
        "cleanup_before": now - timedelta(days=cleanup_days),
    }
    results, skipped = [], []
    for query in select_queries(load_report_queries(directory), names):
        if query.reads_versions and not queries.relations.versions_loaded:
            skipped.append(query.name)
            continue
        result = queries.fetch(query.statement, values)
        title = query.title.format(
            days=plural(days, "day"), top=top, cleanup_days=plural(cleanup_days, "day")
        )
        results.append(ReportResult(query.name, title, result.columns, result.rows))
    return ReportRun(destination, dataset, now, days, top, results, cleanup_days, skipped)


def select_queries(queries: list[ReportQuery], names: Sequence[str] | None) -> list[ReportQuery]:
    if not names:
        return queries
    by_name = {query.name: query for query in queries}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ValueError(f"unknown report {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[name] for name in names]


# -- the command ----------------------------------------------------------------------------------


def print_reports(
    settings: Mapping[str, str],
    output_format: str = "table",
    days: int = DEFAULT_DAYS,
    *,
    top: int = DEFAULT_TOP,
    names: Sequence[str] | None = None,
    now: datetime | None = None,
    out: TextIO | None = None,
    cleanup_days: int = DEFAULT_CLEANUP_DAYS,
    destination: Destination | None = None,
) -> int:
    """The `report` command: runs the reports on the configured pipeline's destination and dataset
    and prints them as readable tables, CSV or JSON. Returns the exit code.

    `settings` holds `pipeline_name`, `destination` and `dataset_name`; `destination` is that
    destination when the caller has checked it already (`runner.check_destination`). A DuckDB
    database is opened read-only, and never created: a missing file is "nothing loaded yet".
    """
    if output_format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if days < 0:
        print(f"error: --days must be 0 or more (got {days})", file=sys.stderr)
        return EXIT_CONFIG
    if top < 1:
        print(f"error: --top must be at least 1 (got {top})", file=sys.stderr)
        return EXIT_CONFIG
    if cleanup_days < 0:
        print(f"error: --cleanup-days must be 0 or more (got {cleanup_days})", file=sys.stderr)
        return EXIT_CONFIG
    out = out or sys.stdout
    destination = destination or check_destination(settings["destination"])
    try:
        with open_dataset(settings, destination) as client:
            run = run_on_client(
                client,
                # DuckDB's reports have always been labelled by the type, other destinations by name
                destination=DUCKDB
                if destination_kind(destination) == DUCKDB
                else destination.destination_name,
                dataset=settings["dataset_name"],
                days=days,
                top=top,
                now=now,
                names=names,
                cleanup_days=cleanup_days,
            )
    except NoDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CONFIG
    # Versions are off by default: a note on every report would be noise; it is said when asked for.
    # On stderr: stdout stays the reports, parseable as csv or json.
    if run.note and names:
        print(run.note, file=sys.stderr)
    try:
        WRITERS[output_format](run, out)
        out.flush()
    except BrokenPipeError:  # `report | head`: the reader has seen enough
        if out is sys.stdout:  # keeps the interpreter's final flush quiet
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    return EXIT_OK


@contextlib.contextmanager
def open_dataset(settings: Mapping[str, str], destination: Destination) -> Iterator[Any]:
    """The destination's sql client for the configured dataset, its connection open, for every
    statement of a report run: one throwaway pipeline, one job client, one connection.

    The pipeline lives in a throwaway folder, so that a report (failed or not) never changes the
    local state that `run` resumes from. A DuckDB file is opened read-only, and never created.

    Raises:
        NoDataError: the DuckDB file does not exist.
    """
    with tempfile.TemporaryDirectory(prefix="harness_registry_report_") as workdir:
        pipeline = dlt.pipeline(
            pipeline_name=settings["pipeline_name"],
            pipelines_dir=workdir,
            destination=destination,
            dataset_name=settings["dataset_name"],
        )
        if destination_kind(destination) == DUCKDB:
            job_client = pipeline.destination_client()
            database = duckdb_file(job_client)
            if database is not None:
                if not Path(database).is_file():
                    raise NoDataError(
                        f"no artifacts loaded yet in dataset {settings['dataset_name']}: "
                        f"{database} does not exist; run `{RUN_HINT}` first"
                    )
                # before the connection opens: read-only, DuckDB neither creates nor changes it
                job_client.config.credentials.read_only = True
            client = job_client.sql_client
        else:
            client = pipeline.sql_client()
        with client:
            yield client
