"""Incremental loading on `last_modified`, with one cursor per registry.

The API has no "modified since" filter, so every run pages through every registry; the cursor only
decides which rows are loaded. A single cursor for all registries would be wrong: a registry added to
the config later would be filtered by the others' cursor and never load in full. So each registry gets
its own dlt `Incremental`, kept in its own slot of the resource's state
(`resources.artifacts.cursors.<registry_ref>`), with dlt's own boundary handling (rows equal to the cursor are de-duplicated by primary key).

Rows whose `lastModified` is Go's zero time have no cursor value. They are loaded when first seen, and
the state keeps a short hash of their keys so that they are not reloaded on every run.

A registry's cursor moves only when its scan was complete and raced no concurrent change. Otherwise
the state is put back as it was, so the next run covers whatever this one may have missed.

Offset paging has no snapshot: an artifact can be skipped by a concurrent delete that no
`itemCount` change reveals (an insert made up for it). Such an artifact changed or appeared after
the previous scan began, so the cursor never moves past the moment the server answered the
*previous* scan's first page (minus a second for clock granularity). Every run thus re-reads what
changed since the run before last: a few rows, merged away, and an artifact is lost only if races
skip it in two runs in a row.
See docs/harness-api.md#paging-traps.
"""

import copy
import hashlib
from datetime import datetime, timedelta
from typing import Any

import dlt
from dlt.common.time import ensure_pendulum_datetime
from dlt.extract.incremental import Incremental

from .settings import ARTIFACT_PRIMARY_KEY

CURSOR_COLUMN = "last_modified"
ZERO_TIME_KEYS = "zero_time_keys"
SCAN_STARTED_AT = "scan_started_at"
CLOCK_MARGIN = timedelta(seconds=1)  # the HTTP Date header has whole seconds


class _Pipe:
    """Stands in for the resource's pipe: `Incremental.bind` takes only its name."""

    def __init__(self, name: str) -> None:
        self.name = name


class _RegistryIncremental(Incremental[Any]):
    """dlt's `Incremental`, keeping its state in one registry's slot instead of the resource's."""

    def use_state(self, state: dict[str, Any]) -> None:
        if not state:
            state.update(
                {
                    "initial_value": None,
                    "last_value": None,
                    "unique_hashes": [],
                    "start_value": None,
                }
            )
        self.__dict__["_registry_state"] = state

    def get_state(self) -> Any:
        return self.__dict__["_registry_state"]


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


class RegistryCursor:
    """The incremental filter of one registry for one run.

    Example:
        cursor = RegistryCursor("artifacts", "acme/docker")
        new_rows = cursor.filter(rows)   # for each page
        cursor.commit() if scan_ok else cursor.rollback()
    """

    def __init__(
        self, resource_name: str, registry_ref: str, filters: dict[str, Any] | None = None
    ) -> None:
        # Inside the resource's own state, so that dlt's refresh and drop of `artifacts` reset it.
        cursors = dlt.current.resource_state(resource_name).setdefault("cursors", {})
        self._state = cursors.setdefault(cursor_key(registry_ref, filters or {}), {})
        self._saved = copy.deepcopy(self._state)
        self._incremental = _RegistryIncremental(CURSOR_COLUMN, primary_key=ARTIFACT_PRIMARY_KEY)
        self._incremental.use_state(self._state.setdefault("incremental", {}))
        self._incremental.bind(_Pipe(resource_name))  # type: ignore[arg-type]
        self._zero_time_seen = set(self._state.get(ZERO_TIME_KEYS, []))
        self._zero_time_now: set[str] = set()

    def filter(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows to load: those modified since the cursor, and zero-time rows not seen before."""
        timed = [row for row in rows if row.get(CURSOR_COLUMN) is not None]
        kept: list[dict[str, Any]] = []
        if timed:
            kept = self._incremental(timed) or []
        for row in rows:
            if row.get(CURSOR_COLUMN) is None:
                key = _key_hash(row)
                self._zero_time_now.add(key)
                if key not in self._zero_time_seen:
                    kept.append(row)
        return kept

    def commit(self, scan_started_at: datetime | None) -> None:
        """Keeps the advanced cursor, but not past the server's clock at the previous scan's first
        page; remembers this scan's, and exactly the zero-time rows of this complete scan."""
        self._state[ZERO_TIME_KEYS] = sorted(self._zero_time_now)
        previous_start = self._state.get(SCAN_STARTED_AT)
        if scan_started_at is not None:
            self._state[SCAN_STARTED_AT] = scan_started_at
        basis = previous_start if previous_start is not None else scan_started_at
        incremental_state = self._state.get("incremental")
        if not incremental_state or basis is None:
            return
        ceiling = ensure_pendulum_datetime(basis) - CLOCK_MARGIN
        last_value = incremental_state.get("last_value")
        if isinstance(last_value, datetime) and last_value > ceiling:
            incremental_state["last_value"] = ceiling
            # rows at the old boundary are now above the cursor and are re-checked anyway
            incremental_state["unique_hashes"] = []

    def rollback(self) -> None:
        """Puts the state back as it was before this run, so the next run reads from the old cursor."""
        self._state.clear()
        self._state.update(self._saved)
