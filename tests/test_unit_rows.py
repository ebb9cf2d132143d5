"""Row shaping, label filtering and chunking, on API rows built in memory (no network)."""

from datetime import UTC, datetime

import pytest

from harness_registry.artifacts import chunks, with_any_label
from harness_registry.rows import (
    epoch_ms_to_datetime,
    is_snapshot_marker,
    labels_of,
    shape_artifact,
    shape_registry,
    snapshot_marker,
)

ZERO_TIME = "-62135596800000"  # Go's zero time.Time, the server's "unknown"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1729766135000", datetime(2024, 10, 24, 10, 35, 35, tzinfo=UTC)),
        (1729766135123, datetime(2024, 10, 24, 10, 35, 35, 123000, tzinfo=UTC)),
        ("0", datetime(1970, 1, 1, tzinfo=UTC)),
        (ZERO_TIME, None),
        ("-62135596800001", None),
        ("", None),
        (None, None),
        (True, None),
        ("yesterday", None),
        ("1.5e12", None),
        (str(10**20), None),  # past year 9999
    ],
)
def test_epoch_ms_to_datetime(value, expected):
    assert epoch_ms_to_datetime(value) == expected


def test_a_parsed_time_is_aware_utc():
    parsed = epoch_ms_to_datetime("1729766135000")
    assert parsed is not None and parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(["prod", "gpu"], ["prod", "gpu"]), (None, []), ("prod", []), ([1, "a"], ["1", "a"])],
)
def test_labels_of(labels, expected):
    assert labels_of({"labels": labels}) == expected


def test_labels_of_a_row_without_the_field_are_none():
    assert labels_of({"name": "a"}) == []


def test_shape_artifact_renames_known_fields_and_keeps_unknown_ones():
    raw = {
        "name": "api",
        "registryIdentifier": "docker",
        "registryPath": "acme/docker",
        "registryUUID": "r-1",
        "uuid": "u-1",
        "packageType": "DOCKER",
        "latestVersion": "1.2.0",
        "downloadsCount": 12,
        "isPublic": False,
        "isQuarantined": True,
        "lastModified": "1729766135000",
        "deletedAt": ZERO_TIME,
        "labels": ["prod", "gpu"],
        "newField": {"x": 1},
    }
    assert shape_artifact(raw, "acme/docker") == {
        "registry_ref": "acme/docker",
        "name": "api",
        "registry_identifier": "docker",
        "registry_path": "acme/docker",
        "registry_uuid": "r-1",
        "uuid": "u-1",
        "package_type": "DOCKER",
        "latest_version": "1.2.0",
        "downloads_count": 12,
        "is_public": False,
        "is_quarantined": True,
        "last_modified": datetime(2024, 10, 24, 10, 35, 35, tzinfo=UTC),
        "deleted_at": None,
        "artifact_type": "",
        "labels": ["prod", "gpu"],
        "labels_text": "prod, gpu",
        "newField": {"x": 1},
    }


def test_shape_artifact_of_a_zero_time_unlabelled_artifact():
    row = shape_artifact({"name": "m", "lastModified": ZERO_TIME, "labels": None}, "acme/hf")
    assert row == {
        "registry_ref": "acme/hf",
        "name": "m",
        "last_modified": None,
        "artifact_type": "",
        "labels": [],
        "labels_text": None,
    }


def test_shape_artifact_without_a_last_modified_field_has_a_null_one():
    assert shape_artifact({"name": "m"}, "acme/hf")["last_modified"] is None


def test_shape_artifact_keeps_a_hugging_face_artifact_type():
    row = shape_artifact({"name": "m", "artifactType": "dataset"}, "acme/hf")
    assert row["artifact_type"] == "dataset"


def test_shape_registry_snake_cases_fields_and_parses_last_modified():
    raw = {
        "identifier": "docker",
        "path": "acme/docker",
        "packageType": "DOCKER",
        "registrySize": "1.2 GB",
        "lastModified": "1729766135000",
        "labels": ["team-a", 7],
        "URL": "https://x",
    }
    assert shape_registry(raw) == {
        "identifier": "docker",
        "path": "acme/docker",
        "package_type": "DOCKER",
        "registry_size": "1.2 GB",
        "last_modified": datetime(2024, 10, 24, 10, 35, 35, tzinfo=UTC),
        "labels": ["team-a", "7"],
        "url": "https://x",
    }


def test_shape_registry_zero_time_and_null_labels():
    assert shape_registry({"path": "a/r", "lastModified": ZERO_TIME, "labels": None}) == {
        "path": "a/r",
        "last_modified": None,
        "labels": [],
    }


def test_snapshot_marker_is_recognised_and_no_artifact_is_one():
    assert is_snapshot_marker(snapshot_marker("acme/docker"))
    assert snapshot_marker("acme/docker")["registry_ref"] == "acme/docker"
    assert not is_snapshot_marker(shape_artifact({"name": "api"}, "acme/docker"))


def test_with_any_label_keeps_artifacts_carrying_one_of_the_labels():
    raw = [
        {"name": "a", "labels": ["prod"]},
        {"name": "b", "labels": ["dev", "gpu"]},
        {"name": "c", "labels": None},
        {"name": "d"},
    ]
    assert [r["name"] for r in with_any_label(raw, ["gpu", "prod"])] == ["a", "b"]
    assert with_any_label(raw, []) == raw


def test_chunks_split_rows_and_keep_the_remainder():
    rows = [{"i": i} for i in range(7)]
    assert [len(chunk) for chunk in chunks(rows, 3)] == [3, 3, 1]
    assert [row for chunk in chunks(rows, 3) for row in chunk] == rows
    assert list(chunks([], 3)) == []
