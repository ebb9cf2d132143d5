"""What each mode loads of a registry's rows, and when its cursor or snapshot is committed.

`ArtifactReader` hands every page to a sink; when a registry's read is done it asks the sink to
`finish` it (the rows held back, or a read again after a race), and once the versions of the
artifacts it loaded are read too (with `versions`), to `settle` it:

- `IncrementalSink` passes rows through the registry's cursor as they come, holds its zero-time rows
  on disk until the read is done (all of them are loaded when their set changed), and commits the
  cursor only for a read that was complete, raced no change, and whose artifacts' versions were all
  read;
- `SnapshotSink` holds a registry's rows on disk and hands them out only once its read was complete,
  so a failed read retires nothing.
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .cursors import RegistryCursor, is_zero_time
from .races import RacedReads
from .rows import snapshot_marker
from .run_report import ListResult
from .scan import ListScan
from .spool import RowSpool, SpooledRows

logger = logging.getLogger(__name__)

Row = dict[str, Any]


@dataclass
class RegistryRead:
    """One registry's read in this run: one list, or one per artifact type (Hugging Face)."""

    ref: str
    parts: int = 1
    finished_parts: int = 0
    complete: bool = True
    raced: bool = False
    first_served_at: datetime | None = None  # the earliest server time at a first page of its lists
    item_counts: list[int] = field(default_factory=list)

    def add(self, scan: ListScan) -> None:
        """Takes in a finished list; an abandoned one (replaced by per-type lists) only counts."""
        self.finished_parts += 1
        if scan.abandoned:
            return
        self.complete = self.complete and scan.complete
        self.raced = self.raced or scan.raced
        self.item_counts += scan.paginator.item_counts
        if scan.first_served_at and (
            self.first_served_at is None or scan.first_served_at < self.first_served_at
        ):
            self.first_served_at = scan.first_served_at

    @property
    def done(self) -> bool:
        return self.finished_parts >= self.parts


class IncrementalSink:
    """Incremental mode: rows go out page by page, through each registry's cursor; zero-time rows
    wait in a temporary file for the end of the registry's read (see `cursors`)."""

    # Only the rows `page` and `finish` return are loaded, so only theirs need their versions read.
    loads_every_row = False

    def __init__(self, resource_name: str, filters: dict[str, Any]) -> None:
        self._resource_name = resource_name
        self._filters = filters
        self._cursors: dict[str, RegistryCursor] = {}
        self._zero_time: dict[str, RowSpool] = {}

    def page(self, ref: str, rows: list[Row]) -> list[Row]:
        cursor = self._cursors.get(ref)
        if cursor is None:
            cursor = RegistryCursor(self._resource_name, ref, self._filters)
            self._cursors[ref] = cursor
        zero_time = [row for row in rows if is_zero_time(row)]
        if zero_time:
            spool = self._zero_time.get(ref)
            if spool is None:
                spool = self._zero_time[ref] = RowSpool()
            spool.write(zero_time)
        return cursor.filter(rows)

    def finish(self, read: RegistryRead, result: ListResult) -> tuple[Iterable[Row], bool]:
        """The other rows went out with their pages; the zero-time rows of a complete, race-free
        read go out now if their set changed (all of them: the merge drops those loaded before),
        as `SpooledRows`. The cursor waits for `settle`."""
        spool = self._zero_time.pop(read.ref, None) or RowSpool()
        cursor = self._cursors.get(read.ref)
        if read.complete and not read.raced and cursor is not None and cursor.zero_time_changed:
            return SpooledRows(spool), False
        spool.close()
        return [], False

    def settle(self, read: RegistryRead, result: ListResult, versions_error: str | None) -> None:
        """Commits the cursor of a complete, race-free read whose artifacts' versions were all read;
        otherwise keeps it, so that the next run reads those artifacts (and their versions) again."""
        cursor = self._cursors.pop(read.ref, None)
        if cursor is None:
            return
        if read.complete and not read.raced and versions_error is None:
            cursor.commit(read.first_served_at)
            return
        # The rows already loaded are real; the cursor stays so the next run covers any gap.
        cursor.rollback()
        result.cursor_kept = True
        if versions_error is not None and result.error is None:
            result.error = versions_error
        if read.raced:
            logger.warning(
                f"registry {read.ref} changed while it was read (itemCount "
                f"{read.item_counts[0]} -> {read.item_counts[-1]}): its cursor is kept so that "
                "the next run re-reads what moved"
            )

    def close(self) -> None:
        self._cursors.clear()
        for spool in self._zero_time.values():
            spool.close()
        self._zero_time.clear()


class SnapshotSink:
    """Snapshot mode: a registry's rows are held in a temporary file until its read is complete,
    then handed out, followed by a marker row that puts the registry in the merge's scope (so an
    emptied registry retires its artifacts too). A read that raced a change is read again (see
    `races`); a failed read hands out nothing, so it retires nothing."""

    # Every row of a complete read is loaded, so every row needs its versions read.
    loads_every_row = True

    def __init__(self) -> None:
        self._spools: dict[str, RowSpool] = {}
        self._races = RacedReads(
            "read", "not loaded in this run, so none of its artifacts were retired"
        )

    def page(self, ref: str, rows: list[Row]) -> list[Row]:
        spool = self._spools.get(ref)
        if spool is None:
            spool = self._spools[ref] = RowSpool()
        spool.write(rows)
        return []

    def finish(self, read: RegistryRead, result: ListResult) -> tuple[Iterable[Row], bool]:
        spool = self._spools.pop(read.ref, None) or RowSpool()
        if read.complete and not read.raced:
            return _drain(spool, snapshot_marker(read.ref)), False
        spool.close()
        if not read.complete:
            return [], False
        if self._races.read_again(read.ref):
            logger.warning(f"registry {read.ref} changed while it was read: reading it again")
            return [], True
        result.error = self._races.reason(read.ref)
        return [], False

    def settle(self, read: RegistryRead, result: ListResult, versions_error: str | None) -> None:
        """The artifacts were handed out (or not) by `finish`; a versions failure fails the registry."""
        if versions_error is not None and result.error is None:
            result.error = versions_error

    def close(self) -> None:
        for spool in self._spools.values():
            spool.close()
        self._spools.clear()


def _drain(spool: RowSpool, last: Row) -> Iterator[Row]:
    try:
        yield from spool.read()
        yield last
    finally:
        spool.close()
