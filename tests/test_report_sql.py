"""The report files, how SQL is parsed and its parameters bound (sql_engine.py), and the shared
query layer (queries.py): current rows, labels, versions and their tags, names qualified with the
catalog. DuckDB, no emulator; and the fixture's reports on PostgreSQL (skipped without a server,
failed in CI, as in test_postgres.py)."""

import re
import uuid
from collections.abc import Mapping
from typing import Any

import duckdb
import pytest
from test_postgres import postgres_dsn  # noqa: F401 (a fixture)
from test_reports import ALL_FIXTURE_REPORTS, ALL_REPORT_NAMES, VERSION_REPORT_NAMES

from harness_registry_pipelines.queries import (
    VERSION_COLUMNS,
    ArtifactQueries,
    NoDataError,
    check_relations,
)
from harness_registry_pipelines.reports import (
    REPORTS_DIR,
    ReportQuery,
    load_report_queries,
    run_queries,
)
from harness_registry_pipelines.sql_engine import (
    DuckDBEngine,
    QueryResult,
    Statement,
    fetch,
    python_value,
)
from report_fixtures import CLEANUP_DAYS, DAYS, NOW, ROWS, VERSIONS, fixture_tables, load_rows

# -- the report files ------------------------------------------------------------------------------


def test_report_files_are_documented_and_portable():
    queries = load_report_queries()
    assert [query.name for query in queries] == ALL_REPORT_NAMES
    assert [query.name for query in queries if query.reads_versions] == VERSION_REPORT_NAMES
    for query in queries:
        text = query.path.read_text(encoding="utf-8")
        header = text.split("\nSELECT", 1)[0]
        assert re.search(r"^-- title: \S", header, re.MULTILINE), query.path
        assert "-- Answers:" in header and "-- Parameters:" in header, query.path
        for param in query.params:
            assert f":{param}" in header, f"{query.path} does not describe :{param}"
        assert "%" not in text, query.path
        assert re.search(r"\b(FROM|JOIN) artifact(s|_versions)\b", text), query.path
    assert {p.name for p in REPORTS_DIR.glob("*.sql")} == {q.path.name for q in queries}


def test_report_parameters_are_the_ones_each_file_uses():
    params = {query.name: query.params for query in load_report_queries()}

    assert params == {
        "totals": [],
        "inventory": [],
        "recently_modified": ["since"],
        "top_downloads": ["top"],
        "quarantined": [],
        "label_usage": [],
        "stale_registries": ["now", "since"],
        "storage": [],
        "storage_by_month": [],
        "cleanup_candidates": ["cleanup_before"],
        "quarantined_versions": [],
    }


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT 1 FROM registries", r"reads unknown tables \['registries'\]"),
        ("SELECT 1 FROM harness.artifacts", r"reads \['harness.artifacts'\]; name tables without"),
        ("SELECT name FROM artifacts WHERE name LIKE 'a%'", "'%' is not allowed"),
        ("SELECT 1 FROM artifacts; SELECT 2 FROM artifacts", "holds 2 statements, not one"),
        ("SELECT FROM WHERE (", "not valid SQL"),
        ("SELECT 1 FROM artifacts WHERE x = :days", r"unknown parameters \['days'\]"),
    ],
)
def test_bad_report_files_are_refused_naming_the_file(tmp_path, sql, message):
    path = tmp_path / "10_bad.sql"
    path.write_text(f"-- title: Bad\n{sql}\n", encoding="utf-8")

    with pytest.raises(ValueError, match=message) as error:
        ReportQuery.from_file(path)
    assert str(error.value).startswith(str(path))


def test_report_file_names_are_checked(tmp_path):
    (tmp_path / "1-Bad.sql").write_text("SELECT 1 FROM artifacts", encoding="utf-8")
    with pytest.raises(ValueError, match=r"report files are named NN_name\.sql"):
        load_report_queries(tmp_path)


# -- parsing and binding ---------------------------------------------------------------------------


def test_parameters_are_read_outside_strings_comments_and_casts():
    statement = Statement.parse(
        "-- a comment with :ignored\n"
        "SELECT ':not_a_param' AS s, x::BIGINT AS x, \"col:umn\" FROM artifacts WHERE a >= :since "
        "AND b < :now AND c >= :since -- :trailing\n"
    )

    assert statement.params == ["since", "now"]
    assert statement.render("duckdb") == (
        "SELECT ':not_a_param' AS s, CAST(x AS BIGINT) AS x, \"col:umn\" FROM artifacts "
        "WHERE a >= $since AND b < $now AND c >= $since"
    )
    assert statement.render("postgres") == (
        "SELECT ':not_a_param' AS s, CAST(x AS BIGINT) AS x, \"col:umn\" FROM artifacts "
        "WHERE a >= %(since)s AND b < %(now)s AND c >= %(since)s"
    )


def test_values_are_bound_by_the_driver_never_pasted():
    engine = DuckDBEngine(duckdb.connect())
    statement = Statement.parse("SELECT :word AS word, :n + 1 AS n")

    result = fetch(engine, statement, {"word": "x' OR '1'='1", "n": 41, "unused": 0})

    assert result.records() == [{"word": "x' OR '1'='1", "n": 42}]
    with pytest.raises(KeyError, match="no value for parameter n"):
        fetch(engine, statement, {"word": "w"})


# -- the query layer -------------------------------------------------------------------------------


def test_current_rows_and_their_labels_in_snapshot_mode():
    retired = [{**ROWS[0], "name": "deleted", "labels": ["gone"]}]
    with duckdb.connect() as connection:
        load_rows(connection, "harness", ROWS, snapshot=True, retired=retired)
        queries = ArtifactQueries(DuckDBEngine(connection), "harness")

        names = queries.fetch("SELECT name FROM artifacts ORDER BY name").rows
        labels = queries.fetch("SELECT DISTINCT value FROM artifacts__labels ORDER BY 1").rows
        stored = connection.execute('SELECT COUNT(*) FROM "harness".artifacts').fetchall()

    assert queries.relations.snapshot
    assert [name for (name,) in names] == sorted(row["name"] for row in ROWS)
    assert labels == [("prod",), ("team-a",), ("中文",)]
    assert stored == [(len(ROWS) + 1,)]


def test_incremental_tables_are_read_whole_and_a_missing_labels_table_is_empty():
    unlabelled = [{**row, "labels": []} for row in ROWS]
    with duckdb.connect() as connection:
        load_rows(connection, "harness", unlabelled)
        queries = ArtifactQueries(DuckDBEngine(connection), "harness")

        count = queries.fetch("SELECT COUNT(*) AS n FROM artifacts").rows
        labels = queries.fetch("SELECT value, _dlt_parent_id FROM artifacts__labels").rows

    assert not queries.relations.snapshot
    assert count == [(len(ROWS),)] and labels == []


def test_a_file_named_like_its_dataset_is_read_with_catalog_qualified_names(tmp_path):
    """`harness_registry.duckdb` holding the schema `harness_registry`: DuckDB cannot tell the
    catalog from the schema in `harness_registry.artifacts`."""
    database = tmp_path / "harness_registry.duckdb"
    with duckdb.connect(str(database)) as connection:
        load_rows(connection, "harness_registry", ROWS)
    with duckdb.connect(str(database), read_only=True) as connection:
        with pytest.raises(duckdb.BinderException, match="mbiguous"):
            connection.execute("SELECT COUNT(*) FROM harness_registry.artifacts")
        queries = ArtifactQueries(DuckDBEngine(connection), "harness_registry")

        sql = queries.render("SELECT COUNT(*) AS n FROM artifacts")
        count = queries.fetch("SELECT COUNT(*) AS n FROM artifacts").rows

    assert '"harness_registry"."harness_registry"."artifacts"' in sql
    assert count == [(len(ROWS),)]


def test_the_statements_own_ctes_may_read_the_relations():
    with duckdb.connect() as connection:
        load_rows(connection, "harness", ROWS)
        queries = ArtifactQueries(DuckDBEngine(connection), "harness")

        result = queries.fetch(
            "WITH hf AS (SELECT * FROM artifacts WHERE package_type = :type) "
            "SELECT artifact_type FROM hf ORDER BY 1",
            {"type": "HUGGINGFACE"},
        )

    assert result.rows == [("dataset",), ("model",)]


def test_a_dataset_without_artifacts_is_no_data():
    with duckdb.connect() as connection:
        connection.execute("CREATE SCHEMA harness")
        with pytest.raises(NoDataError, match="no artifacts loaded yet in dataset harness"):
            ArtifactQueries(DuckDBEngine(connection), "harness")


def test_sql_for_the_layer_names_tables_without_a_schema():
    check_relations(Statement.parse("SELECT * FROM artifacts JOIN artifacts__labels ON TRUE"))
    with pytest.raises(ValueError, match="name tables without a schema"):
        check_relations(Statement.parse("SELECT * FROM main.artifacts"))


def test_versions_and_their_tags_in_snapshot_mode():
    retired = [{**VERSIONS[0], "version": "v0.1-deleted", "tags": ["gone"]}]
    with duckdb.connect() as connection:
        load_rows(
            connection, "harness", ROWS, snapshot=True, versions=VERSIONS, retired_versions=retired
        )
        queries = ArtifactQueries(DuckDBEngine(connection), "harness")

        count = queries.fetch("SELECT COUNT(*) AS n FROM artifact_versions").rows
        tags = queries.fetch(
            "SELECT v.artifact_name, v.version, t.value FROM artifact_versions__tags AS t "
            "JOIN artifact_versions AS v ON v._dlt_id = t._dlt_parent_id "
            "ORDER BY t._dlt_parent_id, t._dlt_list_idx"
        ).rows

    assert queries.relations.versions_loaded
    assert count == [(len(VERSIONS),)]
    assert tags == [
        ("api", "v2.1", "v2.1"), ("api", "v2.1", "stable"), ("api", "v1.0", "v1.0"),
        ("worker", "1.0.0", "1.0.0"), ("worker", "0.9.0", "0.9.0"),
        ("legacy", "1.0.0", "1.0.0"), ("legacy", "0.1.0", "0.1.0"),
    ]  # fmt: skip


def test_without_versions_the_version_relations_are_empty_with_every_column():
    with duckdb.connect() as connection:
        load_rows(connection, "harness", ROWS)
        queries = ArtifactQueries(DuckDBEngine(connection), "harness")

        versions = queries.fetch("SELECT * FROM artifact_versions")
        tags = queries.fetch("SELECT * FROM artifact_versions__tags")
        types = connection.execute(
            f"DESCRIBE {queries.render('SELECT * FROM artifact_versions')}"
        ).fetchall()

    assert not queries.relations.versions_loaded
    assert (versions.columns, versions.rows) == (list(VERSION_COLUMNS), [])
    assert (tags.columns, tags.rows) == (
        ["value", "_dlt_parent_id", "_dlt_list_idx", "_dlt_root_id", "_dlt_id"],
        [],
    )
    assert {name: kind for name, kind, *_ in types} == {
        name: {"TEXT": "VARCHAR", "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}.get(kind, kind)
        for name, kind in VERSION_COLUMNS.items()
    }


# -- the same reports on PostgreSQL ----------------------------------------------------------------


class Psycopg2Engine:
    """SQL on a psycopg2 connection, as dlt's PostgreSQL client runs it (`%(name)s` parameters)."""

    dialect = "postgres"

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Mapping[str, Any]) -> QueryResult:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, dict(params))
            return QueryResult(
                [column[0] for column in cursor.description],
                [tuple(python_value(v) for v in row) for row in cursor.fetchall()],
            )


PG_TYPES = {
    "VARCHAR": "TEXT",
    "TIMESTAMPTZ": "TIMESTAMPTZ",
    "BIGINT": "BIGINT",
    "BOOLEAN": "BOOLEAN",
}


@pytest.mark.postgres
@pytest.mark.parametrize("snapshot", [False, True], ids=["incremental", "snapshot"])
def test_every_report_on_the_fixture_is_the_same_on_postgres(postgres_dsn, snapshot):  # noqa: F811
    """The portable SQL of every report, versions included, on a real PostgreSQL server in a
    session time zone that is not UTC: the same literal rows as on DuckDB."""
    import psycopg2

    history = {}
    if snapshot:
        history = {
            "retired": [{**row, "downloads_count": 10**6, "labels": ["old"]} for row in ROWS],
            "retired_versions": [{**row, "size_bytes": 10**15, "tags": ["old"]} for row in VERSIONS],
        }  # fmt: skip
    tables = fixture_tables(ROWS, snapshot=snapshot, versions=VERSIONS, **history)
    dataset = f"harness_fixture_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(postgres_dsn)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'America/New_York'")
            cursor.execute(f'CREATE SCHEMA "{dataset}"')
            for name, (columns, rows) in tables.items():
                definition = ", ".join(f"{c} {PG_TYPES[kind]}" for c, kind in columns.items())
                cursor.execute(f'CREATE TABLE "{dataset}".{name} ({definition})')
                marks = ", ".join("%s" for _ in columns)
                cursor.executemany(f'INSERT INTO "{dataset}".{name} VALUES ({marks})', rows)
        queries = ArtifactQueries(Psycopg2Engine(connection), dataset)
        run = run_queries(
            queries, destination="postgres", dataset=dataset, days=DAYS, top=2, now=NOW,
            cleanup_days=CLEANUP_DAYS,
        )  # fmt: skip
    finally:
        connection.rollback()  # nothing was committed: the schema goes with the transaction
        connection.close()

    assert queries.relations.snapshot == snapshot and queries.relations.versions_loaded
    assert [result.name for result in run.results] == ALL_REPORT_NAMES
    for name in ALL_REPORT_NAMES:
        assert run[name].records() == ALL_FIXTURE_REPORTS[name], name
