"""Versions of one artifact: the records behind "List Artifact Versions", how they are generated,
and how the server renders them.

Docker and Helm versions are tags (or the digest of an untagged image); every other package type
has plain versions. An artifact's versions are generated lazily the first time they are read, from
the artifact's own figures (version count, latest version, lastModified), so a bench dataset of
100,000 artifacts costs nothing until a test reads versions. The default scenario builds richer
versions up front (see scenarios.py).
"""

from __future__ import annotations

import random
from typing import Any

GO_ZERO_TIME_MS = -62135596800000

# Package types the server's version mapper knows. Rows of any other type are skipped, so a
# CONDA artifact lists no versions while itemCount still counts them.
MAPPED_PACKAGE_TYPES = frozenset(
    {"DOCKER", "HELM", "GENERIC", "MAVEN", "PYTHON", "NPM", "RPM", "NUGET", "GO", "HUGGINGFACE"}
)
VERSION_SORT_FIELDS = frozenset({"name", "lastModified", "downloadsCount"})
SIZE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB")
QUARANTINE_REASONS = (
    "CVE-2024-3094: critical vulnerability",
    "license AGPL-3.0 is not allowed",
    "malware scan flagged <script> & payload",
    "held by security for review",
)
PULL_HOST = "pkg.emulator.invalid"


class Version:
    """One version (or Docker/Helm tag) of an artifact.

    `quarantine_reasons` holds one entry per quarantine record: the list query joins them
    without collapsing, so a version with two records is listed twice.
    """

    __slots__ = (
        "created_ms",
        "digest_count",
        "downloads",
        "file_count",
        "name",
        "quarantine_reasons",
        "size_bytes",
        "untagged",
        "updated_ms",
    )

    def __init__(
        self,
        *,
        name: str,
        created_ms: int,
        updated_ms: int,
        size_bytes: int = 0,
        file_count: int = 1,
        downloads: int = 0,
        quarantine_reasons: tuple[str, ...] = (),
        digest_count: int = 1,
        untagged: bool = False,
    ) -> None:
        self.name = name
        # Creation order is the default sort; updated_ms is what lastModified shows.
        self.created_ms = created_ms
        self.updated_ms = updated_ms
        self.size_bytes = size_bytes
        self.file_count = file_count
        self.downloads = downloads
        self.quarantine_reasons = quarantine_reasons
        self.digest_count = digest_count
        # A Docker image without a tag: listed under its digest.
        self.untagged = untagged


def format_size(size_bytes: int) -> str:
    """The server's size string: two decimals and a 1024-based unit, no space.

    Python's `.2f` rounds the exact binary value to nearest (ties to even), like Go's `%.2f`.

    Example:
        >>> format_size(512), format_size(1572864), format_size(0)
        ('512.00B', '1.50MB', '0.00B')
    """
    value = float(size_bytes)
    unit = 0
    while value >= 1024 and unit < len(SIZE_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.2f}{SIZE_UNITS[unit]}"


def exact_size(rng: random.Random) -> int:
    """A byte count whose size string converts back exactly: bytes below 1 KB, else a multiple
    of a quarter unit (`1.25MB` is 1310720 bytes)."""
    unit = rng.choices((0, 1, 2, 3), weights=(1, 3, 5, 2))[0]
    if unit == 0:
        return rng.randrange(1, 1024)
    return rng.randrange(4, 4096) * 1024**unit // 4


def digest(rng: random.Random) -> str:
    return f"sha256:{rng.getrandbits(256):064x}"


def pull_command(package_type: str, registry_path: str, artifact: str, version: Version) -> str:
    """A plausible pull command; the server builds one per package type."""
    account, identifier = registry_path.split("/", 1)[0], registry_path.rsplit("/", 1)[1]
    base = f"{PULL_HOST}/{account}/{identifier}"
    if package_type == "DOCKER":
        separator = "@" if version.untagged else ":"
        return f"docker pull {base}/{artifact}{separator}{version.name}"
    if package_type == "HELM":
        return f"helm pull oci://{base}/{artifact} --version {version.name}"
    if package_type == "PYTHON":
        return f"pip install --index-url https://{base}/simple {artifact}=={version.name}"
    if package_type == "NPM":
        return f"npm install {artifact}@{version.name}"
    if package_type == "MAVEN":
        return f"mvn dependency:get -Dartifact={artifact}:{version.name}"
    if package_type == "HUGGINGFACE":
        return f"huggingface-cli download {artifact} --revision {version.name}"
    return f"curl --location 'https://{base}/files/{artifact}/{version.name}' -O"


def derive_versions(
    seed: int,
    aid: int,
    package_type: str,
    *,
    count: int,
    latest_version: str,
    last_modified_ms: int,
    created_ms: int,
    quarantined: bool,
) -> list[Version]:
    """Versions consistent with an artifact's list row, generated cheaply from its figures.

    The latest version is the one updated last, at `last_modified_ms`; the others are named
    `0.0.N` (`v0.0.N` for Docker) and were pushed between the artifact's creation and then.
    """
    rng = random.Random(f"{seed}:versions:{aid}")
    count = max(1, count)
    tag_based = package_type in ("DOCKER", "HELM")
    prefix = "v" if package_type == "DOCKER" else ""
    fillers = (f"{prefix}0.0.{i}" for i in range(count + 1))
    others = [name for name in fillers if name != latest_version][: count - 1]
    if last_modified_ms == GO_ZERO_TIME_MS:
        times = [GO_ZERO_TIME_MS] * count
        created = [created_ms + i for i in range(count)]
    else:
        low = min(created_ms, last_modified_ms - count)
        earlier = sorted(rng.sample(range(low, last_modified_ms), count - 1))
        times = [*earlier, last_modified_ms]
        created = times
    versions = []
    for position, name in enumerate([*others, latest_version]):
        versions.append(
            Version(
                name=name,
                created_ms=created[position],
                updated_ms=times[position],
                size_bytes=exact_size(rng),
                file_count=1 if tag_based else rng.randint(1, 4),
                downloads=int(rng.random() * 500),
                digest_count=rng.choice((1, 1, 1, 2, 4)) if tag_based else 1,
            )
        )
    if quarantined:
        versions[-1].quarantine_reasons = (QUARANTINE_REASONS[aid % len(QUARANTINE_REASONS)],)
    return versions


def render_version_rows(
    *,
    package_type: str,
    registry_path: str,
    registry_identifier: str,
    registry_uuid: str,
    artifact_name: str,
    artifact_type: str | None,
    version: Version,
    version_uuid: str,
    downloads: int,
) -> list[dict[str, Any]]:
    """The rows one version produces in the list (Go field order: alphabetical).

    Docker and Helm rows are tags: no uuid, registryUUID or fileCount, a `metadata` object and
    `quarantineReason` always present. Other rows carry the version's uuid and, only when
    quarantined, a `quarantineReason`: one row per quarantine record.
    """
    if package_type in ("DOCKER", "HELM"):
        return [
            {
                "digestCount": version.digest_count,
                "downloadsCount": downloads,
                "isQuarantined": bool(version.quarantine_reasons),
                "lastModified": str(version.updated_ms),
                "metadata": {"tags": [] if version.untagged else [version.name]},
                "name": version.name,
                "packageType": package_type,
                "pullCommand": pull_command(package_type, registry_path, artifact_name, version),
                # Looked up by digest into a map: one row per tag, never doubled.
                "quarantineReason": version.quarantine_reasons[0]
                if version.quarantine_reasons
                else "",
                "registryIdentifier": registry_identifier,
                "registryPath": "",
                "size": format_size(version.size_bytes),
            }
        ]
    base: dict[str, Any] = {}
    if artifact_type is not None:
        base["artifactType"] = artifact_type
    base["downloadsCount"] = downloads
    base["fileCount"] = version.file_count
    base["isQuarantined"] = bool(version.quarantine_reasons)
    base["lastModified"] = str(version.updated_ms)
    base["name"] = version.name
    base["packageType"] = package_type
    base["pullCommand"] = pull_command(package_type, registry_path, artifact_name, version)
    rows = []
    for reason in version.quarantine_reasons or (None,):
        row = dict(base)
        if reason is not None:
            row["quarantineReason"] = reason
        row["registryIdentifier"] = registry_identifier
        row["registryPath"] = ""
        row["registryUUID"] = registry_uuid
        row["size"] = format_size(version.size_bytes)
        row["uuid"] = version_uuid
        rows.append(row)
    return rows
