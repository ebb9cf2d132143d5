"""Versions logic without a network: size strings, row shaping, repeated quarantine rows, paging
with over-full pages, which lists are read and what comes of them, the estimate, and the split of
one stream into two resources. Milliseconds."""

import io
from datetime import UTC, datetime
from typing import Any

import pytest

from harness_registry import RegistryError, RunReport
from harness_registry.lists import ListScans
from harness_registry.options import SourceOptions
from harness_registry.paginator import PageIndexPaginator
from harness_registry.rows import (
    merge_repeated_versions,
    shape_version,
    shape_versions,
    size_to_bytes,
    version_marker,
)
from harness_registry.streams import TableStreams
from harness_registry.versions import (
    Progress,
    VersionReads,
    duration_text,
    estimate_seconds,
    versions_plan,
)

ZERO_TIME = "-62135596800000"


# -- size strings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("0.00B", 0),
        ("512.00B", 512),
        ("1023.00B", 1023),
        ("1.00KB", 1024),
        ("1.12KB", 1147),  # 1146.88 rounded
        ("1.50MB", 1_572_864),
        ("2.10GB", 2_254_857_830),  # 2254857830.4
        ("1.00TB", 1024**4),
        ("3.25PB", 3_659_174_697_238_528),
        ("1.00EB", 1024**6),
        ("1.50mb", 1_572_864),
        (" 7.00KB ", 7168),
    ],
)
def test_size_strings_become_bytes_with_1024_based_units(size, expected):
    assert size_to_bytes(size) == expected


@pytest.mark.parametrize("size", [None, "", "MB", "1.5", "1.50XB", "-1.00KB", "12 apples", 1024])
def test_anything_but_a_size_string_is_no_size(size):
    assert size_to_bytes(size) is None


# -- row shaping -------------------------------------------------------------------------------


def tag_row(**fields: Any) -> dict[str, Any]:
    row = {
        "name": "v1.2",
        "registryIdentifier": "docker",
        "registryPath": "",
        "size": "1.50MB",
        "lastModified": "1729766135000",
        "digestCount": 2,
        "pullCommand": "docker pull x/app:v1.2",
        "downloadsCount": 7,
        "isQuarantined": False,
        "quarantineReason": "",
        "packageType": "DOCKER",
        "metadata": {"tags": ["v1.2", "latest"]},
    }
    return {**row, **fields}


def version_row(**fields: Any) -> dict[str, Any]:
    row = {
        "name": "2.0.0",
        "uuid": "u-1",
        "registryUUID": "r-1",
        "registryIdentifier": "pypi",
        "registryPath": "",
        "size": "512.00B",
        "fileCount": 3,
        "lastModified": ZERO_TIME,
        "pullCommand": "pip install core==2.0.0",
        "downloadsCount": 0,
        "isQuarantined": True,
        "quarantineReason": "CVE-1",
        "packageType": "PYTHON",
    }
    return {**row, **fields}


def test_a_tag_row_is_shaped_with_its_tags_and_no_quarantine_reason():
    row = shape_version(tag_row(newField=1), "acme/docker", "team/app", "")
    assert row == {
        "registry_ref": "acme/docker",
        "artifact_name": "team/app",
        "artifact_type": "",
        "version": "v1.2",
        "registryIdentifier": "docker",
        "registryPath": "",
        "size": "1.50MB",
        "size_bytes": 1_572_864,
        "last_modified": datetime(2024, 10, 24, 10, 35, 35, tzinfo=UTC),
        "digest_count": 2,
        "pull_command": "docker pull x/app:v1.2",
        "downloads_count": 7,
        "is_quarantined": False,
        "quarantine_reason": None,
        "package_type": "DOCKER",
        "tags": ["v1.2", "latest"],
        "tags_text": "v1.2, latest",
        "newField": 1,
    }


def test_an_untagged_digest_has_no_tags_and_other_metadata_stays_for_dlt_to_flatten():
    row = shape_version(
        tag_row(name="sha256:abc", metadata={"tags": [], "arch": "arm64"}), "acme/d", "app", ""
    )
    assert (row["version"], row["tags"], row["tags_text"]) == ("sha256:abc", [], None)
    assert row["metadata"] == {"arch": "arm64"}


def test_a_version_row_takes_its_artifacts_type_and_zero_time_is_null():
    row = shape_version(version_row(artifactType="model"), "acme/hf", "bert", "model")
    assert row["artifact_type"] == "model" and "artifactType" not in row
    assert row["last_modified"] is None
    assert (row["uuid"], row["registry_uuid"], row["file_count"]) == ("u-1", "r-1", 3)
    assert (row["is_quarantined"], row["quarantine_reason"]) == (True, "CVE-1")
    assert "tags" not in row and "tags_text" not in row


def test_a_version_listed_once_per_quarantine_record_is_one_row_with_its_reasons_joined():
    raw = [
        version_row(name="1.0", isQuarantined=False, quarantineReason=None),
        version_row(name="2.0", quarantineReason="CVE-1"),
        version_row(name="2.0", quarantineReason="license"),
        version_row(name="2.0", quarantineReason="CVE-1"),
        version_row(name="3.0", quarantineReason="CVE-9"),
    ]
    rows = shape_versions(raw, "acme/pypi", "core", "")
    assert [(r["version"], r["is_quarantined"], r["quarantine_reason"]) for r in rows] == [
        ("1.0", False, None),
        ("2.0", True, "CVE-1; license"),
        ("3.0", True, "CVE-9"),
    ]


def test_merging_keeps_a_quarantine_seen_on_any_repeat():
    rows = merge_repeated_versions(
        [
            {
                "version": "1",
                "artifact_type": "",
                "is_quarantined": False,
                "quarantine_reason": None,
            },
            {"version": "1", "artifact_type": "", "is_quarantined": True, "quarantine_reason": "x"},
        ]
    )
    assert rows == [
        {"version": "1", "artifact_type": "", "is_quarantined": True, "quarantine_reason": "x"}
    ]


# -- paging a version list whose pages hold repeated rows --------------------------------------


def page(rows: int, index: int, count: int, items: int) -> dict[str, Any]:
    return {
        "data": {
            "artifactVersions": [{"name": f"v{i}"} for i in range(rows)],
            "pageIndex": index,
            "pageCount": count,
            "itemCount": items,
            "pageSize": 3,
        }
    }


def test_a_page_made_full_by_repeated_rows_costs_at_most_one_more_request():
    # two versions on the last page, one of them listed twice: three rows look like a full page
    paginator = PageIndexPaginator(3, items_path="artifactVersions")
    assert len(paginator.read_page(page(3, 0, 2, 5))) == 3
    assert paginator.has_next_page
    assert len(paginator.read_page(page(3, 1, 2, 5))) == 3
    # pageCount counts versions, not rows: it ends the list, no request past it
    assert not paginator.has_next_page


def test_an_over_full_page_is_full_and_a_short_one_ends_the_list():
    paginator = PageIndexPaginator(3, items_path="artifactVersions")
    paginator.read_page(page(4, 0, 3, 7))  # three versions, one twice
    assert paginator.has_next_page
    paginator.read_page(page(2, 1, 3, 7))  # fewer rows than the page size: the end
    assert not paginator.has_next_page


def test_repeated_rows_never_end_a_list_early():
    # If a server cut pages by rows, repeats would leave fewer distinct versions than the page
    # size on a page that is not the last: the raw row count still calls it full.
    paginator = PageIndexPaginator(3, items_path="artifactVersions")
    rows = paginator.read_page(page(3, 0, 3, 8))
    assert len(rows) == 3 and paginator.has_next_page


# -- which lists are read, and what comes of them ----------------------------------------------


def options(**settings: Any) -> SourceOptions:
    return SourceOptions.validate(registries="acme/docker", versions=True, **settings)


def artifact(name: str, artifact_type: str = "") -> dict[str, Any]:
    return {"name": name, "artifact_type": artifact_type}


def finished(scan, error: str | None = None, item_counts=(1,)):
    scan.finished = True
    scan.requests = 1
    scan.error = RegistryError(scan.subject, error) if error else None
    scan.paginator.item_counts = list(item_counts)
    return scan


def test_the_versions_list_of_an_artifact_is_encoded_as_one_path_segment():
    scans = ListScans(options(page_size=50))
    scan = scans.versions("acme/hf", 'R&D <q1>/"x" données', "model")
    assert scan.path == (
        "/har/api/v1/registry/acme/hf/+/artifact/"
        "R%26D%20%3Cq1%3E%2F%22x%22%20donn%C3%A9es/+/versions"
    )
    assert scan.params == {
        "sort_field": "name",
        "sort_order": "ASC",
        "routingId": "acme",
        "artifact_type": "model",
    }
    assert scan.paginator.items_path == "artifactVersions" and scan.paginator.page_size == 50
    assert "artifact_type" not in scans.versions("acme/docker", "team/app").params


def test_each_artifact_is_wanted_once_and_counted_until_its_list_finishes():
    report = RunReport()
    versions = VersionReads(ListScans(options()), options(), report, io.StringIO())
    versions.want("acme/a", [artifact("x"), artifact("y")])
    versions.want("acme/a", [artifact("x")])  # a registry read again after a race
    versions.want("acme/b", [artifact("m", "model"), artifact("m", "dataset")])
    assert (versions.pending("acme/a"), versions.pending("acme/b")) == (2, 2)

    scans = list(versions.start(mean_answer_seconds=None))

    assert [(s.ref, s.artifact_name, s.artifact_type) for s in scans] == [
        ("acme/a", "x", ""),
        ("acme/a", "y", ""),
        ("acme/b", "m", "model"),
        ("acme/b", "m", "dataset"),
    ]
    assert report.versions_requested == 4
    x = finished(scans[0])
    versions.take_page(x, [version_row(name="1"), version_row(name="1", quarantineReason="b")])
    rows, again = versions.finish(x)
    assert again is None
    assert [(r["version"], r["quarantine_reason"]) for r in rows] == [("1", "CVE-1; b")]
    assert versions.pending("acme/a") == 1 and versions.error("acme/a") is None
    assert (report.version_rows, report.version_requests) == (1, 1)


def test_a_failed_list_fails_its_registry_with_one_line():
    report = RunReport()
    versions = VersionReads(ListScans(options()), options(), report, io.StringIO())
    versions.want("acme/a", [artifact("x"), artifact("y"), artifact("z")])
    x, y, z = versions.start()
    assert versions.finish(finished(x, "access forbidden (403)")) == ([], None)
    assert versions.finish(finished(y, "gave up after 3 attempts")) == ([], None)
    versions.finish(finished(z))
    assert versions.pending("acme/a") == 0
    assert versions.error("acme/a") == (
        "the versions of 2 of its artifacts could not be read (x: access forbidden (403) and "
        "1 more); the next run reads them again"
    )
    assert report.versions_failed == 2
    assert versions.registry_marker("acme/a", read_completely=True) == []


def test_a_list_that_raced_is_read_again_then_fails():
    versions = VersionReads(ListScans(options()), options(), RunReport(), io.StringIO())
    versions.want("acme/a", [artifact("x")])
    (scan,) = versions.start()
    for _ in range(2):
        rows, scan = versions.finish(finished(scan, item_counts=(3, 4)))
        assert rows == [] and scan is not None and scan.artifact_name == "x"
        assert versions.pending("acme/a") == 1
    assert versions.finish(finished(scan, item_counts=(4, 5))) == ([], None)
    assert versions.error("acme/a").startswith("the versions of 1 of its artifacts could not be")


def test_snapshot_marks_each_artifact_read_completely_and_whole_registries():
    snapshot = options(mode="snapshot")
    versions = VersionReads(ListScans(snapshot), snapshot, RunReport(), io.StringIO())
    versions.want("acme/a", [artifact("x")])
    (scan,) = versions.start()
    versions.take_page(scan, [tag_row()])
    rows, _ = versions.finish(finished(scan))
    assert rows[-1] == version_marker("acme/a", "x", "")
    assert versions.registry_marker("acme/a", read_completely=True) == [version_marker("acme/a")]
    assert versions.registry_marker("acme/a", read_completely=False) == []
    # with a row filter a run sees part of a registry: it must not retire the rest
    filtered = options(mode="snapshot", search_term="x")
    narrow = VersionReads(ListScans(filtered), filtered, RunReport(), io.StringIO())
    assert narrow.registry_marker("acme/a", read_completely=True) == []


def test_incremental_has_no_markers():
    versions = VersionReads(ListScans(options()), options(), RunReport(), io.StringIO())
    versions.want("acme/a", [artifact("x")])
    (scan,) = versions.start()
    rows, _ = versions.finish(finished(scan))
    assert rows == []
    assert versions.registry_marker("acme/a", read_completely=True) == []


# -- the estimate and the progress line ---------------------------------------------------------


def test_the_estimate_is_the_slower_of_the_rate_and_the_latency_shared_by_concurrency():
    assert estimate_seconds(800, 400, 4, 0.1) == 120
    assert estimate_seconds(800, 400, 4, 1.0) == 200
    assert estimate_seconds(800, None, 4, 0.1) == 20
    assert estimate_seconds(800, None, 4, None) is None


def test_the_plan_names_the_count_the_time_and_the_settings():
    assert versions_plan(800, 120, options(requests_per_minute=400, concurrency=4)) == (
        "reading the versions of 800 artifacts: at least 800 requests, about 2 min at "
        "400 requests a minute and 4 in flight"
    )
    assert versions_plan(5, None, options(requests_per_minute=0, concurrency=2)) == (
        "reading the versions of 5 artifacts: at least 5 requests, time unknown at no rate "
        "limit and 2 in flight"
    )
    assert [duration_text(s) for s in (0.2, 45, 600, 7500)] == [
        "1 s",
        "45 s",
        "10 min",
        "2 h 05 min",
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_one_rewritten_line_on_a_terminal_only():
    now = [0.0]
    terminal = Terminal()
    progress = Progress(3, terminal, interval=1.0, clock=lambda: now[0])
    progress.step()
    progress.step()  # within the interval: not shown
    now[0] = 5.0
    progress.step()
    assert terminal.getvalue() == ("\rversions read: 1/3 artifacts\rversions read: 3/3 artifacts\n")
    pipe = io.StringIO()
    quiet = Progress(3, pipe)
    for _ in range(3):
        quiet.step()
    assert pipe.getvalue() == ""


# -- one stream, two resources ------------------------------------------------------------------


def chunks_of(rows) -> list:
    """What a table's generator hands out, without the empty lists by which it gives its turn away
    (dlt loads no row from them)."""
    return [chunk for chunk in rows if chunk]


def test_each_table_gets_its_chunks_in_order_whichever_pulls_first():
    opened = []

    def items():
        opened.append(True)
        yield "artifacts", [{"n": 1}]
        yield "artifact_versions", [{"v": 1}]
        yield "artifacts", [{"n": 2}]
        yield "artifact_versions", [{"v": 2}]

    streams = TableStreams(items)
    artifacts, versions = streams.rows("artifacts"), streams.rows("artifact_versions")
    assert opened == []  # nothing is read before the first pull
    assert next(versions) == [{"v": 1}]  # the artifacts chunk before it is held
    assert chunks_of(artifacts) == [[{"n": 1}], [{"n": 2}]]
    assert chunks_of(versions) == [[{"v": 2}]]
    assert opened == [True]


def test_closing_one_table_early_ends_the_shared_stream():
    closed = []

    def items():
        try:
            while True:
                yield "artifacts", [{}]
        finally:
            closed.append(True)

    streams = TableStreams(items)
    artifacts = streams.rows("artifacts")
    next(artifacts)
    artifacts.close()
    assert closed == [True]
    assert list(streams.rows("artifact_versions")) == []


def test_a_table_gives_its_turn_away_while_another_has_chunks_waiting():
    def items():
        for n in range(3):
            yield "artifacts", [{"n": n}]
        yield "artifact_versions", [{"v": 0}]

    streams = TableStreams(items)
    artifacts, versions = streams.rows("artifacts"), streams.rows("artifact_versions")
    # dlt's round robin: one item of each in turn; nothing piles up for the artifacts
    turns = [next(artifacts), next(versions), next(artifacts), next(versions)]
    assert turns == [[{"n": 0}], [], [{"n": 1}], []]
    assert chunks_of(artifacts) == [[{"n": 2}]]
    assert chunks_of(versions) == [[{"v": 0}]]
