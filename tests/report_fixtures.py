"""A small hand-written dataset for the reports, and a loader that writes rows into DuckDB tables
shaped like dlt's (`artifacts`, `artifacts__labels`, optionally with scd2's validity columns).

The dataset is built so that every report says something and every edge shows: a row exactly at
the window's start and one a millisecond before it, three artifacts tied on downloads, artifacts
with an unknown modification time, a registry where every time is unknown, a Hugging Face model
and dataset sharing a name in wide characters, quarantined and unlabelled artifacts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAYS = 30
SINCE = NOW - timedelta(days=DAYS)  # 2026-10-21 12:00 UTC
WIDE_NAME = "données-é-中文"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def artifact(
    registry_ref: str,
    name: str,
    package_type: str,
    *,
    last_modified: datetime | None,
    downloads: int,
    labels: Iterable[str] = (),
    quarantined: bool = False,
    artifact_type: str = "",
    latest_version: str = "1.0.0",
) -> dict[str, Any]:
    """One row as conftest.expected_artifact shapes it (the columns the reports read)."""
    labels = list(labels)
    return {
        "registry_ref": registry_ref,
        "name": name,
        "artifact_type": artifact_type,
        "package_type": package_type,
        "latest_version": latest_version,
        "downloads_count": downloads,
        "is_quarantined": quarantined,
        "last_modified": last_modified,
        "labels_text": ", ".join(labels) or None,
        "labels": labels,
    }


ROWS = [
    artifact("acme/docker-prod", "api", "DOCKER", last_modified=at(2026, 11, 19, 8), downloads=500, labels=["prod", "team-a"], latest_version="v2.1"),
    artifact("acme/docker-prod", "worker", "DOCKER", last_modified=SINCE, downloads=120, labels=["prod"], quarantined=True),
    artifact("acme/docker-prod", "legacy", "DOCKER", last_modified=SINCE - timedelta(milliseconds=1), downloads=120),
    artifact("acme/platform/maven", "com.acme:core", "MAVEN", last_modified=at(2026, 9, 1), downloads=120, labels=["team-a"]),
    artifact("acme/platform/maven", "com.acme:util", "MAVEN", last_modified=None, downloads=0),
    artifact("acme/hf", WIDE_NAME, "HUGGINGFACE", last_modified=at(2026, 11, 1), downloads=7, labels=["中文"], artifact_type="model"),
    artifact("acme/hf", WIDE_NAME, "HUGGINGFACE", last_modified=None, downloads=0, artifact_type="dataset"),
    artifact("acme/empty-times", "timeless", "RAW", last_modified=None, downloads=3, quarantined=True),
]  # fmt: skip

ARTIFACT_COLUMNS = {
    "registry_ref": "VARCHAR",
    "name": "VARCHAR",
    "artifact_type": "VARCHAR",
    "package_type": "VARCHAR",
    "latest_version": "VARCHAR",
    "downloads_count": "BIGINT",
    "is_quarantined": "BOOLEAN",
    "last_modified": "TIMESTAMPTZ",
    "labels_text": "VARCHAR",
    "_dlt_load_id": "VARCHAR",
    "_dlt_id": "VARCHAR",
}
SCD2_COLUMNS = {"_dlt_valid_from": "TIMESTAMPTZ", "_dlt_valid_to": "TIMESTAMPTZ"}


def load_rows(
    connection: Any,
    dataset: str,
    rows: list[dict[str, Any]],
    *,
    snapshot: bool = False,
    retired: list[dict[str, Any]] | None = None,
) -> None:
    """Creates `dataset.artifacts` and, when any row has labels, `dataset.artifacts__labels`.

    `snapshot` adds scd2's `_dlt_valid_from`/`_dlt_valid_to`: `rows` are current, `retired` are old
    versions (valid until 2020), each with labels of its own hanging off its own `_dlt_id`.
    """
    retired = retired or []
    columns = {**ARTIFACT_COLUMNS, **(SCD2_COLUMNS if snapshot else {})}
    # with the catalog: a file named like the dataset makes a two-part name ambiguous to DuckDB
    catalog = connection.execute("SELECT current_database()").fetchall()[0][0]
    schema = f'"{catalog}"."{dataset}"'
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    definition = ", ".join(f"{name} {kind}" for name, kind in columns.items())
    connection.execute(f"CREATE TABLE {schema}.artifacts ({definition})")
    labels = []
    versions = [(row, None) for row in rows] + [(row, at(2020, 1, 1)) for row in retired]
    for position, (row, valid_to) in enumerate(versions):
        row_id = f"row-{position}"
        values = {**row, "_dlt_load_id": "1", "_dlt_id": row_id}
        if snapshot:
            values |= {"_dlt_valid_from": at(2019, 1, 1), "_dlt_valid_to": valid_to}
        names = list(columns)
        connection.execute(
            f"INSERT INTO {schema}.artifacts ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)})",
            [values[name] for name in names],
        )
        labels += [
            (label, row_id, index, row_id, f"{row_id}-label-{index}")
            for index, label in enumerate(row["labels"])
        ]
    if labels:
        connection.execute(
            f"CREATE TABLE {schema}.artifacts__labels (value VARCHAR, _dlt_parent_id VARCHAR, "
            "_dlt_list_idx BIGINT, _dlt_root_id VARCHAR, _dlt_id VARCHAR)"
        )
        connection.executemany(
            f"INSERT INTO {schema}.artifacts__labels VALUES (?, ?, ?, ?, ?)", labels
        )
