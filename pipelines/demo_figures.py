"""The few figures `demo` prints after its load, read through the shared query layer, and the
commands to go on with.

The registries are counted as `report` counts them (its `totals` report, run here on the same
file): the registries holding artifacts. An empty registry that was read is named beside that
count, so the run's summary (registries read) and the figures add up.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from harness_registry_pipelines.paths import DEFAULT_DUCKDB, REPO_ROOT, shown_path
from harness_registry_pipelines.queries import ArtifactQueries
from harness_registry_pipelines.report_output import format_table, numeric_columns, plural
from harness_registry_pipelines.reports import run_queries
from harness_registry_pipelines.sql_engine import DuckDBEngine

# (title, SQL over the current `artifacts` and `artifacts__labels`, see queries.py)
DEMO_QUERIES = (
    (
        "artifacts by package type",
        "SELECT package_type, COUNT(*) AS artifacts, "
        "CAST(COALESCE(SUM(downloads_count), 0) AS BIGINT) AS downloads "
        "FROM artifacts GROUP BY package_type ORDER BY artifacts DESC, package_type",
    ),
    (
        "most downloaded",
        "SELECT registry_ref, name, downloads_count FROM artifacts "
        "ORDER BY downloads_count DESC NULLS LAST, name LIMIT 5",
    ),
    (
        "most used labels",
        "SELECT value AS label, COUNT(*) AS artifacts FROM artifacts__labels "
        "GROUP BY value ORDER BY artifacts DESC, label LIMIT 5",
    ),
)
EXAMPLE_SQL = "SELECT package_type, count(*) AS artifacts FROM artifacts GROUP BY 1 ORDER BY 2 DESC"
# shown after those when the dataset holds versions (`run --versions`)
VERSION_QUERIES = (
    (
        "storage by package type",
        "SELECT package_type, COUNT(*) AS versions, "
        "CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS size_bytes "
        "FROM artifact_versions GROUP BY package_type ORDER BY size_bytes DESC, package_type",
    ),
)


def print_demo_figures(duckdb_path: str, dataset: str, empty: Sequence[str] = ()) -> None:
    """Prints the demo's figures from the DuckDB file, opened read-only, then where to go next.

    `empty` names the registries the run read and found empty."""
    import duckdb

    with duckdb.connect(duckdb_path, read_only=True) as connection:
        queries = ArtifactQueries(DuckDBEngine(connection), dataset)
        print(f"\nIn {duckdb_path}, dataset {dataset}:")
        print(totals_line(queries, dataset, empty))
        versions = VERSION_QUERIES if queries.relations.versions_loaded else ()
        for title, sql in (*DEMO_QUERIES, *versions):
            result = queries.fetch(sql)
            numeric = numeric_columns(result.rows, len(result.columns))
            cells = [result.columns, *([_cell(value) for value in row] for row in result.rows)]
            print(f"\n{title}:")
            print(format_table(cells, numeric), end="")
    print("\nNext, from this directory:")
    steps = next_steps(Path(duckdb_path))
    width = max(len(command) for command, _ in steps)
    for command, what in steps:
        print(f"  {command:<{width}}  # {what}")


def totals_line(queries: ArtifactQueries, dataset: str, empty: Sequence[str]) -> str:
    """`446 artifacts in 12 registries (and 1 empty registry: ...), 8 package types`, counted by
    the `totals` report of `report`."""
    totals = run_queries(queries, destination="duckdb", dataset=dataset, names=["totals"])
    row = totals["totals"].records()[0]
    also = f" (and {plural(len(empty), 'empty registry', 'empty registries')}: {', '.join(empty)})"
    return (
        f"{plural(row['artifacts'], 'artifact')} in "
        f"{plural(row['registries'], 'registry', 'registries')}{also if empty else ''}, "
        f"{plural(row['package_types'], 'package type')}"
    )


def next_steps(duckdb_path: Path) -> list[tuple[str, str]]:
    """Commands that work pasted as shown in the current directory: the venv's `harness-registry`
    by its path from here, the file named unless it is the one the commands read by default, and
    `make` targets only in the repository's root."""
    command = shown_path(Path(sys.executable).parent / "harness-registry")
    default = duckdb_path.resolve() == (Path.cwd() / DEFAULT_DUCKDB).resolve()
    shown = shown_path(duckdb_path)
    report_env = "" if default else f"DESTINATION__DUCKDB__CREDENTIALS={shown} "
    sql_flag = "" if default else f" --duckdb {shown}"
    notebook_env = "" if default else f"HARNESS_REGISTRY_DUCKDB={duckdb_path.resolve()} "
    in_repository = Path.cwd().resolve() == REPO_ROOT and (REPO_ROOT / "Makefile").is_file()
    steps = [
        (f"{report_env}{command} report", "the SQL reports on this file"),
        (f'{command} sql{sql_flag} "{EXAMPLE_SQL}"', "your own SQL"),
    ]
    if in_repository and default:
        steps.append(("make sql", "a SQL prompt on this file"))
    if in_repository:
        steps.append((f"{notebook_env}make notebook", "the notebook and its plots"))
    else:
        steps.append((f"{notebook_env}{command} notebook", "the notebook and its plots"))
    return steps


def _cell(value: object) -> str:
    return "" if value is None else str(value)
