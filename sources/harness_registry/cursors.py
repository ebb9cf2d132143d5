"""Incremental loading on `last_modified`, with one cursor per registry.

The API has no "modified since" filter, so every run pages through every registry; the cursor only
decides which rows are loaded. A single cursor for all registries would be wrong: a registry added to
the config later would be filtered by the others' cursor and never load in full. So each registry has
its own cursor, kept as plain values in its own slot of the resource's state
(`resources.artifacts.cursors.<cursor_key>`, see `cursor_key`):

    {"last_value": "2025-03-01T12:00:00+00:00",   # ISO 8601: the newest last_modified committed
     "boundary_keys": ["9f2c...", ...],           # key hashes of the rows loaded at last_value
     "zero_time_digest": "3:9f2c41d0...",         # count and digest of the rows with no last_modified
     "scan_started_at": "2025-03-01T12:05:07+00:00"}

A row is loaded when its `last_modified` is at or after the cursor, except a row exactly at the
cursor that was already loaded there (its key hash is in `boundary_keys`): rows sharing the cursor's
timestamp are neither lost nor loaded twice. Any row loaded again anyway is merged away by the
primary key.

Rows whose `lastModified` is Go's zero time have no cursor value, and `filter` never returns them. The
state keeps only an order-independent digest of their keys (their count, and the sum of a 64-bit hash
of each key), so it does not grow with them; the sink holds them back and loads all of a registry's
zero-time rows when a complete read's digest differs from the stored one (`zero_time_changed`), i.e.
when one appeared or went, and the merge on the primary key drops those loaded before. Slots of
earlier versions list their keys (`zero_time_keys`): the list is dropped, the digest unknown, so
those rows load once more.

Creating a cursor adds an empty slot for its registry and filters when there is none; `filter` only
reads the slot. A registry's cursor moves only when its scan was complete and raced no concurrent
change (`commit`); otherwise (`rollback`) the slot is put back as it was, so the next run covers
whatever this one may have missed.

Offset paging has no snapshot: an artifact can be skipped by a concurrent delete that no
`itemCount` change reveals (an insert made up for it). Such an artifact changed or appeared after
the previous scan began, so the cursor never moves past the moment the server answered the
*previous* scan's first page (minus a second for clock granularity). Every run thus re-reads what
changed since the run before last: a few rows, merged away, and an artifact is lost only if races
skip it in two runs in a row.

Slots written by earlier versions of this source held dlt's `Incremental` state
(`{"incremental": {"last_value": ..., "unique_hashes": [...]}, ...}`). Their `last_value` is read as
the cursor, so an upgrade keeps it; their hashes are in dlt's own format and are dropped, so the rows
at that boundary are loaded once more (and merged away).
See docs/harness-api.md#paging-traps.
"""

import copy
import hashlib
from datetime import datetime, timedelta
from typing import Any

import dlt

from .settings import ARTIFACT_PRIMARY_KEY

CURSOR_COLUMN = "last_modified"
LAST_VALUE = "last_value"
BOUNDARY_KEYS = "boundary_keys"
ZERO_TIME_DIGEST = "zero_time_digest"
SCAN_STARTED_AT = "scan_started_at"
LEGACY_INCREMENTAL = "incremental"  # the slot of dlt's `Incremental`, written by earlier versions
CLOCK_MARGIN = timedelta(seconds=1)  # the HTTP Date header has whole seconds


def cursor_key(registry_ref: str, filters: dict[str, Any]) -> str:
    """The slot of a registry's cursor. Filters are part of it: a run with a search term must not
    move the cursor of unfiltered runs past artifacts it never looked at."""
    if not any(filters.values()):
        return registry_ref
    digest = hashlib.blake2b(repr(sorted(filters.items())).encode(), digest_size=6).hexdigest()
    return f"{registry_ref} filtered:{digest}"


def _key_hash(row: dict[str, Any]) -> str:
    key = "\x1f".join(str(row.get(column, "")) for column in ARTIFACT_PRIMARY_KEY)
    return hashlib.blake2b(key.encode(), digest_size=9).hexdigest()


def _key_hash64(row: dict[str, Any]) -> int:
    key = "\x1f".join(str(row.get(column, "")) for column in ARTIFACT_PRIMARY_KEY)
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def is_zero_time(row: dict[str, Any]) -> bool:
    """The row has no cursor value: Harness sent Go's zero time as its `lastModified`."""
    return row.get(CURSOR_COLUMN) is None


class ZeroTimeDigest:
    """The count of a set of keys and the sum of their 64-bit hashes: the same in any order, and a
    few bytes however many keys.

    Example:
        >>> digest = ZeroTimeDigest()
        >>> digest.add({"registry_ref": "a/r", "name": "x", "artifact_type": ""})
        >>> digest.text().startswith("1:")
        True
    """

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def add(self, row: dict[str, Any]) -> None:
        self.count += 1
        self.total = (self.total + _key_hash64(row)) % 2**64

    def text(self) -> str:
        return f"{self.count}:{self.total:016x}"


def _as_datetime(value: Any) -> datetime | None:
    """A timestamp read from the state: an ISO 8601 string, or a datetime (dlt restores those)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _as_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class RegistryCursor:
    """The incremental filter of one registry for one run.

    Args:
        resource_name: the resource whose state holds the cursors (`artifacts`).
        registry_ref: the registry, for example `acme/docker`.
        filters: the run's row filters (`SourceOptions.row_filters()`); they choose the slot.
        state: the resource state to keep the cursor in; by default the running resource's
            `dlt.current.resource_state(resource_name)` (tests pass a plain dict).

    Example:
        cursor = RegistryCursor("artifacts", "acme/docker")
        new_rows = cursor.filter(rows)   # for each page
        cursor.commit(first_served_at) if scan_ok else cursor.rollback()
    """

    def __init__(
        self,
        resource_name: str,
        registry_ref: str,
        filters: dict[str, Any] | None = None,
        *,
        state: dict[str, Any] | None = None,
    ) -> None:
        if state is None:
            # Inside the resource's own state, so that dlt's refresh and drop of `artifacts` reset it.
            state = dlt.current.resource_state(resource_name)
        cursors = state.setdefault("cursors", {})
        self._slot: dict[str, Any] = cursors.setdefault(cursor_key(registry_ref, filters or {}), {})
        self._saved = copy.deepcopy(self._slot)

        self._start, start_keys = _read_cursor(self._slot)
        self._start_keys = frozenset(start_keys)
        # The newest last_modified seen so far and the keys seen at it; they become the cursor on commit.
        self._last_value = self._start
        self._boundary_keys = set(start_keys)
        self._zero_time_stored: str | None = self._slot.get(ZERO_TIME_DIGEST)
        self._zero_time_now = ZeroTimeDigest()

    def filter(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows modified since the cursor. Zero-time rows are only counted into this read's
        digest: whether to load them is known once the read is complete (`zero_time_changed`)."""
        kept: list[dict[str, Any]] = []
        for row in rows:
            modified = row.get(CURSOR_COLUMN)
            if modified is None:
                self._zero_time_now.add(row)
                continue
            key = _key_hash(row)
            if self._start is not None and (
                modified < self._start or (modified == self._start and key in self._start_keys)
            ):
                continue
            kept.append(row)
            if self._last_value is None or modified > self._last_value:
                self._last_value = modified
                self._boundary_keys = {key}
            elif modified == self._last_value:
                self._boundary_keys.add(key)
        return kept

    @property
    def zero_time_changed(self) -> bool:
        """The zero-time rows read so far differ from those of the last committed read (or those
        are unknown): after a complete read, all of them are to be loaded."""
        return self._zero_time_now.text() != self._zero_time_stored

    def commit(self, scan_started_at: datetime | None) -> None:
        """Keeps the advanced cursor, but not past the server's clock at the previous scan's first
        page; remembers this scan's, and the digest of this complete scan's zero-time rows."""
        previous_start = _as_datetime(self._slot.get(SCAN_STARTED_AT))
        basis = previous_start if previous_start is not None else scan_started_at
        last_value, boundary_keys = self._last_value, self._boundary_keys
        if last_value is not None and basis is not None and last_value > basis - CLOCK_MARGIN:
            last_value = basis - CLOCK_MARGIN
            # rows at the old boundary are now above the cursor and are loaded again anyway
            boundary_keys = set()
        started_at = scan_started_at if scan_started_at is not None else previous_start
        self._slot.clear()
        self._slot.update(
            {
                LAST_VALUE: _as_text(last_value),
                BOUNDARY_KEYS: sorted(boundary_keys),
                ZERO_TIME_DIGEST: self._zero_time_now.text(),
                SCAN_STARTED_AT: _as_text(started_at),
            }
        )

    def rollback(self) -> None:
        """Puts the slot back as it was before this run, so the next run reads from the old cursor."""
        self._slot.clear()
        self._slot.update(copy.deepcopy(self._saved))


def _read_cursor(slot: dict[str, Any]) -> tuple[datetime | None, list[str]]:
    """The committed cursor and its boundary keys, from a current slot or one of dlt's `Incremental`."""
    if LAST_VALUE in slot:
        return _as_datetime(slot[LAST_VALUE]), list(slot.get(BOUNDARY_KEYS, []))
    legacy = slot.get(LEGACY_INCREMENTAL) or {}
    return _as_datetime(legacy.get(LAST_VALUE)), []
