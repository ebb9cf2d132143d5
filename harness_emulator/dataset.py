"""The in-memory registry store: spaces, registries, artifacts, and the list queries over them.

Rows are rendered on demand from compact records, so a bench dataset of 100,000 artifacts stays
small. An artifact's versions (versions.py) are generated on first read from its figures (newest
version, its update time, how many there are) unless the scenario built them up front.
The server behaviour it reproduces is described in docs/harness-api.md.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .versions import GO_ZERO_TIME_MS as GO_ZERO_TIME_MS  # scenarios.py imports it from here
from .versions import (
    MAPPED_PACKAGE_TYPES,
    Version,
    derive_versions,
    format_size,
    render_version_rows,
)

DAY_MS = 86_400_000

# Docker and Helm artifacts are listed from the tag store: their itemCount counts artifacts, their
# uuids are empty and their lastModified sort uses the newest tag. Every other type is listed from
# the artifact table.
TAG_BASED_PACKAGE_TYPES = frozenset({"DOCKER", "HELM"})
HUGGINGFACE = "HUGGINGFACE"
ARTIFACT_TYPES = ("model", "dataset")

ARTIFACT_SORT_FIELDS = frozenset({"name", "lastModified", "downloadsCount", "repoKey"})
REGISTRY_SORT_FIELDS = frozenset(
    {"identifier", "lastModified", "registrySize", "artifactsCount", "downloadsCount", "type"}
)
REGISTRY_SCOPES = ("none", "descendants", "ancestors")


class Artifact:
    """One artifact (a Docker image, a Python package, a Hugging Face model...) of a registry."""

    __slots__ = (
        "aid",
        "artifact_type",
        "created_ms",
        "deleted",
        "downloads",
        "extra_fields",
        "labels",
        "last_modified_ms",
        "latest_version",
        "name",
        "package_type",
        "quarantined",
        "updated_ms",
        "version_count",
        "versions",
    )

    def __init__(
        self,
        *,
        aid: int,
        name: str,
        created_ms: int,
        updated_ms: int,
        latest_version: str,
        last_modified_ms: int,
        version_count: int = 1,
        downloads: int = 0,
        quarantined: bool = False,
        labels: tuple[str, ...] | None = (),
        artifact_type: str | None = None,
        package_type: str | None = None,
        extra_fields: dict[str, Any] | None = None,
    ) -> None:
        self.aid = aid
        self.name = name
        # Only Hugging Face artifacts have one; there (name, artifact_type) is the unique key.
        self.artifact_type = artifact_type
        # None means "the registry's package type", which is what the real server returns.
        self.package_type = package_type
        self.created_ms = created_ms
        # The artifact row's own update time: what a non-Docker lastModified sort orders by.
        self.updated_ms = updated_ms
        self.latest_version = latest_version
        # The newest version's update time: what the row's lastModified shows.
        self.last_modified_ms = last_modified_ms
        self.version_count = version_count
        self.downloads = downloads
        self.quarantined = quarantined
        self.labels = labels
        # Fields a newer server build sends that this emulator does not model (SaaS runs newer code).
        self.extra_fields = extra_fields
        self.deleted = False
        # In creation order; None until first read (see Dataset.versions_of). Once set,
        # version_count is len(versions) and the newest update is latest_version's.
        self.versions: list[Version] | None = None


@dataclass(eq=False)
class Registry:
    """A registry at account, org or project scope; `path` is its full ref, e.g. `acme/org/reg`."""

    path: str
    package_type: str
    uuid: str
    created_ms: int
    updated_ms: int
    registry_type: str = "VIRTUAL"
    size_bytes: int = 0
    labels: tuple[str, ...] | None = None
    description: str = ""
    forbidden: bool = False
    deleted: bool = False
    # Generates the artifacts on first read instead (see `LazyArtifacts`); None: a plain list.
    lazy: LazyArtifacts | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._artifacts: list[Artifact] | None = None if self.lazy else []

    @property
    def artifacts(self) -> list[Artifact]:
        """Kept in creation order, which is also the server's default sort."""
        if self._artifacts is None:
            assert self.lazy is not None
            self._artifacts = self.lazy.materialize(self)
        elif self.lazy is not None:
            self.lazy.touch(self)
        return self._artifacts

    @artifacts.setter
    def artifacts(self, value: list[Artifact]) -> None:
        self._artifacts = value
        self.pin()

    @property
    def materialized(self) -> bool:
        return self._artifacts is not None

    def pin(self) -> None:
        """Keep the artifacts from now on: they are about to change (a mutation), and a change
        would be lost if they were generated afresh."""
        if self.lazy is not None:
            self.lazy.pin(self)

    def evict(self) -> None:
        """Forget generated, unchanged artifacts; the next read generates them again."""
        self._artifacts = None

    def listing_figures(self) -> tuple[int, int]:
        """(listed artifacts, their downloads) for the registries endpoint, without generating
        the artifacts of a lazy registry that is not in memory."""
        if self._artifacts is None and self.lazy is not None:
            return self.lazy.figures(self)
        visible = self.visible_artifacts()
        return len(visible), sum(artifact.downloads for artifact in visible)

    @property
    def identifier(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def parent(self) -> str:
        return self.path.rsplit("/", 1)[0]

    @property
    def account(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def tag_based(self) -> bool:
        return self.package_type in TAG_BASED_PACKAGE_TYPES

    def visible_artifacts(self) -> list[Artifact]:
        """Soft-deleted artifacts are never listed."""
        return [artifact for artifact in self.artifacts if not artifact.deleted]


class LazyArtifacts:
    """Generates the artifacts of registries on first read, and keeps a bounded number of them.

    A large bench dataset (a million artifacts) would take tens of seconds and hundreds of MiB
    to build up front. Instead each registry's artifacts are generated when first read, and at
    most `budget` generated artifacts stay in memory: the registries read least recently are
    forgotten first and generated again, identically, when read again. A registry that a
    mutation touches is pinned (kept for good), so its changes are never lost.

    Args:
        generate: a registry's artifacts, the same on every call.
        figures: (listed artifacts, their downloads) of a registry, without generating it, for
            the registries endpoint.
        budget: generated artifacts kept in memory at most (a registry being read always is).

    Example:
        lazy = LazyArtifacts(generate, figures, budget=200_000)
        registry = Registry(path="bench/reg-000-docker", ..., lazy=lazy)
        registry.artifacts  # generated now
    """

    def __init__(
        self,
        generate: Callable[[Registry], list[Artifact]],
        figures: Callable[[Registry], tuple[int, int]],
        budget: int,
    ) -> None:
        self._generate = generate
        self._figures = figures
        self._budget = budget
        self._lock = threading.Lock()
        self._resident: OrderedDict[str, tuple[Registry, int]] = OrderedDict()
        self._resident_artifacts = 0
        self._pinned: set[str] = set()
        self.generated = 0  # registries generated so far, evicted ones counted again

    def materialize(self, registry: Registry) -> list[Artifact]:
        artifacts = self._generate(registry)
        with self._lock:
            self.generated += 1
            if registry.path in self._pinned:
                return artifacts
            self._resident[registry.path] = (registry, len(artifacts))
            self._resident_artifacts += len(artifacts)
            while self._resident_artifacts > self._budget and len(self._resident) > 1:
                _, (oldest, count) = self._resident.popitem(last=False)
                self._resident_artifacts -= count
                oldest.evict()
        return artifacts

    def touch(self, registry: Registry) -> None:
        """A resident registry was read again: it is forgotten last."""
        with self._lock:
            if registry.path in self._resident:
                self._resident.move_to_end(registry.path)

    def pin(self, registry: Registry) -> None:
        with self._lock:
            self._pinned.add(registry.path)
            resident = self._resident.pop(registry.path, None)
            if resident is not None:
                self._resident_artifacts -= resident[1]

    def figures(self, registry: Registry) -> tuple[int, int]:
        return self._figures(registry)

    @property
    def resident_artifacts(self) -> int:
        return self._resident_artifacts


# How rows that tie on the sort key are ordered (the `tie_order` setting, see `page_of_sorted`).
TIE_ORDERS = ("random", "adversarial")


def sort_without_tiebreaker(
    items: Iterable[Any], key: Callable[[Any], Any], descending: bool
) -> list[Any]:
    """Sort like an SQL ORDER BY without a tiebreaker: ties come back in an order that may change.

    The RNG is deliberately unseeded so that two identical requests can disagree on the order of
    tied rows, which is what makes offset paging over a tied key skip or repeat rows.
    """
    rng = random.Random()
    return sorted(items, key=lambda item: (key(item), rng.random()), reverse=descending)


def page_of_sorted(
    items: Iterable[Any],
    key: Callable[[Any], Any],
    descending: bool,
    offset: int,
    limit: int,
    tie_order: str = "random",
) -> list[Any]:
    """One page of `items` sorted by `key` with no tiebreaker, the ties ordered by `tie_order`.

    `"random"`: ties in a random order on every request (`sort_without_tiebreaker`), so that a
    reader paging over a tied key skips a row now and then.

    `"adversarial"`: every page is cut from the order that puts first, within each group of tied
    rows, the rows it overlaps. So each page that a tie group spans shows the same first rows of
    the group (in the group's input order), and a reader that pages through one list with a page
    boundary inside a tie group always reads one row twice and misses another, whatever order
    its requests arrive in. Each page is still a correct sort, as a database could return it.

    Example:
        >>> rows = ["a", "b1", "b2", "c"]
        >>> [page_of_sorted(rows, lambda r: r[0], False, o, 2, "adversarial") for o in (0, 2)]
        [['a', 'b1'], ['b1', 'c']]
    """
    if tie_order == "random":
        return sort_without_tiebreaker(items, key, descending)[offset : offset + limit]
    if tie_order != "adversarial":
        raise ValueError(f"tie_order must be one of {', '.join(TIE_ORDERS)}, got {tie_order!r}")
    # sorted() is stable, descending too: tied rows keep their input order.
    keyed = sorted(
        ((key(item), item) for item in items), key=lambda pair: pair[0], reverse=descending
    )
    end = offset + limit
    page: list[Any] = []
    start = 0
    for _, group in itertools.groupby(keyed, key=lambda pair: pair[0]):
        tied = [item for _, item in group]
        stop = start + len(tied)
        if stop > offset:
            page += tied[: min(stop, end) - max(start, offset)]
        start = stop
        if start >= end:
            break
    return page


def start_of_day_ms(now_s: float | None = None) -> int:
    """Midnight UTC of the day `now_s` (default: now) falls in, in epoch milliseconds.

    Example:
        >>> start_of_day_ms(1_764_345_600.5)  # 2025-11-28T16:00:00.5Z
        1764288000000
    """
    now_ms = int((time.time() if now_s is None else now_s) * 1000)
    return now_ms - now_ms % DAY_MS


class Dataset:
    """All spaces and registries of one emulator, guarded by one re-entrant lock.

    Readers and mutations take `lock`, so a list request sees a mutation batch entirely or not
    at all.

    Seeded times are relative to `anchor_ms`, midnight UTC of the day the data is built unless
    given: the data always looks recent, and two emulators started the same day with the same
    seed serve the same rows. Every seeded time is before the anchor, so anything a mutation
    does later (stamped with the wall clock) is newer than all of it.
    """

    def __init__(self, seed: int, anchor_ms: int | None = None) -> None:
        self.seed = seed
        self.anchor_ms = start_of_day_ms() if anchor_ms is None else anchor_ms
        self.lock = threading.RLock()
        self.spaces: set[str] = set()
        self.registries: dict[str, Registry] = {}
        self._next_artifact_id = 1
        self._uuid_namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"harness-emulator/seed/{seed}")
        # How list queries order rows that tie on the sort key (`page_of_sorted`); a string read
        # and written whole, so no lock.
        self.tie_order = "random"

    # -- building -------------------------------------------------------------------------

    def add_space(self, path: str) -> list[str]:
        """Add a space and its missing ancestors; return the spaces that were new."""
        segments = path.split("/")
        created = []
        for depth in range(1, len(segments) + 1):
            space = "/".join(segments[:depth])
            if space not in self.spaces:
                self.spaces.add(space)
                created.append(space)
        return created

    def registry_uuid(self, path: str) -> str:
        return str(uuid.uuid5(self._uuid_namespace, f"registry/{path}"))

    def next_artifact_id(self) -> int:
        artifact_id = self._next_artifact_id
        self._next_artifact_id += 1
        return artifact_id

    def reserve_artifact_ids(self, count: int) -> int:
        """Set aside `count` consecutive ids (for artifacts generated later); the first one."""
        first = self._next_artifact_id
        self._next_artifact_id += count
        return first

    def artifact_uuid(self, artifact: Artifact) -> str:
        # Derived from the artifact's id rather than stored, to keep bench records small; by
        # hand rather than with uuid.uuid5 (the same value), which is a third of a list page's
        # cost in the emulator.
        return _uuid5_text(self._uuid_namespace.bytes, f"artifact/{artifact.aid}")

    def version_uuid(self, artifact: Artifact, version: Version) -> str:
        return str(uuid.uuid5(self._uuid_namespace, f"version/{artifact.aid}/{version.name}"))

    # -- lookups ----------------------------------------------------------------------------

    def find_artifacts(
        self, registry: Registry, name: str, artifact_type: str | None
    ) -> list[Artifact]:
        """The listed artifacts called `name`: on Hugging Face without `artifact_type`, a model
        and a dataset of the same name are both found (their versions are listed together)."""
        return [
            artifact
            for artifact in registry.visible_artifacts()
            if artifact.name == name and artifact_type in (None, artifact.artifact_type)
        ]

    def versions_of(self, registry: Registry, artifact: Artifact) -> list[Version]:
        """The artifact's versions, generated from its figures on first read."""
        if artifact.versions is None:
            artifact.versions = derive_versions(
                self.seed,
                artifact.aid,
                registry.package_type,
                count=artifact.version_count,
                latest_version=artifact.latest_version,
                last_modified_ms=artifact.last_modified_ms,
                created_ms=artifact.created_ms,
                quarantined=artifact.quarantined,
            )
            artifact.version_count = len(artifact.versions)
        return artifact.versions

    def find_registry(self, ref: str) -> Registry | None:
        """The registry at `ref` (deleted or not), or None when it or its space does not exist."""
        segments = ref.split("/")
        if not 2 <= len(segments) <= 4 or "" in segments:
            return None
        registry = self.registries.get(ref)
        if registry is None or registry.parent not in self.spaces:
            return None
        return registry

    # -- rendering --------------------------------------------------------------------------

    def render_artifact(self, registry: Registry, artifact: Artifact) -> dict[str, Any]:
        """The row exactly as the list endpoint returns it (Go field order: alphabetical)."""
        row: dict[str, Any] = {}
        if registry.package_type == HUGGINGFACE:
            row["artifactType"] = artifact.artifact_type
        row["downloadsCount"] = artifact.downloads
        row["isPublic"] = False
        row["isQuarantined"] = artifact.quarantined
        row["labels"] = None if artifact.labels is None else list(artifact.labels)
        row["lastModified"] = str(artifact.last_modified_ms)
        row["latestVersion"] = artifact.latest_version
        row["name"] = artifact.name
        row["packageType"] = artifact.package_type or registry.package_type
        row["registryIdentifier"] = registry.identifier
        row["registryPath"] = ""
        row["registryUUID"] = "" if registry.tag_based else registry.uuid
        row["uuid"] = "" if registry.tag_based else self.artifact_uuid(artifact)
        if artifact.extra_fields:
            row = dict(sorted({**row, **artifact.extra_fields}.items()))
        return row

    def render_registry(self, registry: Registry) -> dict[str, Any]:
        """The row of the registries endpoint. Go omits nil pointers: a count of 0 and empty
        labels are absent from the row, not 0 or []."""
        count, downloads = registry.listing_figures()
        row: dict[str, Any] = {}
        if count:
            row["artifactsCount"] = count
        row["description"] = registry.description
        if downloads:
            row["downloadsCount"] = downloads
        row["identifier"] = registry.identifier
        row["isPublic"] = False
        if registry.labels:
            row["labels"] = list(registry.labels)
        row["lastModified"] = str(registry.updated_ms)
        row["packageType"] = registry.package_type
        row["path"] = registry.path
        row["registrySize"] = format_size(registry.size_bytes)
        row["type"] = registry.registry_type
        row["url"] = f"https://pkg.emulator.invalid/{registry.account}/{registry.identifier}"
        row["uuid"] = registry.uuid
        return row

    def render_version(
        self, registry: Registry, artifact: Artifact, version: Version
    ) -> list[dict[str, Any]]:
        """The rows of one version: one, or one per quarantine record for non-tag versions."""
        # Most types count downloads per version; the latest one's is the artifact's figure.
        latest = not registry.tag_based and version.name == artifact.latest_version
        return render_version_rows(
            package_type=registry.package_type,
            registry_path=registry.path,
            registry_identifier=registry.identifier,
            registry_uuid=registry.uuid,
            artifact_name=artifact.name,
            artifact_type=artifact.artifact_type if registry.package_type == HUGGINGFACE else None,
            version=version,
            version_uuid=self.version_uuid(artifact, version),
            downloads=artifact.downloads if latest else version.downloads,
        )

    # -- list queries -------------------------------------------------------------------------

    def query_versions(
        self,
        registry: Registry,
        artifacts: list[Artifact],
        *,
        search_term: str,
        sort_field: str,
        descending: bool,
        offset: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of version rows and itemCount, which counts versions, not rows.

        The page is cut from the versions first and quarantine records joined after, so a
        version with two records fills two rows and a page can hold more than `limit` rows.
        """
        with self.lock:
            matches = [
                (artifact, version)
                for artifact in artifacts
                for version in self.versions_of(registry, artifact)
                if search_term in version.name
            ]
            keys: dict[str, Callable[[tuple[Artifact, Version]], Any]] = {
                "name": lambda pair: pair[1].name,
                "lastModified": lambda pair: pair[1].updated_ms,
                # Downloads come from another table: every row ties, the order is random.
                "downloadsCount": lambda pair: 0,
                "createdAt": lambda pair: pair[1].created_ms,
            }
            page = page_of_sorted(
                matches, keys[sort_field], descending, offset, limit, self.tie_order
            )
            if registry.package_type not in MAPPED_PACKAGE_TYPES:
                # The row mapper skips types it does not handle; the count does not.
                return [], len(matches)
            rows = [
                row
                for artifact, version in page
                for row in self.render_version(registry, artifact, version)
            ]
            return rows, len(matches)

    def query_artifacts(
        self,
        registry: Registry,
        *,
        search_term: str,
        artifact_type: str | None,
        sort_field: str,
        descending: bool,
        offset: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of artifact rows and the itemCount the server reports alongside it."""
        with self.lock:
            matches = [
                artifact
                for artifact in registry.artifacts
                if not artifact.deleted
                and search_term in artifact.name
                and (artifact_type is None or artifact.artifact_type == artifact_type)
            ]
            if registry.tag_based:
                item_count = len(matches)
            else:
                # The server counts versions here, not artifacts: itemCount overstates.
                item_count = sum(artifact.version_count for artifact in matches)
            key = self._artifact_sort_key(registry, sort_field)
            if key is None:
                # Creation time. The list is kept in creation order and creation times never tie.
                ordered = list(reversed(matches)) if descending else matches
                page = ordered[offset : offset + limit]
            else:
                page = page_of_sorted(matches, key, descending, offset, limit, self.tie_order)
            return [self.render_artifact(registry, artifact) for artifact in page], item_count

    @staticmethod
    def _artifact_sort_key(registry: Registry, sort_field: str) -> Callable[[Artifact], Any] | None:
        """What a sort on `sort_field` orders by; None for creation order."""
        if sort_field == "name":
            # Unique except on Hugging Face, where a model and a dataset may share a name.
            return lambda a: a.name
        if sort_field == "lastModified":
            if registry.tag_based:
                return lambda a: a.last_modified_ms
            # Not the returned lastModified: the artifact row's own update time.
            return lambda a: a.updated_ms
        if sort_field in ("downloadsCount", "repoKey"):
            # repoKey orders by the registry name and downloadsCount by a column that does not
            # vary within the list, so every row ties: the order is effectively random.
            return lambda a: 0
        return None

    def query_registries(
        self,
        space: str,
        *,
        scope: str,
        package_types: list[str],
        registry_type: str | None,
        search_term: str,
        sort_field: str,
        descending: bool,
        offset: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of registry rows and their exact count. Deleted registries are not listed;
        forbidden ones are (reading their artifacts is what fails)."""
        with self.lock:
            matches = [
                registry
                for registry in self.registries.values()
                if not registry.deleted
                and _in_scope(registry.parent, space, scope)
                and (not package_types or registry.package_type in package_types)
                and (registry_type is None or registry.registry_type == registry_type)
                and search_term in registry.identifier
            ]
            key = self._registry_sort_key(sort_field)
            page = page_of_sorted(matches, key, descending, offset, limit, self.tie_order)
            return [self.render_registry(registry) for registry in page], len(matches)

    @staticmethod
    def _registry_sort_key(sort_field: str) -> Callable[[Registry], Any]:
        keys: dict[str, Callable[[Registry], Any]] = {
            "identifier": lambda r: r.identifier,
            "lastModified": lambda r: r.updated_ms,
            "registrySize": lambda r: r.size_bytes,
            "artifactsCount": lambda r: r.listing_figures()[0],
            "downloadsCount": lambda r: r.listing_figures()[1],
            "type": lambda r: r.registry_type,
        }
        return keys.get(sort_field, lambda r: r.created_ms)

    # -- ground truth -----------------------------------------------------------------------

    def ground_truth(
        self, registry_path: str | None = None, *, versions: bool = False, artifacts: bool = True
    ) -> dict[str, Any]:
        """Every registry with its flags, and every listable artifact row in creation order.

        With `versions`, also every listed artifact's versions (`version_truth`): generating
        them for a large bench dataset takes a while, so they are asked for explicitly. Without
        `artifacts`, only the registries: no row is rendered.
        """
        with self.lock:
            selected = [
                registry
                for registry in self.registries.values()
                if registry_path is None or registry.path == registry_path
            ]
            registries = []
            rows = {}
            for registry in selected:
                visible = registry.visible_artifacts()
                item_count = (
                    len(visible)
                    if registry.tag_based
                    else sum(artifact.version_count for artifact in visible)
                )
                registries.append(
                    {
                        "path": registry.path,
                        "identifier": registry.identifier,
                        "packageType": registry.package_type,
                        "type": registry.registry_type,
                        "uuid": registry.uuid,
                        "forbidden": registry.forbidden,
                        "deleted": registry.deleted,
                        "artifactCount": len(visible),
                        "itemCount": item_count,
                    }
                )
                if artifacts:
                    rows[registry.path] = [
                        self.render_artifact(registry, artifact) for artifact in visible
                    ]
            truth: dict[str, Any] = {"registries": registries}
            if artifacts:
                truth["artifacts"] = rows
            if versions:
                truth["versions"] = {
                    registry.path: [
                        self.version_truth(registry, artifact)
                        for artifact in registry.visible_artifacts()
                    ]
                    for registry in selected
                }
            return truth

    def version_truth(self, registry: Registry, artifact: Artifact) -> dict[str, Any]:
        """An artifact's versions in creation order: each with its exact `size_bytes`, its
        quarantine records and `row`, the (first) row the list shows for it."""
        return {
            "name": artifact.name,
            "artifactType": artifact.artifact_type,
            "versions": [
                {
                    "name": version.name,
                    "size_bytes": version.size_bytes,
                    "created_ms": version.created_ms,
                    "updated_ms": version.updated_ms,
                    "untagged": version.untagged,
                    "quarantine_reasons": list(version.quarantine_reasons),
                    "row": self.render_version(registry, artifact, version)[0],
                }
                for version in self.versions_of(registry, artifact)
            ],
        }


def _uuid5_text(namespace: bytes, name: str) -> str:
    """`str(uuid.uuid5(UUID(bytes=namespace), name))`, without building UUID objects."""
    digest = bytearray(hashlib.sha1(namespace + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _in_scope(registry_parent: str, space: str, scope: str) -> bool:
    if registry_parent == space:
        return True
    if scope == "descendants":
        return registry_parent.startswith(space + "/")
    if scope == "ancestors":
        return space.startswith(registry_parent + "/")
    return False
