"""Row shaping: API artifacts and registries into the rows loaded into the destination."""

import re
from datetime import UTC, datetime
from typing import Any

from .settings import LABELS_TEXT_SEPARATOR, ZERO_TIME_MS

# API field -> column. Fields not listed are kept too, under dlt's snake_case of their name, so a new
# field of a newer server shows up as a new column instead of being dropped.
ARTIFACT_COLUMNS = {
    "name": "name",
    "registryIdentifier": "registry_identifier",
    "registryPath": "registry_path",
    "registryUUID": "registry_uuid",
    "uuid": "uuid",
    "packageType": "package_type",
    "latestVersion": "latest_version",
    "downloadsCount": "downloads_count",
    "isPublic": "is_public",
    "isQuarantined": "is_quarantined",
    "artifactType": "artifact_type",
}
TIMESTAMP_FIELDS = {"lastModified": "last_modified", "deletedAt": "deleted_at"}

# Column hints, so types hold even when a first load sees only nulls.
ARTIFACT_COLUMN_HINTS: dict[str, dict[str, Any]] = {
    "registry_ref": {"data_type": "text", "nullable": False},
    "name": {"data_type": "text", "nullable": False},
    "artifact_type": {"data_type": "text", "nullable": False},
    "package_type": {"data_type": "text"},
    "latest_version": {"data_type": "text"},
    "last_modified": {"data_type": "timestamp", "nullable": True, "timezone": True},
    "downloads_count": {"data_type": "bigint"},
    "is_quarantined": {"data_type": "bool"},
    "is_public": {"data_type": "bool"},
    "uuid": {"data_type": "text"},
    "registry_uuid": {"data_type": "text"},
    "labels_text": {"data_type": "text", "nullable": True},
}


def epoch_ms_to_datetime(value: Any) -> datetime | None:
    """Parses Harness's epoch-millisecond strings (`"1729766135000"`) to an aware UTC datetime.

    Go's zero time (`"-62135596800000"`), empty strings and anything unparsable mean unknown: None.
    See docs/harness-api.md#fields-and-their-formats.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        millis = int(value)
    except (TypeError, ValueError):
        return None
    if millis <= ZERO_TIME_MS:
        return None
    try:
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def labels_of(raw: dict[str, Any]) -> list[str]:
    """The labels as a list of strings (`null` and a missing field are no labels)."""
    labels = raw.get("labels")
    if not isinstance(labels, list):
        return []
    return [label if isinstance(label, str) else str(label) for label in labels]


def shape_artifact(raw: dict[str, Any], registry_ref: str) -> dict[str, Any]:
    """One `artifacts` row from one API artifact.

    - known fields are renamed to snake_case; unknown fields are kept as they come;
    - `lastModified` (and `deletedAt`) become UTC timestamps, None where unknown;
    - `labels` stays a list, which dlt loads as the child table `artifacts__labels` (column `value`),
      and is also joined into the flat text column `labels_text` for display and `LIKE`;
    - `registry_ref` names the registry as configured, without `/+`;
    - `artifact_type` is `''` where the API has none (all but Hugging Face), since it is part of the
      primary key and key columns cannot be null.
    """
    row: dict[str, Any] = {"registry_ref": registry_ref}
    for field, value in raw.items():
        if field in ARTIFACT_COLUMNS:
            row[ARTIFACT_COLUMNS[field]] = value
        elif field in TIMESTAMP_FIELDS:
            row[TIMESTAMP_FIELDS[field]] = epoch_ms_to_datetime(value)
        elif field != "labels":
            row[field] = value
    row.setdefault("last_modified", None)
    row["artifact_type"] = row.get("artifact_type") or ""
    labels = labels_of(raw)
    row["labels"] = labels
    row["labels_text"] = LABELS_TEXT_SEPARATOR.join(labels) if labels else None
    return row


def shape_registry(raw: dict[str, Any]) -> dict[str, Any]:
    """One `registries` row: fields in snake_case, `lastModified` as a UTC timestamp."""
    row: dict[str, Any] = {}
    for field, value in raw.items():
        if field == "lastModified":
            row["last_modified"] = epoch_ms_to_datetime(value)
        elif field == "labels":
            row["labels"] = labels_of(raw)
        else:
            row[_snake(field)] = value
    return row


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# Snapshot mode: one marker row per registry read completely. The merge's destination scope takes the
# registries present in the load from these rows, and its source filter drops them, so they never
# reach the table. An artifact always has a name, so an empty name cannot clash with one.
SNAPSHOT_MARKER_NAME = ""


def snapshot_marker(registry_ref: str) -> dict[str, Any]:
    return {"registry_ref": registry_ref, "name": SNAPSHOT_MARKER_NAME, "artifact_type": ""}


def is_snapshot_marker(row: dict[str, Any]) -> bool:
    return row.get("name") == SNAPSHOT_MARKER_NAME
