"""PostgreSQL, live: the emulator's data loaded into a real server on loopback, an incremental second
load, and the reports there, compared with DuckDB's and with the emulator's own figures.

The server is `HARNESS_TEST_POSTGRES_DSN`, by default the one `.ci/postgres.sh` sets up. Without a
server the tests skip with one line; in CI (`CI=true`) they fail instead, so CI proves they ran.
"""

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dlt
import pytest
from test_reports import REPORT_NAMES, expected_reports

from conftest import (
    REPO_ROOT,
    call_cli,
    expected_artifacts,
    make_pipeline,
    normalize_times,
    readable_registries,
    run_source,
)
from harness_registry import RunReport
from harness_registry_pipelines.cli import LOADER_FILE_FORMATS
from harness_registry_pipelines.reports import run_reports

pytestmark = pytest.mark.postgres

DEFAULT_DSN = "postgresql://loader:loader@127.0.0.1:5432/harness_test"
ARTIFACT_COLUMNS = (
    "registry_ref, name, artifact_type, package_type, latest_version, downloads_count, "
    "is_quarantined, uuid, registry_uuid, registry_identifier, last_modified, labels_text, _dlt_id"
)


def redacted(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture(scope="module")
def postgres_dsn() -> str:
    import psycopg2

    dsn = os.environ.get("HARNESS_TEST_POSTGRES_DSN") or DEFAULT_DSN
    try:
        psycopg2.connect(dsn, connect_timeout=5).close()
    except psycopg2.Error as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        reason = (
            f"no PostgreSQL at {redacted(dsn)} ({first_line}); "
            "run .ci/postgres.sh as root or set HARNESS_TEST_POSTGRES_DSN"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return dsn


@pytest.fixture
def pg_dataset(postgres_dsn: str) -> Iterator[str]:
    """A dataset (schema) of its own, dropped afterwards with the staging schema dlt's merge adds."""
    import psycopg2

    dataset = f"harness_test_{uuid.uuid4().hex[:12]}"
    yield dataset
    with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
        for schema in (dataset, f"{dataset}_staging"):
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pg_pipeline(tmp_path: Path, dsn: str, dataset: str) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"pg_{dataset}",
        pipelines_dir=str(tmp_path / "pg_pipelines"),
        destination=dlt.destinations.postgres(credentials=dsn),
        dataset_name=dataset,
    )


def load_postgres(emulator, pipeline: dlt.Pipeline, refs: list[str]) -> tuple[RunReport, Any]:
    """As the CLI loads PostgreSQL: with the load file format it picks (LOADER_FILE_FORMATS)."""
    return run_source(
        emulator, pipeline, registries=refs, loader_file_format=LOADER_FILE_FORMATS.get("postgres")
    )


def pg_rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg2

    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def pg_artifacts(dsn: str, dataset: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every `artifacts` row by key with its labels, like conftest.loaded_artifacts on DuckDB."""
    names = [column.strip() for column in ARTIFACT_COLUMNS.split(",")]
    labels: dict[str, list[str]] = {}
    for parent, value in pg_rows(
        dsn,
        f'SELECT _dlt_parent_id, value FROM "{dataset}".artifacts__labels '
        "ORDER BY _dlt_parent_id, _dlt_list_idx",
    ):
        labels.setdefault(parent, []).append(value)
    result = {}
    for row in pg_rows(dsn, f'SELECT {ARTIFACT_COLUMNS} FROM "{dataset}".artifacts'):
        record = dict(zip(names, row, strict=True))
        record["labels"] = labels.get(record.pop("_dlt_id"), [])
        key = (record["registry_ref"], record["name"], record["artifact_type"])
        assert key not in result, f"duplicate row for {key}"
        result[key] = record
    return normalize_times(result)


def assert_same_rows(
    loaded: dict[Any, dict[str, Any]], expected: dict[Any, dict[str, Any]]
) -> None:
    """Equal rows, or a message naming the columns that differ and how."""
    assert sorted(loaded) == sorted(expected)
    differences: dict[str, list[str]] = {}
    for key, row in expected.items():
        for column, value in row.items():
            if loaded[key][column] != value:
                differences.setdefault(column, []).append(
                    f"{key}: {loaded[key][column]!r} != {value!r}"
                )
    summary = {
        column: f"{len(found)} rows, e.g. {found[0]}" for column, found in differences.items()
    }
    assert not differences, f"loaded != emulator in columns {summary}"
    assert loaded == expected


def canonical(rows: list[tuple[Any, ...]]) -> list[str]:
    """Rows in an order that does not depend on the database's collation."""
    return sorted(repr(row) for row in rows)


def test_load_increment_and_reports_on_postgres(emulator, tmp_path, postgres_dsn, pg_dataset):
    refs = readable_registries(emulator)
    pipeline = pg_pipeline(tmp_path, postgres_dsn, pg_dataset)

    first, _ = load_postgres(emulator, pipeline, refs)

    assert first.failures == []
    assert_same_rows(pg_artifacts(postgres_dsn, pg_dataset), expected_artifacts(emulator, refs))
    types = dict(
        pg_rows(
            postgres_dsn,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = '{pg_dataset}' AND table_name = 'artifacts'",
        )
    )
    assert types["last_modified"] == "timestamp with time zone"
    assert types["downloads_count"] == "bigint"
    assert types["is_quarantined"] == "boolean"

    # two artifacts get a new version: the second load carries them and nothing else
    moved_ref = next(ref for ref in refs if len(emulator.dataset()["artifacts"][ref]) >= 2)
    moved = emulator.dataset()["artifacts"][moved_ref][:2]
    emulator.mutate(
        [
            {
                "op": "add_version",
                "registry": moved_ref,
                "name": row["name"],
                "artifact_type": row.get("artifactType"),
                "version": "99.0.0",
            }
            for row in moved
        ]
    )
    second, info = load_postgres(emulator, pipeline, refs)

    assert second.rows_loaded == 2
    assert {ref: r.rows_loaded for ref, r in second.registries.items() if r.rows_loaded} == {
        moved_ref: 2
    }
    second_load_id = info.loads_ids[-1]
    in_second_load = pg_rows(
        postgres_dsn,
        f'SELECT registry_ref, name, artifact_type, latest_version FROM "{pg_dataset}".artifacts '
        f"WHERE _dlt_load_id = '{second_load_id}' ORDER BY name",
    )
    assert in_second_load == sorted(
        (moved_ref, row["name"], row.get("artifactType") or "", "99.0.0") for row in moved
    )
    loaded = pg_artifacts(postgres_dsn, pg_dataset)
    assert_same_rows(loaded, expected_artifacts(emulator, refs))
    assert len(loaded) == sum(len(emulator.dataset()["artifacts"][ref]) for ref in refs)

    # the same reports on PostgreSQL and DuckDB, both equal to the emulator's figures
    duck = make_pipeline(tmp_path, name="duck_for_comparison")
    run_source(emulator, duck, registries=refs)
    newest = max(row["last_modified"] for row in loaded.values() if row["last_modified"])
    now, days = newest + timedelta(hours=5), 45

    on_postgres = run_reports(pipeline, days=days, now=now)
    on_duckdb = run_reports(duck, days=days, now=now)

    assert on_postgres.destination == "postgres" and on_duckdb.destination == "duckdb"
    expected = expected_reports(list(loaded.values()), now, days, on_postgres.top)
    for name in REPORT_NAMES:
        pg_result, duck_result = on_postgres[name], on_duckdb[name]
        assert pg_result.columns == duck_result.columns, name
        assert canonical(pg_result.rows) == canonical(duck_result.rows), name
        assert canonical(pg_result.rows) == canonical(
            [tuple(row.values()) for row in expected[name]]
        ), name
        assert expected[name], f"{name} is empty: the comparison would prove nothing"
    # the ORDER BY keys that do not depend on collation agree too
    assert [r[0] for r in on_postgres["top_downloads"].rows] == [
        r[0] for r in on_duckdb["top_downloads"].rows
    ]
    assert [r[0] for r in on_postgres["recently_modified"].rows] == [
        r[0] for r in on_duckdb["recently_modified"].rows
    ]
    assert [r[1] for r in on_postgres["label_usage"].rows] == [
        r[1] for r in on_duckdb["label_usage"].rows
    ]


def test_report_command_on_postgres(emulator, tmp_path, postgres_dsn, pg_dataset):
    refs = readable_registries(emulator)
    load_postgres(emulator, pg_pipeline(tmp_path, postgres_dsn, pg_dataset), refs)
    env = {"DESTINATION__POSTGRES__CREDENTIALS": postgres_dsn}
    flags = ["--destination", "postgres", "--dataset", pg_dataset, "--pipeline-name", "pg_report"]

    result = call_cli("report", *flags, "--format", "json", env=env)

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["destination"] == "postgres" and document["dataset"] == pg_dataset
    totals = document["reports"]["totals"]["rows"]
    truth = expected_artifacts(emulator, refs)
    assert len(totals) == 1
    assert totals[0]["artifacts"] == len(truth)
    assert totals[0]["downloads"] == sum(row["downloads_count"] for row in truth.values())
    assert totals[0]["quarantined"] == sum(1 for row in truth.values() if row["is_quarantined"])

    table = call_cli("report", *flags, env=env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(f"Reports on postgres dataset {pg_dataset} at ")

    missing = call_cli("report", *flags[:2], "--dataset", f"{pg_dataset}_absent", env=env)
    assert missing.returncode == 2
    assert missing.stderr == (
        f"error: no artifacts loaded yet in dataset {pg_dataset}_absent on postgres: "
        "run `.venv/bin/harness-registry run` first\n"
    )


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_a_server_it_skips_in_one_line_or_fails_in_ci(ci):
    """What `make test` says on a machine without PostgreSQL, and what CI does instead."""
    env = {
        **os.environ,
        "HARNESS_TEST_POSTGRES_DSN": "postgresql://loader:s3cret@127.0.0.1:1/harness_test",
        "CI": ci,
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", __file__,
         "-k", "test_load_increment_and_reports_on_postgres"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    reason = "no PostgreSQL at postgresql://loader:***@127.0.0.1:1/harness_test ("
    lines = [line for line in result.stdout.splitlines() if reason in line]
    assert len(lines) == 1, result.stdout
    assert "s3cret" not in result.stdout + result.stderr
    if ci:
        assert result.returncode == 1
        assert lines[0].startswith("E   CI=true and no PostgreSQL at ") or "CI=true and" in lines[0]
        assert "1 error" in result.stdout.splitlines()[-1]
    else:
        assert result.returncode == 0
        assert lines[0].startswith("SKIPPED [1] ")
        assert lines[0].endswith("run .ci/postgres.sh as root or set HARNESS_TEST_POSTGRES_DSN")
        assert "1 skipped" in result.stdout.splitlines()[-1]
