"""What a run read, per registry and per space: the figures the CLI prints and the failures it
exits non-zero on. (The SQL reports over loaded tables are the CLI's `reports` module.)"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scan import ListScan


@dataclass
class ListResult:
    """How the reading of one list went: a registry's artifacts, or a space's registries.

    A registry may take several lists (one per artifact type, or a re-read after a race); their
    figures add up here.
    """

    ref: str
    rows_read: int = 0
    rows_loaded: int = 0
    pages: int = 0
    requests: int = 0
    wasted_requests: int = 0
    error: str | None = None
    raced: bool = False
    cursor_kept: bool = False  # the cursor was not advanced: the next run re-reads from the old one

    @property
    def ok(self) -> bool:
        return self.error is None

    def add_scan(self, scan: "ListScan") -> None:
        """Adds the figures of a finished list, and its error if it failed."""
        self.pages += scan.pages_read
        self.requests += scan.requests
        self.wasted_requests += scan.wasted_requests
        self.raced = self.raced or scan.raced
        if scan.error is not None:
            self.error = scan.error.reason


@dataclass
class RunReport:
    """Filled in by the source while it runs; read by the CLI after `pipeline.run`."""

    registries: dict[str, ListResult] = field(default_factory=dict)
    spaces: dict[str, ListResult] = field(default_factory=dict)
    requests: int = 0
    throttled: int = 0
    # With `versions`: artifacts whose versions this run set out to read, the requests their lists
    # took, the version rows handed to dlt, and the artifacts whose versions could not be read.
    versions_requested: int = 0
    version_requests: int = 0
    version_rows: int = 0
    versions_failed: int = 0
    versions_estimate_seconds: float | None = None  # the estimate logged before reading them

    def registry(self, ref: str) -> ListResult:
        return self.registries.setdefault(ref, ListResult(ref))

    def space(self, ref: str) -> ListResult:
        return self.spaces.setdefault(ref, ListResult(ref))

    @property
    def failures(self) -> list[ListResult]:
        """Registries and spaces that could not be read."""
        return [r for r in [*self.spaces.values(), *self.registries.values()] if not r.ok]

    @property
    def rows_loaded(self) -> int:
        return sum(r.rows_loaded for r in self.registries.values())
