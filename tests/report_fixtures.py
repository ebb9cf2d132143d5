"""A small hand-written dataset for the reports, and a loader that writes rows into DuckDB tables
shaped like dlt's (`artifacts`, `artifacts__labels`, `artifact_versions`, `artifact_versions__tags`,
optionally with scd2's validity columns). `fixture_tables` gives the same tables as plain columns
and rows, for another database (test_report_sql.py writes them into PostgreSQL).

The dataset is built so that every report says something and every edge shows: a row exactly at
the window's start and one a millisecond before it, three artifacts tied on downloads, artifacts
with an unknown modification time, a registry where every time is unknown, a Hugging Face model
and dataset sharing a name in wide characters, quarantined and unlabelled artifacts.

The versions (VERSIONS) add: Docker tags with `metadata.tags` and an untagged digest, versions with
Go's zero time (NULL), a version quarantined for two reasons and one for none, a version exactly at
the cleanup cut and one a millisecond before it, a downloaded old version, an old latest version,
a version in the last hour of a year (UTC), and sizes from 0 bytes to 1 TB whose sums are written
out in test_reports.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAYS = 30
SINCE = NOW - timedelta(days=DAYS)  # 2026-10-21 12:00 UTC
CLEANUP_DAYS = 90
CLEANUP_BEFORE = NOW - timedelta(days=CLEANUP_DAYS)  # 2026-08-22 12:00 UTC
WIDE_NAME = "données-é-中文"
KB, MB, GB, TB = 1024, 1024**2, 1024**3, 1024**4


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


def version(
    registry_ref: str,
    artifact_name: str,
    name: str,
    package_type: str,
    *,
    size: str,
    size_bytes: int,
    last_modified: datetime | None,
    downloads: int,
    artifact_type: str = "",
    quarantine_reason: str | None = None,
    quarantined: bool = False,
    tags: Iterable[str] = (),
) -> dict[str, Any]:
    """One `artifact_versions` row as the agreed schema shapes it (docs in queries.py)."""
    tags = list(tags)
    docker = package_type in ("DOCKER", "HELM")
    return {
        "registry_ref": registry_ref,
        "artifact_name": artifact_name,
        "artifact_type": artifact_type,
        "version": name,
        "package_type": package_type,
        "size": size,
        "size_bytes": size_bytes,
        "file_count": None if docker else 2,
        "digest_count": 1 if docker else None,
        "downloads_count": downloads,
        "last_modified": last_modified,
        "pull_command": f"docker pull {registry_ref}/{artifact_name}:{name}" if docker else None,
        "is_quarantined": quarantined or quarantine_reason is not None,
        "quarantine_reason": quarantine_reason,
        "tags_text": ", ".join(tags) or None,
        "tags": tags,
    }


DIGEST = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
VERSIONS = [
    # api: its latest tag, an old tag nobody pulls, an untagged image
    version("acme/docker-prod", "api", "v2.1", "DOCKER", size="1.50MB", size_bytes=3 * MB // 2, last_modified=at(2026, 11, 19, 8), downloads=400, tags=["v2.1", "stable"]),
    version("acme/docker-prod", "api", "v1.0", "DOCKER", size="512.00KB", size_bytes=512 * KB, last_modified=at(2026, 3, 1), downloads=0, tags=["v1.0"]),
    version("acme/docker-prod", "api", DIGEST, "DOCKER", size="2.00MB", size_bytes=2 * MB, last_modified=at(2026, 5, 10), downloads=0),
    # worker: quarantined twice over (two reasons) and once for no stated reason, at the cut
    version("acme/docker-prod", "worker", "1.0.0", "DOCKER", size="1.13KB", size_bytes=1152, last_modified=SINCE, downloads=120, quarantine_reason="CVE-2026-0001; CVE-2026-0002", tags=["1.0.0"]),
    version("acme/docker-prod", "worker", "0.9.0", "DOCKER", size="100.00B", size_bytes=100, last_modified=CLEANUP_BEFORE, downloads=0, quarantined=True, tags=["0.9.0"]),
    # legacy: an old latest version (kept), and one a millisecond before the cut
    version("acme/docker-prod", "legacy", "1.0.0", "DOCKER", size="3.00MB", size_bytes=3 * MB, last_modified=at(2026, 1, 1), downloads=0, tags=["1.0.0"]),
    version("acme/docker-prod", "legacy", "0.1.0", "DOCKER", size="2.00KB", size_bytes=2 * KB, last_modified=CLEANUP_BEFORE - timedelta(milliseconds=1), downloads=0, tags=["0.1.0"]),
    # core: an old version that was downloaded (kept), one from the last hour of 2025
    version("acme/platform/maven", "com.acme:core", "1.0.0", "MAVEN", size="10.00MB", size_bytes=10 * MB, last_modified=at(2026, 9, 1), downloads=120),
    version("acme/platform/maven", "com.acme:core", "0.9.0", "MAVEN", size="9.50MB", size_bytes=19 * MB // 2, last_modified=at(2026, 6, 15), downloads=5),
    version("acme/platform/maven", "com.acme:core", "0.8.0", "MAVEN", size="8.00MB", size_bytes=8 * MB, last_modified=at(2025, 12, 31, 23, 30), downloads=0),
    # util: Go's zero time on both versions: unknown month, never a cleanup candidate
    version("acme/platform/maven", "com.acme:util", "1.0.0", "MAVEN", size="0.00B", size_bytes=0, last_modified=None, downloads=0),
    version("acme/platform/maven", "com.acme:util", "0.1.0", "MAVEN", size="1.00KB", size_bytes=KB, last_modified=None, downloads=0),
    # a model and a dataset sharing a name
    version("acme/hf", WIDE_NAME, "1.0.0", "HUGGINGFACE", size="2.10GB", size_bytes=2254857830, last_modified=at(2026, 11, 1), downloads=7, artifact_type="model"),
    version("acme/hf", WIDE_NAME, "1.0.0", "HUGGINGFACE", size="4.00GB", size_bytes=4 * GB, last_modified=at(2026, 7, 4), downloads=0, artifact_type="dataset"),
    version("acme/hf", WIDE_NAME, "0.9.0", "HUGGINGFACE", size="1.00GB", size_bytes=GB, last_modified=at(2026, 7, 1), downloads=0, artifact_type="dataset"),
    # quarantined with no stated reason, zero time
    version("acme/empty-times", "timeless", "1.0.0", "RAW", size="1.00TB", size_bytes=TB, last_modified=None, downloads=3, quarantined=True),
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
VERSION_COLUMNS = {
    "registry_ref": "VARCHAR",
    "artifact_name": "VARCHAR",
    "artifact_type": "VARCHAR",
    "version": "VARCHAR",
    "package_type": "VARCHAR",
    "size": "VARCHAR",
    "size_bytes": "BIGINT",
    "file_count": "BIGINT",
    "digest_count": "BIGINT",
    "downloads_count": "BIGINT",
    "last_modified": "TIMESTAMPTZ",
    "pull_command": "VARCHAR",
    "is_quarantined": "BOOLEAN",
    "quarantine_reason": "VARCHAR",
    "tags_text": "VARCHAR",
    "_dlt_load_id": "VARCHAR",
    "_dlt_id": "VARCHAR",
}
SCD2_COLUMNS = {"_dlt_valid_from": "TIMESTAMPTZ", "_dlt_valid_to": "TIMESTAMPTZ"}
CHILD_COLUMNS = {
    "value": "VARCHAR",
    "_dlt_parent_id": "VARCHAR",
    "_dlt_list_idx": "BIGINT",
    "_dlt_root_id": "VARCHAR",
    "_dlt_id": "VARCHAR",
}
Table = tuple[dict[str, str], list[tuple[Any, ...]]]  # columns with their types, rows
INSERT_ROWS = 1000  # rows of one INSERT statement in load_rows


def fixture_tables(
    rows: list[dict[str, Any]],
    *,
    snapshot: bool = False,
    retired: list[dict[str, Any]] | None = None,
    versions: list[dict[str, Any]] | None = None,
    retired_versions: list[dict[str, Any]] | None = None,
    drop_version_columns: Iterable[str] = (),
) -> dict[str, Table]:
    """The tables dlt would have made of these rows, by table name.

    `artifacts` always; `artifacts__labels` when any row has labels; `artifact_versions` when
    `versions` is given (None: a dataset loaded without versions), without `drop_version_columns`
    (as when no row had a value for them); `artifact_versions__tags` when any version has tags.
    `snapshot` adds scd2's `_dlt_valid_from`/`_dlt_valid_to`: `rows` and `versions` are current,
    `retired` and `retired_versions` old row versions (valid until 2020), each with children of
    its own hanging off its own `_dlt_id`.
    """
    tables = _table("artifacts", "row", "labels", ARTIFACT_COLUMNS, rows, retired or [], snapshot)
    if versions is not None:
        columns = {k: v for k, v in VERSION_COLUMNS.items() if k not in set(drop_version_columns)}
        tables |= _table(
            "artifact_versions",
            "version",
            "tags",
            columns,
            versions,
            retired_versions or [],
            snapshot,
        )
    return tables


def _table(
    name: str,
    prefix: str,
    list_key: str,
    columns: dict[str, str],
    current: list[dict[str, Any]],
    retired: list[dict[str, Any]],
    snapshot: bool,
) -> dict[str, Table]:
    columns = {**columns, **(SCD2_COLUMNS if snapshot else {})}
    parents, children = [], []
    rows = [(row, None) for row in current] + [(row, at(2020, 1, 1)) for row in retired]
    for position, (row, valid_to) in enumerate(rows):
        row_id = f"{prefix}-{position}"
        values = {**row, "_dlt_load_id": "1", "_dlt_id": row_id}
        if snapshot:
            values |= {"_dlt_valid_from": at(2019, 1, 1), "_dlt_valid_to": valid_to}
        parents.append(tuple(values[column] for column in columns))
        children += [
            (value, row_id, index, row_id, f"{row_id}-{list_key}-{index}")
            for index, value in enumerate(row[list_key])
        ]
    tables = {name: (columns, parents)}
    if children:
        tables[f"{name}__{list_key}"] = (CHILD_COLUMNS, children)
    return tables


def load_rows(
    connection: Any,
    dataset: str,
    rows: list[dict[str, Any]],
    **tables: Any,
) -> None:
    """Writes `fixture_tables(rows, **tables)` into `dataset` of a DuckDB connection."""
    # with the catalog: a file named like the dataset makes a two-part name ambiguous to DuckDB
    catalog = connection.execute("SELECT current_database()").fetchall()[0][0]
    schema = f'"{catalog}"."{dataset}"'
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for name, (columns, values) in fixture_tables(rows, **tables).items():
        definition = ", ".join(f"{column} {kind}" for column, kind in columns.items())
        connection.execute(f"CREATE TABLE {schema}.{name} ({definition})")
        # many rows a statement: executemany runs one statement per row, ~6 times the CPU
        row = f"({', '.join('?' for _ in columns)})"
        for start in range(0, len(values), INSERT_ROWS):
            chunk = values[start : start + INSERT_ROWS]
            connection.execute(
                f"INSERT INTO {schema}.{name} VALUES {', '.join(row for _ in chunk)}",
                [value for values_of_row in chunk for value in values_of_row],
            )
