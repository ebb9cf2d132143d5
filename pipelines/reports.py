"""SQL reports over the loaded tables, run through the pipeline's destination (DuckDB, PostgreSQL).

Each report is one versioned file in `reports/`, `NN_name.sql`, run in the order of `NN`. The files
are plain portable SQL with a header comment (what the report answers, its parameters) and two
kinds of markers that this module fills in:

- `{artifacts}` and `{artifacts__labels}`: the loaded tables, qualified with the catalog and the
  dataset (DuckDB names its catalog after the file, and `harness_registry.duckdb` holding dataset
  `harness_registry` makes a two-part name ambiguous). When `artifacts` has dlt's `_dlt_valid_to` column (snapshot mode) they
  become subqueries over the current rows only; a missing labels table becomes an empty relation.
- `:since`, `:now`, `:top`: parameters, bound by the database driver (never pasted into the SQL).
  `since` is the report time minus `days`, computed here so that no date arithmetic differs between
  databases. A `-- title:` header line may use `{days}` and `{top}`.

    python pipelines/harness_registry_pipeline.py report [--format table|csv|json] [--days N]

`print_reports` returns 0, or 2 with one line on stderr when nothing is loaded yet (or for a negative
`--days`). `run_reports` returns the rows themselves, for tests and other callers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import dlt

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORTS_DIR = REPO_ROOT / "reports"
# The CLI's codes: 2 is its code for configuration and input that cannot work.
EXIT_OK, EXIT_NO_DATA, EXIT_BAD_INPUT = 0, 2, 2
DEFAULT_DAYS = 30
DEFAULT_TOP = 10
FORMATS = ("table", "csv", "json")
# Readable tables: long cells are cut and long reports show their first rows (csv and json show all).
TABLE_MAX_ROWS = 100
TABLE_MAX_CELL = 60

ARTIFACTS_TABLE = "artifacts"
LABELS_TABLE = "artifacts__labels"
VALID_TO_COLUMN = "_dlt_valid_to"
RELATIONS = ("artifacts", "artifacts__labels")
# What stands for the labels table when no artifact ever had a label (dlt then creates no table).
EMPTY_LABELS = (
    "(SELECT CAST(NULL AS TEXT) AS value, CAST(NULL AS TEXT) AS _dlt_parent_id, "
    "CAST(NULL AS BIGINT) AS _dlt_list_idx WHERE 1 = 0)"
)
RUN_HINT = "python pipelines/harness_registry_pipeline.py run"

_FILE_NAME = re.compile(r"^(\d+)_([a-z0-9_]+)\.sql$")
_TITLE = re.compile(r"^--\s*title:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
# Quoted strings and identifiers are kept as they are; comments go; `::` casts are not parameters.
_SQL_TOKENS = re.compile(
    r"""(?P<string>'(?:[^']|'')*')
      | (?P<identifier>"(?:[^"]|"")*")
      | (?P<comment>--[^\n]*)
      | (?P<cast>::)
      | :(?P<param>[A-Za-z_][A-Za-z0-9_]*)""",
    re.VERBOSE,
)
_RELATION = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class NoDataError(Exception):
    """The dataset or its `artifacts` table does not exist (yet)."""


@dataclass(frozen=True)
class ReportQuery:
    """One report file: its name (the file name without number and suffix), title and SQL."""

    name: str
    title: str
    sql: str
    path: Path
    params: tuple[str, ...] = field(default=())

    @classmethod
    def from_file(cls, path: Path) -> ReportQuery:
        match = _FILE_NAME.match(path.name)
        if not match:
            raise ValueError(f"{path}: report files are named NN_name.sql (lowercase)")
        text = path.read_text(encoding="utf-8")
        title = _TITLE.search(text)
        sql, params = compile_sql(text, path)
        return cls(
            name=match.group(2),
            title=title.group(1) if title else match.group(2),
            sql=sql,
            path=path,
            params=tuple(params),
        )

    def render(self, relations: Mapping[str, str]) -> str:
        """The SQL with the relations filled in; parameters are `%s`, in `params` order."""
        return _RELATION.sub(lambda m: relations[m.group(1)], self.sql)


def compile_sql(text: str, origin: Path | str = "<sql>") -> tuple[str, list[str]]:
    """Drops comments and turns `:name` parameters into the drivers' `%s`; returns the SQL and the
    parameter names in order. `%` is refused (psycopg2 and DuckDB would read it differently) and so
    are relation markers other than `{artifacts}` and `{artifacts__labels}`."""
    params: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("comment") is not None:
            return ""
        if match.group("param") is not None:
            params.append(match.group("param"))
            return "%s"
        return match.group(0)

    without_comments = _SQL_TOKENS.sub(
        lambda m: "" if m.group("comment") is not None else m.group(0), text
    )
    if "%" in without_comments:
        raise ValueError(f"{origin}: '%' is not allowed in report SQL (use MOD(), no LIKE)")
    unknown = sorted(set(_RELATION.findall(without_comments)) - set(RELATIONS))
    if unknown:
        raise ValueError(f"{origin}: unknown relation markers {unknown}; known: {list(RELATIONS)}")
    sql = _SQL_TOKENS.sub(replace, text)
    sql = "\n".join(line.rstrip() for line in sql.splitlines() if line.strip())
    return sql, params


def load_report_queries(directory: Path = REPORTS_DIR) -> list[ReportQuery]:
    """Every `NN_name.sql` in `directory`, in the order of NN."""
    queries = [ReportQuery.from_file(path) for path in directory.glob("*.sql")]
    queries.sort(key=lambda query: (int(query.path.name.split("_", 1)[0]), query.path.name))
    names = [query.name for query in queries]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"{directory}: several files for report {', '.join(duplicates)}")
    return queries


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
    """All reports of one run, with the time window they were computed for."""

    destination: str
    dataset: str
    now: datetime
    days: int
    top: int
    results: list[ReportResult]

    @property
    def since(self) -> datetime:
        return self.now - timedelta(days=self.days)

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
) -> ReportRun:
    """Runs the reports on the pipeline's destination and dataset.

    Raises:
        NoDataError: the dataset has no `artifacts` table.
        ValueError: `days`/`top` out of range, or an unknown report name.
    """
    if days < 0:
        raise ValueError(f"days must be 0 or more, not {days}")
    if top < 1:
        raise ValueError(f"top must be at least 1, not {top}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    queries = select_queries(load_report_queries(directory), names)
    values = {"now": now, "since": now - timedelta(days=days), "top": top}
    destination = pipeline.destination.destination_name if pipeline.destination else "?"
    results = []
    with pipeline.sql_client() as client:
        relations = resolve_relations(client, pipeline.dataset_name, destination)
        for query in queries:
            args = [values[name] for name in query.params]
            with client.execute_query(query.render(relations), *args) as cursor:
                columns = [column[0] for column in cursor.description]
                rows = [tuple(_python_value(v) for v in row) for row in cursor.fetchall()]
            title = query.title.format(days=days, top=top)
            results.append(ReportResult(query.name, title, columns, rows))
    return ReportRun(destination, pipeline.dataset_name, now, days, top, results)


def select_queries(queries: list[ReportQuery], names: Sequence[str] | None) -> list[ReportQuery]:
    if not names:
        return queries
    by_name = {query.name: query for query in queries}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ValueError(f"unknown report {', '.join(unknown)}; known: {', '.join(by_name)}")
    return [by_name[name] for name in names]


def resolve_relations(client: Any, dataset: str, destination: str) -> dict[str, str]:
    """What `{artifacts}` and `{artifacts__labels}` stand for in this dataset."""
    catalog = _current_catalog(client)
    artifact_columns = _columns(client, catalog, ARTIFACTS_TABLE)
    if not artifact_columns:
        raise NoDataError(
            f"no artifacts loaded yet in dataset {dataset} on {destination}: run `{RUN_HINT}` first"
        )
    artifacts = _qualified(client, catalog, ARTIFACTS_TABLE)
    labels = _qualified(client, catalog, LABELS_TABLE)
    if VALID_TO_COLUMN in artifact_columns:
        artifacts = f"(SELECT * FROM {artifacts} WHERE {VALID_TO_COLUMN} IS NULL)"
    if not _columns(client, catalog, LABELS_TABLE):
        labels = EMPTY_LABELS
    return {"artifacts": artifacts, "artifacts__labels": labels}


def _current_catalog(client: Any) -> str | None:
    """DuckDB names the catalog after the file: `harness_registry.duckdb` with dataset
    `harness_registry` makes `harness_registry.artifacts` ambiguous, so names carry the catalog.
    PostgreSQL accepts its current database as the catalog of a name too."""
    rows = client.execute_sql("SELECT current_database()")
    return rows[0][0] if rows and rows[0][0] else None


def _qualified(client: Any, catalog: str | None, table: str) -> str:
    path = client.make_qualified_table_name_path(table, quote=False)
    if catalog is not None:
        path = [catalog, *path[-2:]]
    return ".".join(client.capabilities.escape_identifier(part) for part in path)


def _columns(client: Any, catalog: str | None, table: str) -> set[str]:
    schema = client.make_qualified_table_name_path(None, quote=False)[-1]
    sql = (
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s"
    )
    args = [schema, table]
    if catalog is not None:
        sql += " AND table_catalog = %s"
        args.append(catalog)
    return {row[0] for row in client.execute_sql(sql, *args) or []}


def _python_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


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
) -> int:
    """The `report` command: runs the reports on the configured pipeline's destination and dataset
    and prints them as readable tables, CSV or JSON. Returns the exit code.

    `settings` holds `pipeline_name`, `destination` and `dataset_name`. A DuckDB database is opened
    read-only, and never created: a missing file is "nothing loaded yet".
    """
    if output_format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if days < 0 or top < 1:
        print(f"error: --days must be 0 or more (got {days}), top at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = out or sys.stdout
    connection = None
    try:
        pipeline = dlt.pipeline(
            pipeline_name=settings["pipeline_name"],
            destination=settings["destination"],
            dataset_name=settings["dataset_name"],
        )
        database = _duckdb_file(pipeline)
        if database is not None:
            if not Path(database).is_file():
                raise NoDataError(
                    f"no artifacts loaded yet in dataset {settings['dataset_name']}: "
                    f"{database} does not exist; run `{RUN_HINT}` first"
                )
            import duckdb

            connection = duckdb.connect(database, read_only=True)
            pipeline = dlt.pipeline(
                pipeline_name=settings["pipeline_name"],
                destination=dlt.destinations.duckdb(connection),
                dataset_name=settings["dataset_name"],
            )
        run = run_reports(pipeline, days=days, top=top, now=now, names=names)
    except NoDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NO_DATA
    finally:
        if connection is not None:
            connection.close()
    writer = {"table": write_tables, "csv": write_csv, "json": write_json}[output_format]
    try:
        writer(run, out)
        out.flush()
    except BrokenPipeError:  # `report | head`: the reader has seen enough
        if out is sys.stdout:  # keeps the interpreter's final flush quiet
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
    return EXIT_OK


def _duckdb_file(pipeline: dlt.Pipeline) -> str | None:
    """The database file of a DuckDB destination, resolved as a load would; None for others."""
    if pipeline.destination is None or not pipeline.destination.destination_type.endswith(
        ".duckdb"
    ):
        return None
    database = pipeline.destination_client().config.credentials.database
    return str(database) if isinstance(database, str | Path) else None


# -- output -----------------------------------------------------------------------------------------


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC, to the precision the value has: `2024-10-24T10:35:35.123+00:00`."""
    value = value.astimezone(UTC)
    if value.microsecond == 0:
        return value.isoformat(timespec="seconds")
    if value.microsecond % 1000 == 0:
        return value.isoformat(timespec="milliseconds")
    return value.isoformat()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def write_json(run: ReportRun, out: TextIO) -> None:
    """One object: the run's parameters and `reports`, each with its columns and rows."""
    document = {
        "destination": run.destination,
        "dataset": run.dataset,
        "generated_at": format_timestamp(run.now),
        "days": run.days,
        "since": format_timestamp(run.since),
        "top": run.top,
        "reports": {
            result.name: {
                "title": result.title,
                "columns": result.columns,
                "rows": [
                    {column: _json_value(value) for column, value in record.items()}
                    for record in result.records()
                ],
            }
            for result in run.results
        },
    }
    json.dump(document, out, ensure_ascii=False, indent=2)
    out.write("\n")


def write_csv(run: ReportRun, out: TextIO) -> None:
    """One report: plain CSV. Several: a `# name: title` line before each CSV block, a blank line
    between blocks. Timestamps in ISO 8601 UTC, NULL as an empty field."""
    single = len(run.results) == 1
    for position, result in enumerate(run.results):
        if not single:
            if position:
                out.write("\n")
            out.write(f"# {result.name}: {result.title}\n")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_text(value) for value in row] for row in result.rows)
        out.write(buffer.getvalue())


def write_tables(run: ReportRun, out: TextIO) -> None:
    """Readable tables: a heading per report, text left-aligned and numbers right-aligned; the
    totals as a list of figures."""
    out.write(
        f"Reports on {run.destination} dataset {run.dataset} at {_short_time(run.now)}; "
        f"time window {run.days} days, since {_short_time(run.since)}\n"
    )
    for result in run.results:
        out.write(f"\n{result.title}\n{'-' * len(result.title)}\n")
        if not result.rows:
            out.write("(none)\n")
        elif len(result.rows) == 1 and result.name == "totals":
            figures = [
                (column, _cell(value) or "-") for column, value in result.records()[0].items()
            ]
            out.write(_aligned([("figure", "value"), *figures], numeric=[False, False]))
        else:
            shown = result.rows[:TABLE_MAX_ROWS]
            numeric = [
                all(_is_number(row[i]) for row in shown if row[i] is not None)
                for i in range(len(result.columns))
            ]
            cells = [tuple(result.columns), *([_cell(v) for v in row] for row in shown)]
            out.write(_aligned(cells, numeric))
            if len(result.rows) > len(shown):
                out.write(
                    f"... {len(result.rows) - len(shown)} more rows of {len(result.rows)}: "
                    "--format csv or json prints all\n"
                )


def _aligned(rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(numeric))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(row, widths, numeric, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _short_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _short_time(value)
    text = _text(value)
    return text if len(text) <= TABLE_MAX_CELL else text[: TABLE_MAX_CELL - 1] + "…"


def report_names(directory: Path = REPORTS_DIR) -> list[str]:
    return [query.name for query in load_report_queries(directory)]
