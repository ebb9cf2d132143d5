"""Mutation ops applied to a dataset atomically: all ops of a batch, or none of them.

Each op records how to undo itself; when an op fails, the ops before it are undone in reverse.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from .dataset import HUGGINGFACE, Artifact, Dataset, Registry
from .scenarios import CREATED_FROM_MS, generate_artifacts
from .versions import Version

UndoLog = list[Callable[[], None]]


class MutationError(ValueError):
    """An op was malformed or referred to something that does not exist."""


def apply_ops(dataset: Dataset, ops: list[dict[str, Any]]) -> int:
    """Apply every op or, if one fails, none. Returns the number of ops applied."""
    if not isinstance(ops, list):
        raise MutationError("ops must be a list")
    with dataset.lock:
        undo_log: UndoLog = []
        try:
            for position, op in enumerate(ops):
                _apply_one(dataset, op, undo_log, position)
        except MutationError:
            for undo in reversed(undo_log):
                undo()
            raise
    return len(ops)


def _apply_one(dataset: Dataset, op: Any, undo_log: UndoLog, position: int) -> None:
    if not isinstance(op, dict):
        raise MutationError(f"op #{position} is not an object")
    handler = _OPS.get(op.get("op"))
    if handler is None:
        raise MutationError(f"op #{position}: unknown op {op.get('op')!r}; known: {sorted(_OPS)}")
    try:
        handler(dataset, op, undo_log)
    except MutationError as exc:
        raise MutationError(f"op #{position} ({op['op']}): {exc}") from None


# -- helpers ------------------------------------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


def _field(op: dict[str, Any], name: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
    if name not in op:
        if default is ...:
            raise MutationError(f"missing field {name!r}")
        return default
    value = op[name]
    # bool is an int in Python; refuse it where a number is expected.
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        raise MutationError(f"field {name!r} has the wrong type: {value!r}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _labels(op: dict[str, Any], default: Any = ...) -> tuple[str, ...] | None:
    labels = _field(op, "labels", (list, type(None)), default)
    if labels is None:
        return None
    if not all(isinstance(label, str) for label in labels):
        raise MutationError("labels must be strings")
    return tuple(labels)


def _set(undo_log: UndoLog, target: Any, attribute: str, value: Any) -> None:
    previous = getattr(target, attribute)
    undo_log.append(lambda: setattr(target, attribute, previous))
    setattr(target, attribute, value)


def _registry(dataset: Dataset, op: dict[str, Any], key: str = "registry") -> Registry:
    path = _field(op, key, str)
    registry = dataset.registries.get(path)
    if registry is None:
        raise MutationError(f"no registry {path!r}")
    # generated artifacts are forgotten when memory is short; changed ones must stay
    registry.pin()
    return registry


def _artifact(registry: Registry, op: dict[str, Any]) -> Artifact:
    name = _field(op, "name", str)
    artifact_type = _field(op, "artifact_type", (str, type(None)), None)
    found = [
        artifact
        for artifact in registry.visible_artifacts()
        if artifact.name == name and artifact_type in (None, artifact.artifact_type)
    ]
    if not found:
        raise MutationError(f"no artifact {name!r} in {registry.path!r}")
    if len(found) > 1:
        raise MutationError(f"{name!r} is ambiguous in {registry.path!r}: give artifact_type")
    return found[0]


# -- ops ----------------------------------------------------------------------------------


def _add_artifact(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    registry = _registry(dataset, op)
    name = _field(op, "name", str)
    artifact_type = _field(op, "artifact_type", (str, type(None)), None)
    if registry.package_type == HUGGINGFACE:
        artifact_type = artifact_type or "model"
    elif artifact_type is not None:
        raise MutationError("artifact_type is only for HUGGINGFACE registries")
    if any(
        artifact.name == name and artifact.artifact_type == artifact_type
        for artifact in registry.visible_artifacts()
    ):
        raise MutationError(f"{name!r} already exists in {registry.path!r}")
    now = _now_ms()
    # Creation times never tie and the list stays in creation order: a new artifact is newest.
    newest_created = max((a.created_ms for a in registry.artifacts), default=CREATED_FROM_MS)
    created_ms = max(now, newest_created + 1)
    artifact = Artifact(
        aid=dataset.next_artifact_id(),
        name=name,
        artifact_type=artifact_type,
        package_type=_field(op, "package_type", (str, type(None)), None),
        created_ms=created_ms,
        updated_ms=created_ms,
        latest_version=_field(op, "version", str, "1.0.0"),
        last_modified_ms=_field(op, "last_modified_ms", int, now),
        version_count=_field(op, "versions", int, 1),
        downloads=_field(op, "downloads", int, 0),
        quarantined=_field(op, "quarantined", bool, False),
        labels=_labels(op, ()),
        extra_fields=_field(op, "extra_fields", (dict, type(None)), None),
    )
    registry.artifacts.append(artifact)
    undo_log.append(registry.artifacts.pop)


def _delete_artifact(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    artifact = _artifact(_registry(dataset, op), op)
    _set(undo_log, artifact, "deleted", True)


def _add_version(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    """A push: one more version and, if it is the newest update, a new lastModified and
    latestVersion. Pushing an existing name again replaces that version (a moved Docker tag);
    only a new name adds to the count."""
    registry = _registry(dataset, op)
    artifact = _artifact(registry, op)
    name = _field(op, "version", str)
    # Without an explicit time the push happens now, which is after every earlier update.
    updated_ms = _field(op, "updated_ms", int, max(_now_ms(), artifact.last_modified_ms + 1))
    reasons = _field(op, "quarantine_reasons", list, [])
    if not all(isinstance(reason, str) for reason in reasons):
        raise MutationError("quarantine_reasons must be strings")
    size_bytes = _field(op, "size_bytes", int, 0)
    if size_bytes < 0:
        raise MutationError("size_bytes must be >= 0")
    versions = dataset.versions_of(registry, artifact)
    version = Version(
        name=name,
        created_ms=max([updated_ms, *(v.created_ms + 1 for v in versions)]),
        updated_ms=updated_ms,
        size_bytes=size_bytes,
        file_count=_field(op, "file_count", int, 1),
        downloads=_field(op, "downloads", int, 0),
        quarantine_reasons=tuple(reasons),
        digest_count=_field(op, "digest_count", int, 1),
        untagged=_field(op, "untagged", bool, False),
    )
    kept = [v for v in versions if v.name != name]
    _set(undo_log, artifact, "versions", [*kept, version])
    _set(undo_log, artifact, "version_count", len(kept) + 1)
    if updated_ms >= artifact.last_modified_ms:
        _set(undo_log, artifact, "latest_version", name)
        _set(undo_log, artifact, "last_modified_ms", updated_ms)
    elif artifact.latest_version == name:
        # The latest version was pushed again with an older time: another one is newest now.
        _refresh_latest(artifact, undo_log)


def _delete_version(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    """Deleting the latest version makes the next most recently updated one the latest, and
    its update time the artifact's lastModified. The last version cannot go: delete the
    artifact instead."""
    registry = _registry(dataset, op)
    artifact = _artifact(registry, op)
    name = _field(op, "version", str)
    versions = dataset.versions_of(registry, artifact)
    kept = [version for version in versions if version.name != name]
    if len(kept) == len(versions):
        raise MutationError(f"no version {name!r} of {artifact.name!r} in {registry.path!r}")
    if not kept:
        raise MutationError(f"{name!r} is the only version of {artifact.name!r}: delete_artifact")
    _set(undo_log, artifact, "versions", kept)
    _set(undo_log, artifact, "version_count", len(kept))
    _refresh_latest(artifact, undo_log)


def _refresh_latest(artifact: Artifact, undo_log: UndoLog) -> None:
    """latestVersion and lastModified from the versions: the most recently updated one (the
    one created last among equal times)."""
    assert artifact.versions
    newest = max(artifact.versions, key=lambda v: (v.updated_ms, v.created_ms))
    _set(undo_log, artifact, "latest_version", newest.name)
    _set(undo_log, artifact, "last_modified_ms", newest.updated_ms)


def _set_labels(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    """New labels leave lastModified alone, but they touch the artifact row itself, which moves
    it in a non-Docker lastModified sort."""
    registry = _registry(dataset, op)
    artifact = _artifact(registry, op)
    _set(undo_log, artifact, "labels", _labels(op))
    if not registry.tag_based:
        _set(undo_log, artifact, "updated_ms", max(_now_ms(), artifact.updated_ms + 1))


def _set_downloads(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    artifact = _artifact(_registry(dataset, op), op)
    _set(undo_log, artifact, "downloads", _field(op, "downloads", int))


def _set_quarantined(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    artifact = _artifact(_registry(dataset, op), op)
    _set(undo_log, artifact, "quarantined", _field(op, "quarantined", bool, True))


def _add_registry(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    path = _field(op, "path", str)
    segments = path.split("/")
    if not 2 <= len(segments) <= 4 or "" in segments:
        raise MutationError(f"registry path must be ACCOUNT[/ORG[/PROJECT]]/REGISTRY: {path!r}")
    existing = dataset.registries.get(path)
    if existing is not None and not existing.deleted:
        raise MutationError(f"registry {path!r} already exists")
    for space in dataset.add_space(path.rsplit("/", 1)[0]):
        undo_log.append(lambda space=space: dataset.spaces.discard(space))
    now = _now_ms()
    registry = Registry(
        path=path,
        package_type=_field(op, "package_type", str),
        uuid=dataset.registry_uuid(path),
        created_ms=max([now, *(r.created_ms + 1 for r in dataset.registries.values())]),
        updated_ms=now,
        registry_type=_field(op, "type", str, "VIRTUAL"),
        size_bytes=_field(op, "size_bytes", int, 0),
        labels=_labels(op, None),
        description=_field(op, "description", str, ""),
    )
    count = _field(op, "artifacts", int, 0)
    if count < 0:
        raise MutationError("artifacts must be >= 0")
    rng = random.Random(f"{dataset.seed}:{path}:added")
    registry.artifacts = generate_artifacts(dataset, registry, count, rng)
    dataset.registries[path] = registry
    if existing is None:
        undo_log.append(lambda: dataset.registries.pop(path))
    else:
        undo_log.append(lambda: dataset.registries.__setitem__(path, existing))


def _delete_registry(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    _set(undo_log, _registry(dataset, op, "path"), "deleted", True)


def _forbid_registry(dataset: Dataset, op: dict[str, Any], undo_log: UndoLog) -> None:
    _set(undo_log, _registry(dataset, op, "path"), "forbidden", _field(op, "forbidden", bool, True))


_OPS: dict[str, Callable[[Dataset, dict[str, Any], UndoLog], None]] = {
    "add_artifact": _add_artifact,
    "delete_artifact": _delete_artifact,
    "add_version": _add_version,
    "delete_version": _delete_version,
    "set_labels": _set_labels,
    "set_downloads": _set_downloads,
    "set_quarantined": _set_quarantined,
    "add_registry": _add_registry,
    "delete_registry": _delete_registry,
    "forbid_registry": _forbid_registry,
}
