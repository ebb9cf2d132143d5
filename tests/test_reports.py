"""The SQL reports' results: against a small hand-written dataset with every expected row written
out (report_fixtures.py), and against the emulator's data loaded by the source, where each report
must equal the same report over the rows the emulator serves (conftest.expected_artifacts) written
straight into DuckDB. Output formats are in test_report_output.py, the SQL files and the query
layer in test_report_sql.py, the `report` command in test_report_command.py.

test_postgres.py imports `REPORT_NAMES` and `expected_reports` from here."""

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from conftest import expected_artifacts, readable_registries, run_source
from harness_registry_pipelines.queries import ArtifactQueries
from harness_registry_pipelines.reports import ReportRun, run_queries, run_reports
from harness_registry_pipelines.sql_engine import DuckDBEngine
from report_fixtures import DAYS, NOW, ROWS, SINCE, WIDE_NAME, at, load_rows

COLUMNS = {
    "totals": [
        "artifacts",
        "registries",
        "package_types",
        "downloads",
        "quarantined",
        "labelled",
        "distinct_labels",
        "unknown_last_modified",
        "newest_change",
    ],
    "inventory": [
        "registry_ref",
        "package_type",
        "artifacts",
        "downloads",
        "quarantined",
        "last_modified",
    ],
    "recently_modified": [
        "last_modified",
        "registry_ref",
        "name",
        "artifact_type",
        "package_type",
        "latest_version",
    ],
    "top_downloads": [
        "download_rank",
        "registry_ref",
        "name",
        "artifact_type",
        "package_type",
        "downloads_count",
    ],
    "quarantined": [
        "registry_ref",
        "name",
        "artifact_type",
        "package_type",
        "latest_version",
        "last_modified",
        "downloads_count",
    ],
    "label_usage": ["label", "artifacts", "registries"],
    "stale_registries": ["registry_ref", "artifacts", "last_change", "days_without_change"],
}
REPORT_NAMES = list(COLUMNS)
DAY_MS = 86_400_000
ZERO_TIME_MS = -62135596800000


def reports_over(
    rows: list[dict[str, Any]], now: datetime, days: int, top: int, **load: Any
) -> ReportRun:
    """The reports over `rows` written into a fresh in-memory DuckDB (see report_fixtures)."""
    with duckdb.connect() as connection:
        load_rows(connection, "harness", rows, **load)
        queries = ArtifactQueries(DuckDBEngine(connection), "harness")
        return run_queries(
            queries, destination="duckdb", dataset="harness", days=days, top=top, now=now
        )


def expected_reports(
    rows: list[dict[str, Any]], now: datetime, days: int, top: int
) -> dict[str, list[dict[str, Any]]]:
    """What each report must say about `rows` (shaped as conftest.expected_artifact): the same
    reports over those rows written straight into DuckDB, so that a comparison checks what was
    loaded and how, while the SQL itself is checked against the literal rows below."""
    run = reports_over(rows, now, days, top)
    return {result.name: result.records() for result in run.results}


def assert_reports_equal(run, expected: dict[str, list[dict[str, Any]]]) -> None:
    assert [result.name for result in run.results] == REPORT_NAMES
    for name in REPORT_NAMES:
        assert run[name].columns == COLUMNS[name]
        assert run[name].records() == expected[name], name


# -- the hand-written dataset, every expected row written out ------------------------------------

DOCKER, MAVEN, HF, RAW = "acme/docker-prod", "acme/platform/maven", "acme/hf", "acme/empty-times"
FIXTURE_REPORTS = {  # ROWS, now = NOW, days = DAYS (30), top = 2
    "totals": [
        {"artifacts": 8, "registries": 4, "package_types": 4, "downloads": 870, "quarantined": 2,
         "labelled": 4, "distinct_labels": 3, "unknown_last_modified": 3,
         "newest_change": at(2026, 11, 19, 8)},
    ],
    "inventory": [
        {"registry_ref": DOCKER, "package_type": "DOCKER", "artifacts": 3, "downloads": 740, "quarantined": 1, "last_modified": at(2026, 11, 19, 8)},
        {"registry_ref": RAW, "package_type": "RAW", "artifacts": 1, "downloads": 3, "quarantined": 1, "last_modified": None},
        {"registry_ref": HF, "package_type": "HUGGINGFACE", "artifacts": 2, "downloads": 7, "quarantined": 0, "last_modified": at(2026, 11, 1)},
        {"registry_ref": MAVEN, "package_type": "MAVEN", "artifacts": 2, "downloads": 120, "quarantined": 0, "last_modified": at(2026, 9, 1)},
    ],
    "recently_modified": [  # `worker` is exactly at the window's start, `legacy` 1 ms before it
        {"last_modified": at(2026, 11, 19, 8), "registry_ref": DOCKER, "name": "api", "artifact_type": "", "package_type": "DOCKER", "latest_version": "v2.1"},
        {"last_modified": at(2026, 11, 1), "registry_ref": HF, "name": WIDE_NAME, "artifact_type": "model", "package_type": "HUGGINGFACE", "latest_version": "1.0.0"},
        {"last_modified": SINCE, "registry_ref": DOCKER, "name": "worker", "artifact_type": "", "package_type": "DOCKER", "latest_version": "1.0.0"},
    ],
    "top_downloads": [  # three tied for rank 2: all listed, ordered by key
        {"download_rank": 1, "registry_ref": DOCKER, "name": "api", "artifact_type": "", "package_type": "DOCKER", "downloads_count": 500},
        {"download_rank": 2, "registry_ref": DOCKER, "name": "legacy", "artifact_type": "", "package_type": "DOCKER", "downloads_count": 120},
        {"download_rank": 2, "registry_ref": DOCKER, "name": "worker", "artifact_type": "", "package_type": "DOCKER", "downloads_count": 120},
        {"download_rank": 2, "registry_ref": MAVEN, "name": "com.acme:core", "artifact_type": "", "package_type": "MAVEN", "downloads_count": 120},
    ],
    "quarantined": [
        {"registry_ref": DOCKER, "name": "worker", "artifact_type": "", "package_type": "DOCKER", "latest_version": "1.0.0", "last_modified": SINCE, "downloads_count": 120},
        {"registry_ref": RAW, "name": "timeless", "artifact_type": "", "package_type": "RAW", "latest_version": "1.0.0", "last_modified": None, "downloads_count": 3},
    ],
    "label_usage": [
        {"label": "prod", "artifacts": 2, "registries": 1},
        {"label": "team-a", "artifacts": 2, "registries": 2},
        {"label": "中文", "artifacts": 1, "registries": 1},
    ],
    "stale_registries": [  # unknown times first; 2026-09-01 00:00 to 2026-11-20 12:00 is 80.5 days
        {"registry_ref": RAW, "artifacts": 1, "last_change": None, "days_without_change": None},
        {"registry_ref": MAVEN, "artifacts": 2, "last_change": at(2026, 9, 1), "days_without_change": 80},
    ],
}  # fmt: skip


def test_every_report_on_the_fixture_equals_the_rows_written_out():
    run = reports_over(ROWS, NOW, DAYS, 2)

    assert_reports_equal(run, FIXTURE_REPORTS)
    assert run.now == NOW and run.since == SINCE and (run.days, run.top) == (DAYS, 2)
    assert [result.title for result in run.results] == [
        "Totals",
        "Inventory by registry and package type",
        "Artifacts modified in the last 30 days",
        "Top 2 downloads",
        "Quarantined artifacts",
        "Label usage",
        "Registries with no change in the last 30 days",
    ]


def test_snapshot_history_changes_no_figure():
    """Old versions (scd2's `_dlt_valid_to` set) with other numbers and labels of their own, and an
    artifact that exists only as an old version, count nowhere."""
    retired = [
        {**row, "downloads_count": 10_000, "is_quarantined": True, "last_modified": NOW,
         "labels": ["retired-label"]}
        for row in ROWS
    ] + [{**ROWS[0], "name": "deleted", "labels": ["gone"]}]  # fmt: skip

    run = reports_over(ROWS, NOW, DAYS, 2, snapshot=True, retired=retired)

    assert_reports_equal(run, FIXTURE_REPORTS)


def test_top_and_days_move_the_cut():
    run = reports_over(ROWS, NOW, 0, 5)

    assert [(r["download_rank"], r["name"]) for r in run["top_downloads"].records()] == [
        (1, "api"), (2, "legacy"), (2, "worker"), (2, "com.acme:core"), (5, WIDE_NAME),
    ]  # fmt: skip
    assert run["recently_modified"].rows == []
    assert run["stale_registries"].records() == [
        {"registry_ref": RAW, "artifacts": 1, "last_change": None, "days_without_change": None},
        {"registry_ref": MAVEN, "artifacts": 2, "last_change": at(2026, 9, 1), "days_without_change": 80},
        {"registry_ref": HF, "artifacts": 2, "last_change": at(2026, 11, 1), "days_without_change": 19},
        {"registry_ref": DOCKER, "artifacts": 3, "last_change": at(2026, 11, 19, 8), "days_without_change": 1},
    ]  # fmt: skip
    assert reports_over(ROWS, NOW, DAYS, 1)["top_downloads"].records() == [
        FIXTURE_REPORTS["top_downloads"][0]
    ]


def test_one_day_window_is_singular_in_titles():
    run = reports_over(ROWS, NOW, 1, 3)

    assert run["recently_modified"].title == "Artifacts modified in the last 1 day"
    assert run["stale_registries"].title == "Registries with no change in the last 1 day"
    assert run["recently_modified"].rows == []  # api changed 28 hours before NOW


def test_without_a_labels_table_label_figures_are_zero():
    unlabelled = [{**row, "labels": [], "labels_text": None} for row in ROWS]

    run = reports_over(unlabelled, NOW, DAYS, 2)

    assert run["label_usage"].rows == []
    assert (
        run["totals"].records()[0]["labelled"],
        run["totals"].records()[0]["distinct_labels"],
    ) == (0, 0)
    assert run["inventory"].records() == FIXTURE_REPORTS["inventory"]


def test_out_of_range_arguments_are_refused():
    with duckdb.connect() as connection:
        load_rows(connection, "harness", ROWS)
        queries = ArtifactQueries(DuckDBEngine(connection), "harness")
        with pytest.raises(ValueError, match="days must be 0 or more, not -1"):
            run_queries(queries, destination="duckdb", dataset="harness", days=-1)
        with pytest.raises(ValueError, match="top must be at least 1, not 0"):
            run_queries(queries, destination="duckdb", dataset="harness", top=0)
        with pytest.raises(ValueError, match="unknown report nope"):
            run_queries(queries, destination="duckdb", dataset="harness", names=["nope"])
        only = run_queries(queries, destination="duckdb", dataset="harness", names=["totals"])
    assert [result.name for result in only.results] == ["totals"]


# -- the emulator's data, loaded by the source ---------------------------------------------------


def truth_rows(emulator, refs: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows the `artifacts` table must hold (see conftest.expected_artifact)."""
    return list(expected_artifacts(emulator, refs or readable_registries(emulator)).values())


def at_ms(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def test_every_report_on_loaded_data_equals_the_report_on_the_emulator_rows(emulator, pipeline):
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)
    rows = truth_rows(emulator, refs)
    known = sorted(row["last_modified"] for row in rows if row["last_modified"] is not None)
    # a report time and window that split the data: some recent artifacts, some stale registries
    now = known[-1] + timedelta(hours=5)
    days = 45

    run = run_reports(pipeline, days=days, top=10, now=now)

    expected = expected_reports(rows, now, days, 10)
    assert_reports_equal(run, expected)
    # the data makes every report say something, so none of these comparisons is vacuous
    assert all(expected[name] for name in REPORT_NAMES), [
        n for n in REPORT_NAMES if not expected[n]
    ]
    assert run["totals"].records()[0]["artifacts"] == sum(
        len(emulator.dataset()["artifacts"][ref]) for ref in refs
    )
    assert run["totals"].records()[0]["unknown_last_modified"] > 0
    assert any(row["last_change"] is not None for row in expected["stale_registries"])
    assert run.now == now and run.since == now - timedelta(days=days)


def test_top_downloads_lists_every_artifact_tied_with_the_last_rank(emulator, pipeline):
    ref = next(
        ref
        for ref in readable_registries(emulator)
        if len(emulator.dataset()["artifacts"][ref]) >= 6
        and not any(row.get("artifactType") for row in emulator.dataset()["artifacts"][ref])
    )
    names = [row["name"] for row in emulator.dataset()["artifacts"][ref]]
    peak = max(row["downloadsCount"] for row in truth_rows_raw(emulator)) + 1000
    # ranks 1, 2, 2, 2, 5: the top 3 holds four artifacts
    emulator.mutate(
        [{"op": "set_downloads", "registry": ref, "name": names[0], "downloads": peak + 10}]
        + [
            {"op": "set_downloads", "registry": ref, "name": name, "downloads": peak}
            for name in names[1:4]
        ]
        + [{"op": "set_downloads", "registry": ref, "name": names[4], "downloads": peak - 1}]
    )
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)

    run = run_reports(pipeline, top=3)

    top = run["top_downloads"].records()
    tied = sorted((2, name) for name in names[1:4])
    assert [(row["download_rank"], row["name"]) for row in top] == [(1, names[0]), *tied]
    assert (
        top == expected_reports(truth_rows(emulator, refs), run.now, run.days, 3)["top_downloads"]
    )


def truth_rows_raw(emulator) -> list[dict[str, Any]]:
    return [row for rows in emulator.dataset()["artifacts"].values() for row in rows]


def test_time_window_edges_and_registries_with_unknown_times(emulator, pipeline):
    """A row at exactly now - N days is recent, 1 ms earlier it is not; a registry whose artifacts
    all have unknown times has not changed as far as anyone knows."""
    newest_ms = max(
        int(row["lastModified"]) for row in truth_rows_raw(emulator) if int(row["lastModified"]) > 0
    )
    now_ms = newest_ms + 100 * DAY_MS + 12_345
    days = 10
    since_ms = now_ms - days * DAY_MS
    emulator.mutate(
        [
            {"op": "add_registry", "path": "acme/reports-fresh", "package_type": "GENERIC"},
            {"op": "add_registry", "path": "acme/reports-stale", "package_type": "GENERIC"},
            {"op": "add_registry", "path": "acme/reports-unknown", "package_type": "RAW"},
            {"op": "add_artifact", "registry": "acme/reports-fresh", "name": "at-edge", "last_modified_ms": since_ms},
            {"op": "add_artifact", "registry": "acme/reports-fresh", "name": "before-edge", "last_modified_ms": since_ms - 1},
            {"op": "add_artifact", "registry": "acme/reports-stale", "name": "before-edge", "last_modified_ms": since_ms - 1},
            {"op": "add_artifact", "registry": "acme/reports-unknown", "name": "timeless", "last_modified_ms": ZERO_TIME_MS},
        ]
    )  # fmt: skip
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)
    now = at_ms(now_ms)

    run = run_reports(pipeline, days=days, now=now)

    assert [(r["registry_ref"], r["name"]) for r in run["recently_modified"].records()] == [
        ("acme/reports-fresh", "at-edge")
    ]
    stale = {row["registry_ref"]: row for row in run["stale_registries"].records()}
    assert "acme/reports-fresh" not in stale
    assert stale["acme/reports-stale"] == {
        "registry_ref": "acme/reports-stale",
        "artifacts": 1,
        "last_change": at_ms(since_ms - 1),
        "days_without_change": days,
    }
    assert stale["acme/reports-unknown"]["last_change"] is None
    assert stale["acme/reports-unknown"]["days_without_change"] is None
    assert next(iter(stale)) == "acme/reports-unknown", "unknown times come first"
    assert_reports_equal(run, expected_reports(truth_rows(emulator, refs), now, days, run.top))


def test_snapshot_history_rows_are_left_out(emulator, pipeline):
    """With dlt's `_dlt_valid_to` column (snapshot mode), only current rows count: old versions
    of artifacts, and their labels, change no figure."""
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)
    before = run_reports(pipeline, days=400)
    database = pipeline.destination_client().config.credentials.database
    with duckdb.connect(database) as db:
        table = f"{pipeline.dataset_name}.artifacts"
        labels = f"{pipeline.dataset_name}.artifacts__labels"
        catalog = db.sql("SELECT current_database()").fetchall()[0][0]
        table, labels = f"{catalog}.{table}", f"{catalog}.{labels}"
        db.execute(f"ALTER TABLE {table} ADD COLUMN _dlt_valid_from TIMESTAMPTZ")
        db.execute(f"ALTER TABLE {table} ADD COLUMN _dlt_valid_to TIMESTAMPTZ")
        # an old version of every labelled artifact: other numbers, quarantined, recent, relabelled
        db.execute(
            f"""INSERT INTO {labels} BY NAME
                SELECT l.* REPLACE (
                    'retired-label' AS value,
                    l._dlt_parent_id || '-old' AS _dlt_parent_id,
                    l._dlt_root_id || '-old' AS _dlt_root_id,
                    l._dlt_id || '-old' AS _dlt_id
                ) FROM {labels} AS l"""
        )
        db.execute(
            f"""INSERT INTO {table} BY NAME
                SELECT * REPLACE (
                    _dlt_id || '-old' AS _dlt_id,
                    downloads_count + 100000 AS downloads_count,
                    TRUE AS is_quarantined,
                    now() AS last_modified,
                    TIMESTAMPTZ '2020-01-01 00:00:00+00' AS _dlt_valid_to
                ) FROM {table} WHERE labels_text IS NOT NULL"""
        )
        history = db.sql(
            f"SELECT count(*) FROM {table} WHERE _dlt_valid_to IS NOT NULL"
        ).fetchall()[0]
    assert history[0] > 0

    after = run_reports(pipeline, days=400, now=before.now)

    assert [r.records() for r in after.results] == [r.records() for r in before.results]


def test_no_labels_table_means_no_label_usage(emulator, pipeline):
    ref = min(
        readable_registries(emulator),
        key=lambda r: len(emulator.dataset()["artifacts"][r]) or 10**9,
    )
    rows = emulator.dataset()["artifacts"][ref]
    emulator.mutate(
        [
            {"op": "set_labels", "registry": ref, "name": row["name"], "artifact_type": row.get("artifactType"), "labels": []}
            for row in rows
        ]
    )  # fmt: skip
    run_source(emulator, pipeline, registries=[ref])
    database = pipeline.destination_client().config.credentials.database
    with duckdb.connect(database, read_only=True) as db:
        tables = {
            name
            for (name,) in db.sql("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert "artifacts" in tables and "artifacts__labels" not in tables

    run = run_reports(pipeline)

    assert run["label_usage"].rows == []
    assert run["totals"].records()[0]["labelled"] == 0
    assert run["totals"].records()[0]["artifacts"] == len(rows)
