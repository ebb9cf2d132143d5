"""The few figures `demo` prints after its load, read through the shared query layer."""

from __future__ import annotations

from harness_registry_pipelines.queries import ArtifactQueries
from harness_registry_pipelines.report_output import format_table, numeric_columns
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
# shown after those when the dataset holds versions (`run --versions`)
VERSION_QUERIES = (
    (
        "storage by package type",
        "SELECT package_type, COUNT(*) AS versions, "
        "CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS size_bytes "
        "FROM artifact_versions GROUP BY package_type ORDER BY size_bytes DESC, package_type",
    ),
)
NEXT_STEPS = (
    "\nNext: python pipelines/harness_registry_pipeline.py report   (SQL reports on this file)"
    "\n      notebooks/explore_artifacts.ipynb                    (plots)"
)


def print_demo_figures(duckdb_path: str, dataset: str) -> None:
    """Prints the demo's figures from the DuckDB file, opened read-only, then where to go next."""
    import duckdb

    with duckdb.connect(duckdb_path, read_only=True) as connection:
        queries = ArtifactQueries(DuckDBEngine(connection), dataset)
        print(f"\nIn {duckdb_path}, dataset {dataset}:")
        versions = VERSION_QUERIES if queries.relations.versions_loaded else ()
        for title, sql in (*DEMO_QUERIES, *versions):
            result = queries.fetch(sql)
            numeric = numeric_columns(result.rows, len(result.columns))
            cells = [result.columns, *([_cell(value) for value in row] for row in result.rows)]
            print(f"\n{title}:")
            print(format_table(cells, numeric), end="")
    print(NEXT_STEPS)


def _cell(value: object) -> str:
    return "" if value is None else str(value)
