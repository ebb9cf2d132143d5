"""Row shaping: API artifacts, registries and versions into the rows loaded into the destination."""

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from .settings import (
    LABELS_TEXT_SEPARATOR,
    QUARANTINE_REASON_SEPARATOR,
    TAGS_TEXT_SEPARATOR,
    ZERO_TIME_MS,
)

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


# -- versions -------------------------------------------------------------------------------------

# A version row's API field -> column. `name` is the version (or tag, or untagged digest);
# `artifactType` is not kept as it comes: the row takes its artifact's type, the key's
# (see `shape_version`). Fields not listed are kept under dlt's snake_case of their name.
VERSION_COLUMNS = {
    "name": "version",
    "packageType": "package_type",
    "size": "size",
    "fileCount": "file_count",
    "digestCount": "digest_count",
    "downloadsCount": "downloads_count",
    "pullCommand": "pull_command",
    "isQuarantined": "is_quarantined",
    "quarantineReason": "quarantine_reason",
    "uuid": "uuid",
    "registryUUID": "registry_uuid",
}

VERSION_COLUMN_HINTS: dict[str, dict[str, Any]] = {
    "registry_ref": {"data_type": "text", "nullable": False},
    "artifact_name": {"data_type": "text", "nullable": False},
    "artifact_type": {"data_type": "text", "nullable": False},
    "version": {"data_type": "text", "nullable": False},
    "package_type": {"data_type": "text"},
    "size": {"data_type": "text"},
    "size_bytes": {"data_type": "bigint", "nullable": True},
    "file_count": {"data_type": "bigint", "nullable": True},
    "digest_count": {"data_type": "bigint", "nullable": True},
    "downloads_count": {"data_type": "bigint"},
    "last_modified": {"data_type": "timestamp", "nullable": True, "timezone": True},
    "pull_command": {"data_type": "text"},
    "is_quarantined": {"data_type": "bool"},
    "quarantine_reason": {"data_type": "text", "nullable": True},
    "uuid": {"data_type": "text", "nullable": True},
    "registry_uuid": {"data_type": "text", "nullable": True},
    "tags_text": {"data_type": "text", "nullable": True},
}

# 1024-based units, as the server prints sizes (docs/harness-api.md#how-a-client-reads-size).
SIZE_UNITS = {"B": 0, "KB": 1, "MB": 2, "GB": 3, "TB": 4, "PB": 5, "EB": 6}
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE]?B)")


def size_to_bytes(text: Any) -> int | None:
    """Bytes of a size string the server prints with two decimals and a 1024-based unit.

    The number times 1024 to the unit's power, rounded: exact below 1 KB, within half a hundredth
    of the unit above it (the server keeps no more). Anything else (None, `""`, `"12 apples"`) is
    None.

    Example:
        >>> size_to_bytes("1.50MB"), size_to_bytes("512.00B"), size_to_bytes("0.00B")
        (1572864, 512, 0)
    """
    if not isinstance(text, str):
        return None
    match = _SIZE.fullmatch(text.strip().upper())
    if match is None:
        return None
    number, unit = match.groups()
    try:
        exact = Decimal(number) * (1024 ** SIZE_UNITS[unit])
    except InvalidOperation:
        return None
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def shape_version(
    raw: dict[str, Any], registry_ref: str, artifact_name: str, artifact_type: str
) -> dict[str, Any]:
    """One `artifact_versions` row from one API version row of the artifact `artifact_name`.

    - the key is the artifact's (`registry_ref`, `artifact_name`, `artifact_type`, `''` where
      none) and the row's `name` as `version`;
    - `size` is kept as sent and parsed into `size_bytes`;
    - `lastModified` becomes a UTC timestamp, None for Go's zero time;
    - `quarantineReason` is None unless quarantined (tags send `""`);
    - `metadata.tags` (Docker, Helm) becomes the list `tags` (child table
      `artifact_versions__tags`, column `value`) and the text `tags_text`; other `metadata` keys
      stay in `metadata`, which dlt flattens into `metadata__<key>` columns.
    """
    row: dict[str, Any] = {
        "registry_ref": registry_ref,
        "artifact_name": artifact_name,
        "artifact_type": artifact_type or "",
    }
    for field, value in raw.items():
        if field in VERSION_COLUMNS:
            row[VERSION_COLUMNS[field]] = value
        elif field in TIMESTAMP_FIELDS:
            row[TIMESTAMP_FIELDS[field]] = epoch_ms_to_datetime(value)
        elif field not in ("artifactType", "metadata"):
            row[field] = value
    row.setdefault("last_modified", None)
    row["size_bytes"] = size_to_bytes(row.get("size"))
    row["quarantine_reason"] = (
        (row.get("quarantine_reason") or None) if row.get("is_quarantined") else None
    )
    metadata = raw.get("metadata")
    if isinstance(metadata, dict):
        rest = {key: value for key, value in metadata.items() if key != "tags"}
        if rest:
            row["metadata"] = rest
        if "tags" in metadata:
            tags = [str(tag) for tag in metadata.get("tags") or []]
            row["tags"] = tags
            row["tags_text"] = TAGS_TEXT_SEPARATOR.join(tags) if tags else None
    return row


def merge_repeated_versions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per version: the server lists a version once per quarantine record, so a version
    may come several times. The first row stays, quarantined if any of them is, with the distinct
    reasons joined by `; ` in the order they came.

    Example:
        >>> merged = merge_repeated_versions([
        ...     {"version": "1.0", "is_quarantined": True, "quarantine_reason": "CVE-1"},
        ...     {"version": "1.0", "is_quarantined": True, "quarantine_reason": "CVE-2"},
        ... ])
        >>> [(row["version"], row["quarantine_reason"]) for row in merged]
        [('1.0', 'CVE-1; CVE-2')]
    """
    merged: dict[tuple[Any, Any], dict[str, Any]] = {}
    reasons: dict[tuple[Any, Any], list[str]] = {}
    for row in rows:
        key = (row.get("version"), row.get("artifact_type"))
        first = merged.setdefault(key, row)
        first["is_quarantined"] = bool(first.get("is_quarantined") or row.get("is_quarantined"))
        seen = reasons.setdefault(key, [])
        reason = row.get("quarantine_reason")
        if reason and reason not in seen:
            seen.append(reason)
    for key, row in merged.items():
        joined = QUARANTINE_REASON_SEPARATOR.join(reasons[key])
        row["quarantine_reason"] = joined if row["is_quarantined"] and joined else None
    return list(merged.values())


def shape_versions(
    raw_rows: list[dict[str, Any]], registry_ref: str, artifact_name: str, artifact_type: str
) -> list[dict[str, Any]]:
    """The `artifact_versions` rows of one artifact's complete version list: shaped, one per version."""
    return merge_repeated_versions(
        [shape_version(raw, registry_ref, artifact_name, artifact_type) for raw in raw_rows]
    )


# Snapshot mode: marker rows of `artifact_versions`, like the registry markers of `artifacts`. One per
# artifact whose versions were read completely puts that artifact in the merge's scope; one per
# registry (no artifact name) puts the whole registry there, once every artifact of a complete read
# of it had its versions read completely, so that the versions of deleted artifacts are retired too.
# A version and an artifact always have a name, so an empty one cannot clash.
VERSION_MARKER = ""


def version_marker(
    registry_ref: str, artifact_name: str = VERSION_MARKER, artifact_type: str = ""
) -> dict[str, Any]:
    return {
        "registry_ref": registry_ref,
        "artifact_name": artifact_name,
        "artifact_type": artifact_type,
        "version": VERSION_MARKER,
    }
