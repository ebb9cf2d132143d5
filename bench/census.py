"""Counting a run's requests from the emulator's request log, by route, against what was needed.

The counts come from the emulator (`/_emulator/requests`), not from the client's own counters, so
that a request the client does not count (a retry, a page fetched ahead and discarded) still shows.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

ARTIFACTS_PREFIX = "/har/api/v1/registry/"
ARTIFACTS_SUFFIX = "/+/artifacts"

ArtifactKey = tuple[str, str]  # (registry ref, artifact name)
EXAMPLES = 5


def registry_of(path: str) -> str | None:
    """The registry ref of an artifact list request's path, or None for any other route."""
    if path.startswith(ARTIFACTS_PREFIX) and path.endswith(ARTIFACTS_SUFFIX):
        return path[len(ARTIFACTS_PREFIX) : -len(ARTIFACTS_SUFFIX)]
    return None


def page_of(entry: dict[str, Any]) -> int | None:
    query = entry.get("query") or {}
    try:
        return int(query.get("page", ["0"])[0])
    except ValueError:
        return None


def page_census(
    log: list[dict[str, Any]], data_pages: dict[str, int], page_size: int
) -> dict[str, int]:
    """Splits the answered artifact requests into pages with rows and pages past the end."""
    empty = 0
    with_rows = 0
    for entry in log:
        ref = registry_of(entry["path"])
        if ref is None or entry["status"] != 200:
            continue
        page = page_of(entry)
        if page is None:
            continue
        if page >= data_pages.get(ref, 0):
            empty += 1
        else:
            with_rows += 1
    return {"pages_with_rows": with_rows, "empty_pages": empty}


def versions_census(
    log: list[dict[str, Any]], ideal_pages: dict[ArtifactKey, int]
) -> dict[str, Any]:
    """The version list requests of a run, per artifact, against `ideal_pages`: the pages each
    artifact's list needs (one, plus one per further page of versions).

    The emulator logs each versions request with its decoded `registry` and `artifact`.

    Example:
        census = versions_census(emulator.requests_log(), {("bench/reg-000-docker", "a"): 2})
        census["requests"], census["over_ideal"], census["under_ideal"]
    """
    per_artifact: Counter[ArtifactKey] = Counter()
    per_page: Counter[tuple[str, str, int | None]] = Counter()
    statuses: Counter[str] = Counter()
    for entry in log:
        if "artifact" not in entry:
            continue
        key = (entry["registry"], entry["artifact"])
        per_artifact[key] += 1
        per_page[(*key, page_of(entry))] += 1
        statuses[str(entry["status"])] += 1
    over = {
        key: count - ideal_pages.get(key, 0)
        for key, count in per_artifact.items()
        if count > ideal_pages.get(key, 0)
    }
    under = {
        key: pages - per_artifact.get(key, 0)
        for key, pages in ideal_pages.items()
        if per_artifact.get(key, 0) < pages
    }
    past_end = sum(
        count
        for (ref, name, page), count in per_page.items()
        if page is not None and page >= max(ideal_pages.get((ref, name), 0), 1)
    )
    return {
        "requests": sum(per_artifact.values()),
        "ideal": sum(ideal_pages.values()),
        "by_status": dict(sorted(statuses.items())),
        "artifacts_read": len(per_artifact),
        "artifacts_ideal": len(ideal_pages),
        "over_ideal": sum(over.values()),
        "under_ideal": sum(under.values()),
        "repeated_pages": sum(count - 1 for count in per_page.values() if count > 1),
        "pages_past_end": past_end,
        "unexpected_artifacts": sum(1 for key in per_artifact if key not in ideal_pages),
        "over_examples": [
            f"{ref} {name}: {per_artifact[(ref, name)]} requests, ideal "
            f"{ideal_pages.get((ref, name), 0)}"
            for ref, name in list(over)[:EXAMPLES]
        ],
        "under_examples": [
            f"{ref} {name}: {per_artifact.get((ref, name), 0)} requests, ideal "
            f"{ideal_pages[(ref, name)]}"
            for ref, name in list(under)[:EXAMPLES]
        ],
    }


def phase_seconds(log: list[dict[str, Any]], versions: bool) -> float | None:
    """First request received to last answer, over the versions requests (or the others) of a
    timed log (`requests_log(timing=True)`); None without any."""
    entries = [
        entry
        for entry in log
        if ("artifact" in entry) == versions and entry.get("answered_at") is not None
    ]
    if not entries:
        return None
    first = min(entry["received_at"] for entry in entries)
    last = max(entry["answered_at"] for entry in entries)
    return last - first
