"""Finding the registries of the configured spaces, once per run, for both resources."""

import threading
from typing import Any

from .lists import ListScans
from .options import SourceOptions
from .races import RacedReads
from .run_report import RunReport
from .scan import Page, PageClient, PageScheduler, ScanQueue

Row = dict[str, Any]


class RegistryDiscovery:
    """Lists the registries of the configured spaces once per run, for both resources.

    The `registries` resource loads the listed rows and the `artifacts` resource reads the artifacts
    of each listed registry, so a discovered registry is read without a second listing. A space
    listing that raced a registry's creation or deletion is listed again (see `races`).
    """

    def __init__(self, client: PageClient, options: SourceOptions, report: RunReport) -> None:
        self._client = client
        self._options = options
        self._report = report
        self._rows: list[Row] | None = None
        self._lock = threading.Lock()

    def rows(self) -> list[Row]:
        """The registry rows of every configured space and the spaces below it, as the API sends them."""
        with self._lock:
            if self._rows is None:
                self._rows = self._list() if self._options.spaces else []
            return self._rows

    def registry_refs(self) -> list[str]:
        """Explicitly configured registries first, then discovered ones; each once."""
        discovered = [row["path"] for row in self.rows() if isinstance(row.get("path"), str)]
        return list(dict.fromkeys([*self._options.registries, *discovered]))

    def _list(self) -> list[Row]:
        scans = ListScans(self._options)
        queue = ScanQueue(scans.registries(space) for space in self._options.spaces)
        races = RacedReads("listed", "some of its registries may be missing from this run")
        rows: dict[str, Row] = {}
        for event in PageScheduler(self._client, queue, self._options.concurrency).events():
            space = event.scan.ref
            result = self._report.space(space)
            if isinstance(event, Page):
                for row in event.rows:
                    # spaces may overlap (an account and one of its orgs), and a space listed
                    # again after a race repeats rows: keep each registry once
                    rows.setdefault(str(row.get("path")), row)
                result.rows_read += len(event.rows)
                continue
            result.add_scan(event.scan)
            if event.scan.complete and event.scan.raced:
                # Registries were created or deleted while listing: one may have been skipped.
                if races.read_again(space):
                    queue.append(scans.registries(space))
                else:
                    result.error = races.reason(space)
        return list(rows.values())
