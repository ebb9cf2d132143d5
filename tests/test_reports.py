"""The SQL reports' results: against a small hand-written dataset with every expected row written
out (report_fixtures.py), and against the emulator's data loaded by the source, where each report
must equal the same report over the rows the emulator serves (conftest.expected_artifacts) written
straight into DuckDB. Output formats are in test_report_output.py, the SQL files and the query
layer in test_report_sql.py, the `report` command in test_report_command.py.

The version reports (storage, storage per month, cleanup candidates, quarantined versions) are
checked the same way against the fixture's versions (report_fixtures.VERSIONS), and are skipped on
a dataset loaded without versions.

test_postgres.py imports `REPORT_NAMES` and `expected_reports` from here: the artifact reports,
which every dataset has."""

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
import duckdb
import pytest

from conftest import (
    duckdb_file,
    expected_artifacts,
    make_pipeline,
    module_setup,
    readable_registries,
    run_source,
)
from harness_registry_pipelines.queries import ArtifactQueries
from harness_registry_pipelines.reports import ReportRun, run_queries, run_reports
from harness_registry_pipelines.sql_engine import DuckDBEngine
from report_fixtures import (
    CLEANUP_BEFORE,
    DAYS,
    DIGEST,
    GB,
    KB,
    MB,
    NOW,
    ROWS,
    SINCE,
    TB,
    VERSIONS,
    WIDE_NAME,
    at,
    load_rows,
)

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
VERSION_COLUMNS = {
    "storage": ["registry_ref", "package_type", "artifacts", "versions", "size_bytes", "size"],
    "storage_by_month": ["month", "versions", "size_bytes", "size"],
    "cleanup_candidates": [
        "registry_ref",
        "artifact_name",
        "artifact_type",
        "package_type",
        "version",
        "latest_version",
        "last_modified",
        "downloads_count",
        "size",
        "size_bytes",
    ],
    "quarantined_versions": [
        "registry_ref",
        "artifact_name",
        "artifact_type",
        "package_type",
        "version",
        "quarantine_reason",
        "last_modified",
        "downloads_count",
        "size",
    ],
}
VERSION_REPORT_NAMES = list(VERSION_COLUMNS)
ALL_REPORT_NAMES = REPORT_NAMES + VERSION_REPORT_NAMES
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
    """The artifact reports; the version reports skipped (a dataset loaded without versions)."""
    assert [result.name for result in run.results] == REPORT_NAMES
    assert run.skipped == VERSION_REPORT_NAMES
    for name in REPORT_NAMES:
        assert run[name].columns == COLUMNS[name]
        assert run[name].records() == expected[name], name


def assert_all_reports_equal(run, expected: dict[str, list[dict[str, Any]]]) -> None:
    """Every report, the version reports included."""
    assert [result.name for result in run.results] == ALL_REPORT_NAMES
    assert run.skipped == []
    for name in ALL_REPORT_NAMES:
        assert run[name].columns == {**COLUMNS, **VERSION_COLUMNS}[name]
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


# -- the versions of the hand-written dataset ----------------------------------------------------

HF_DATASET = {"registry_ref": HF, "artifact_name": WIDE_NAME, "artifact_type": "dataset", "package_type": "HUGGINGFACE"}  # fmt: skip
FIXTURE_VERSION_REPORTS = {  # ROWS and VERSIONS, now = NOW, cleanup days 90 (CLEANUP_BEFORE)
    "storage": [  # largest first; sizes in 1024-based units, two decimals, as the server writes them
        {"registry_ref": RAW, "package_type": "RAW", "artifacts": 1, "versions": 1, "size_bytes": TB, "size": "1.00TB"},
        # 2.10GB (2254857830) + 4GB + 1GB
        {"registry_ref": HF, "package_type": "HUGGINGFACE", "artifacts": 2, "versions": 3, "size_bytes": 7_623_566_950, "size": "7.10GB"},
        # 10MB + 9.5MB + 8MB + 0 + 1KB = 27.50098MB
        {"registry_ref": MAVEN, "package_type": "MAVEN", "artifacts": 2, "versions": 5, "size_bytes": 27 * MB + MB // 2 + KB, "size": "27.50MB"},
        # 1.5MB + 512KB + 2MB + 1152 + 100 + 3MB + 2KB = 7MB + 3300 bytes
        {"registry_ref": DOCKER, "package_type": "DOCKER", "artifacts": 3, "versions": 7, "size_bytes": 7 * MB + 3300, "size": "7.00MB"},
    ],
    "storage_by_month": [  # months in UTC; zero times last, as 'unknown'
        {"month": "2025-12", "versions": 1, "size_bytes": 8 * MB, "size": "8.00MB"},  # 23:30 UTC on 31 December
        {"month": "2026-01", "versions": 1, "size_bytes": 3 * MB, "size": "3.00MB"},
        {"month": "2026-03", "versions": 1, "size_bytes": 512 * KB, "size": "512.00KB"},
        {"month": "2026-05", "versions": 1, "size_bytes": 2 * MB, "size": "2.00MB"},
        {"month": "2026-06", "versions": 1, "size_bytes": 19 * MB // 2, "size": "9.50MB"},
        {"month": "2026-07", "versions": 2, "size_bytes": 5 * GB, "size": "5.00GB"},  # 00:00 UTC on 1 July
        {"month": "2026-08", "versions": 2, "size_bytes": 2148, "size": "2.10KB"},
        {"month": "2026-09", "versions": 1, "size_bytes": 10 * MB, "size": "10.00MB"},
        {"month": "2026-10", "versions": 1, "size_bytes": 1152, "size": "1.13KB"},  # 1.125 rounds up
        {"month": "2026-11", "versions": 2, "size_bytes": 3 * MB // 2 + 2_254_857_830, "size": "2.10GB"},
        {"month": "unknown", "versions": 3, "size_bytes": TB + KB, "size": "1.00TB"},
    ],
    # not latest, before the cut, never downloaded: not legacy 1.0.0 (latest), core 0.9.0
    # (downloaded), worker 0.9.0 (exactly at the cut), util 0.1.0 (unknown time)
    "cleanup_candidates": [
        {**HF_DATASET, "version": "0.9.0", "latest_version": "1.0.0", "last_modified": at(2026, 7, 1), "downloads_count": 0, "size": "1.00GB", "size_bytes": GB},
        {"registry_ref": MAVEN, "artifact_name": "com.acme:core", "artifact_type": "", "package_type": "MAVEN", "version": "0.8.0", "latest_version": "1.0.0", "last_modified": at(2025, 12, 31, 23, 30), "downloads_count": 0, "size": "8.00MB", "size_bytes": 8 * MB},
        {"registry_ref": DOCKER, "artifact_name": "api", "artifact_type": "", "package_type": "DOCKER", "version": DIGEST, "latest_version": "v2.1", "last_modified": at(2026, 5, 10), "downloads_count": 0, "size": "2.00MB", "size_bytes": 2 * MB},
        {"registry_ref": DOCKER, "artifact_name": "api", "artifact_type": "", "package_type": "DOCKER", "version": "v1.0", "latest_version": "v2.1", "last_modified": at(2026, 3, 1), "downloads_count": 0, "size": "512.00KB", "size_bytes": 512 * KB},
        {"registry_ref": DOCKER, "artifact_name": "legacy", "artifact_type": "", "package_type": "DOCKER", "version": "0.1.0", "latest_version": "1.0.0", "last_modified": CLEANUP_BEFORE - timedelta(milliseconds=1), "downloads_count": 0, "size": "2.00KB", "size_bytes": 2 * KB},
    ],
    "quarantined_versions": [
        {"registry_ref": DOCKER, "artifact_name": "worker", "artifact_type": "", "package_type": "DOCKER", "version": "0.9.0", "quarantine_reason": None, "last_modified": CLEANUP_BEFORE, "downloads_count": 0, "size": "100.00B"},
        {"registry_ref": DOCKER, "artifact_name": "worker", "artifact_type": "", "package_type": "DOCKER", "version": "1.0.0", "quarantine_reason": "CVE-2026-0001; CVE-2026-0002", "last_modified": SINCE, "downloads_count": 120, "size": "1.13KB"},
        {"registry_ref": RAW, "artifact_name": "timeless", "artifact_type": "", "package_type": "RAW", "version": "1.0.0", "quarantine_reason": None, "last_modified": None, "downloads_count": 3, "size": "1.00TB"},
    ],
}  # fmt: skip
ALL_FIXTURE_REPORTS = {**FIXTURE_REPORTS, **FIXTURE_VERSION_REPORTS}


def test_version_reports_on_the_fixture_equal_the_rows_written_out():
    run = reports_over(ROWS, NOW, DAYS, 2, versions=VERSIONS)

    assert_all_reports_equal(run, ALL_FIXTURE_REPORTS)
    assert run.cleanup_days == 90 and run.cleanup_before == CLEANUP_BEFORE
    assert [result.title for result in run.results][len(REPORT_NAMES) :] == [
        "Storage by registry and package type",
        "Storage added per month",
        "Cleanup candidates: versions older than 90 days, never downloaded",
        "Quarantined versions",
    ]
    # the sizes add up: every version's bytes once, per registry and per month
    total = sum(row["size_bytes"] for row in VERSIONS)
    assert sum(row["size_bytes"] for row in run["storage"].records()) == total
    assert sum(row["size_bytes"] for row in run["storage_by_month"].records()) == total
    assert sum(row["versions"] for row in run["storage"].records()) == len(VERSIONS)


def test_version_reports_ignore_snapshot_history():
    """Old row versions (scd2's `_dlt_valid_to` set) of versions, with other sizes, downloads,
    quarantine and tags, and a version that exists only as an old row, count nowhere."""
    retired = [
        {**row, "size_bytes": 10 * TB, "downloads_count": 0, "is_quarantined": True,
         "quarantine_reason": "old", "last_modified": at(2020, 1, 1), "tags": ["old-tag"]}
        for row in VERSIONS
    ] + [{**VERSIONS[1], "version": "v0.1-deleted", "tags": ["gone"]}]  # fmt: skip
    retired_artifacts = [{**row, "latest_version": "0.0.1"} for row in ROWS]

    run = reports_over(
        ROWS, NOW, DAYS, 2, snapshot=True, retired=retired_artifacts,
        versions=VERSIONS, retired_versions=retired,
    )  # fmt: skip

    assert_all_reports_equal(run, ALL_FIXTURE_REPORTS)


def test_without_versions_the_version_reports_are_skipped_with_one_note():
    run = reports_over(ROWS, NOW, DAYS, 2)

    assert_reports_equal(run, FIXTURE_REPORTS)
    assert run.note == (
        "note: versions not loaded: run with --versions "
        "(skipped: storage, storage_by_month, cleanup_candidates, quarantined_versions)"
    )
    assert reports_over(ROWS, NOW, DAYS, 2, versions=VERSIONS).note is None


def test_an_empty_versions_table_gives_empty_version_reports():
    run = reports_over(ROWS, NOW, DAYS, 2, versions=[])

    assert run.skipped == []
    assert [run[name].rows for name in VERSION_REPORT_NAMES] == [[], [], [], []]


def test_version_columns_dlt_did_not_create_read_as_null():
    """dlt creates a column only once a row has a value in it: a dataset where no version was ever
    quarantined with a reason, or tagged, has no such columns."""
    missing = ["quarantine_reason", "tags_text", "file_count", "pull_command"]

    run = reports_over(ROWS, NOW, DAYS, 2, versions=VERSIONS, drop_version_columns=missing)

    assert [row["quarantine_reason"] for row in run["quarantined_versions"].records()] == [
        None, None, None,
    ]  # fmt: skip
    for name in ("storage", "storage_by_month", "cleanup_candidates"):
        assert run[name].records() == FIXTURE_VERSION_REPORTS[name], name


@pytest.mark.parametrize("time_zone", ["America/New_York", "Asia/Tokyo"])
def test_months_are_utc_months_whatever_the_session_time_zone(time_zone):
    """1 July 00:00 UTC is 30 June in New York; 31 December 23:30 UTC is 1 January in Tokyo."""
    with duckdb.connect() as connection:
        connection.execute(f"SET TimeZone = '{time_zone}'")
        load_rows(connection, "harness", ROWS, versions=VERSIONS)
        queries = ArtifactQueries(DuckDBEngine(connection), "harness")
        run = run_queries(
            queries, destination="duckdb", dataset="harness", now=NOW, names=["storage_by_month"]
        )

    assert run["storage_by_month"].records() == FIXTURE_VERSION_REPORTS["storage_by_month"]


def test_cleanup_days_move_the_cut():
    def candidates(cleanup_days: int) -> list[tuple[str, str]]:
        with duckdb.connect() as connection:
            load_rows(connection, "harness", ROWS, versions=VERSIONS)
            queries = ArtifactQueries(DuckDBEngine(connection), "harness")
            run = run_queries(
                queries, destination="duckdb", dataset="harness", now=NOW,
                cleanup_days=cleanup_days, names=["cleanup_candidates"],
            )  # fmt: skip
        assert run["cleanup_candidates"].title == (
            f"Cleanup candidates: versions older than {cleanup_days} "
            f"day{'' if cleanup_days == 1 else 's'}, never downloaded"
        )
        return [(r["artifact_name"], r["version"]) for r in run["cleanup_candidates"].records()]

    everything_old = [
        (WIDE_NAME, "0.9.0"), ("com.acme:core", "0.8.0"), ("api", DIGEST), ("api", "v1.0"),
        ("legacy", "0.1.0"), ("worker", "0.9.0"),
    ]  # fmt: skip
    assert candidates(1) == everything_old  # worker 0.9.0 (100 bytes) is now old enough
    assert candidates(90) == everything_old[:-1]
    assert candidates(91) == everything_old[:-2]  # legacy 0.1.0 is 90 days and 1 ms old
    assert candidates(1000) == []
    with pytest.raises(ValueError, match="cleanup_days must be 0 or more, not -1"):
        candidates(-1)


# -- the emulator's data, loaded by the source ---------------------------------------------------


def truth_rows(emulator, refs: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows the `artifacts` table must hold (see conftest.expected_artifact)."""
    return list(expected_artifacts(emulator, refs or readable_registries(emulator)).values())


def at_ms(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


# Registries added with artifacts at the edges of a time window that starts after every seeded
# artifact: `at-edge` at its very start, `before-edge` 1 ms earlier, and one of unknown time.
WINDOW_REGISTRIES = ("acme/reports-fresh", "acme/reports-stale", "acme/reports-unknown")
WINDOW_DAYS = 10


@dataclass(frozen=True)
class LoadedData:
    """The emulator's data as `loaded` changed and loaded it, and what the tests need to know of it."""

    pipeline: dlt.Pipeline
    rows: list[dict[str, Any]]  # what the `artifacts` table must hold (truth_rows)
    served: dict[str, int]  # artifacts the emulator lists per readable registry, all loaded
    tie_names: list[str]  # of one registry: ranks 1, 2, 2, 2, 5 of every artifact's downloads
    window_now_ms: int  # WINDOW_DAYS after the window registries' edge
    window_since_ms: int
    unlabelled: dlt.Pipeline  # the smallest registry alone, its artifacts' labels all removed
    unlabelled_ref: str


@pytest.fixture(scope="module")
def loaded(emulator_lender, tmp_path_factory) -> LoadedData:
    """The emulator's readable registries loaded once by the source, for the tests below that read
    them (`run_reports` opens its own read of the file each time). Before the load, the emulator
    gets what those tests look for: five artifacts of one registry on top of the downloads, three
    of them tied, the WINDOW_REGISTRIES, and a registry without labels, also loaded alone into a
    dataset of its own. The emulator is not kept (the lender restores its data for the next test):
    everything the tests need from it is read here."""
    with module_setup(emulator_lender, tmp_path_factory, "loaded_reports") as setup:
        folder, emulator, _ = setup
        seeded = emulator.dataset()["artifacts"]
        raw = [row for rows in seeded.values() for row in rows]
        tie_ref = next(
            ref
            for ref in readable_registries(emulator)
            if len(seeded[ref]) >= 6 and not any(row.get("artifactType") for row in seeded[ref])
        )
        names = [row["name"] for row in seeded[tie_ref]]
        peak = max(row["downloadsCount"] for row in raw) + 1000
        newest_ms = max(int(row["lastModified"]) for row in raw if int(row["lastModified"]) > 0)
        now_ms = newest_ms + 100 * DAY_MS + 12_345
        since_ms = now_ms - WINDOW_DAYS * DAY_MS
        fresh, stale, unknown = WINDOW_REGISTRIES
        unlabelled_ref = min(
            readable_registries(emulator), key=lambda ref: len(seeded[ref]) or 10**9
        )
        # ranks 1, 2, 2, 2, 5: the top 3 holds four artifacts
        emulator.mutate(
            [{"op": "set_downloads", "registry": tie_ref, "name": names[0], "downloads": peak + 10}]
            + [
                {"op": "set_downloads", "registry": tie_ref, "name": name, "downloads": peak}
                for name in names[1:4]
            ]
            + [{"op": "set_downloads", "registry": tie_ref, "name": names[4], "downloads": peak - 1}]
            + [
                {"op": "add_registry", "path": fresh, "package_type": "GENERIC"},
                {"op": "add_registry", "path": stale, "package_type": "GENERIC"},
                {"op": "add_registry", "path": unknown, "package_type": "RAW"},
                {"op": "add_artifact", "registry": fresh, "name": "at-edge", "last_modified_ms": since_ms},
                {"op": "add_artifact", "registry": fresh, "name": "before-edge", "last_modified_ms": since_ms - 1},
                {"op": "add_artifact", "registry": stale, "name": "before-edge", "last_modified_ms": since_ms - 1},
                {"op": "add_artifact", "registry": unknown, "name": "timeless", "last_modified_ms": ZERO_TIME_MS},
            ]
            + [
                {"op": "set_labels", "registry": unlabelled_ref, "name": row["name"], "artifact_type": row.get("artifactType"), "labels": []}
                for row in seeded[unlabelled_ref]
            ]
        )  # fmt: skip
        refs = readable_registries(emulator)
        pipeline = make_pipeline(folder)
        run_source(emulator, pipeline, registries=refs)
        (folder / "unlabelled").mkdir()
        unlabelled = make_pipeline(folder / "unlabelled")
        run_source(emulator, unlabelled, registries=[unlabelled_ref])
        served = emulator.dataset()["artifacts"]
        return LoadedData(
            pipeline=pipeline,
            rows=truth_rows(emulator, refs),
            served={ref: len(served[ref]) for ref in refs},
            tie_names=names[:5],
            window_now_ms=now_ms,
            window_since_ms=since_ms,
            unlabelled=unlabelled,
            unlabelled_ref=unlabelled_ref,
        )


def test_every_report_on_loaded_data_equals_the_report_on_the_emulator_rows(loaded):
    rows = loaded.rows
    # a report time and window that split the seeded data: some recent artifacts, some stale
    # registries (the window registries' artifacts come later, and count as recent)
    known = sorted(
        row["last_modified"]
        for row in rows
        if row["last_modified"] is not None and row["registry_ref"] not in WINDOW_REGISTRIES
    )
    now = known[-1] + timedelta(hours=5)
    days = 45

    run = run_reports(loaded.pipeline, days=days, top=10, now=now)

    expected = expected_reports(rows, now, days, 10)
    assert_reports_equal(run, expected)
    # the data makes every report say something, so none of these comparisons is vacuous
    assert all(expected[name] for name in REPORT_NAMES), [
        n for n in REPORT_NAMES if not expected[n]
    ]
    assert run["totals"].records()[0]["artifacts"] == sum(loaded.served.values())
    assert run["totals"].records()[0]["unknown_last_modified"] > 0
    assert any(row["last_change"] is not None for row in expected["stale_registries"])
    assert run.now == now and run.since == now - timedelta(days=days)


def test_top_downloads_lists_every_artifact_tied_with_the_last_rank(loaded):
    names = loaded.tie_names

    run = run_reports(loaded.pipeline, top=3)

    top = run["top_downloads"].records()
    tied = sorted((2, name) for name in names[1:4])
    assert [(row["download_rank"], row["name"]) for row in top] == [(1, names[0]), *tied]
    assert top == expected_reports(loaded.rows, run.now, run.days, 3)["top_downloads"]


def test_time_window_edges_and_registries_with_unknown_times(loaded):
    """A row at exactly now - N days is recent, 1 ms earlier it is not; a registry whose artifacts
    all have unknown times has not changed as far as anyone knows."""
    days = WINDOW_DAYS
    now = at_ms(loaded.window_now_ms)

    run = run_reports(loaded.pipeline, days=days, now=now)

    assert [(r["registry_ref"], r["name"]) for r in run["recently_modified"].records()] == [
        ("acme/reports-fresh", "at-edge")
    ]
    stale = {row["registry_ref"]: row for row in run["stale_registries"].records()}
    assert "acme/reports-fresh" not in stale
    assert stale["acme/reports-stale"] == {
        "registry_ref": "acme/reports-stale",
        "artifacts": 1,
        "last_change": at_ms(loaded.window_since_ms - 1),
        "days_without_change": days,
    }
    assert stale["acme/reports-unknown"]["last_change"] is None
    assert stale["acme/reports-unknown"]["days_without_change"] is None
    assert next(iter(stale)) == "acme/reports-unknown", "unknown times come first"
    assert_reports_equal(run, expected_reports(loaded.rows, now, days, run.top))


def test_snapshot_history_rows_are_left_out(loaded, tmp_path):
    """With dlt's `_dlt_valid_to` column (snapshot mode), only current rows count: old versions
    of artifacts, and their labels, change no figure."""
    # history is written into a copy: the shared load stays as it was loaded
    shutil.copyfile(duckdb_file(loaded.pipeline), tmp_path / "test.duckdb")
    pipeline = make_pipeline(tmp_path)
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


def test_no_labels_table_means_no_label_usage(loaded):
    pipeline = loaded.unlabelled
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
    assert run["totals"].records()[0]["artifacts"] == loaded.served[loaded.unlabelled_ref]
