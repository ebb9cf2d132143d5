"""The resources' generators: registries discovered in spaces, and the artifacts of registries."""

import logging
import threading
from collections.abc import Iterator
from typing import Any

from .client import HarnessClient
from .cursors import RegistryCursor
from .options import SourceOptions
from .paginator import PageIndexPaginator
from .refs import account_of
from .report import RunReport
from .rows import labels_of, shape_artifact, shape_registry
from .scan import ListScan, Page, scan_pages
from .settings import ARTIFACTS_PATH, REGISTRIES_PATH

logger = logging.getLogger(__name__)

ARTIFACTS_RESOURCE = "artifacts"


class RegistryDiscovery:
    """Lists the registries of the configured spaces once per run, for both resources.

    The `registries` resource loads the listed rows and the `artifacts` resource reads the artifacts
    of each listed registry, so a discovered registry is read without a second listing.
    """

    def __init__(self, client: HarnessClient, options: SourceOptions, report: RunReport) -> None:
        self._client = client
        self._options = options
        self._report = report
        self._rows: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def rows(self) -> list[dict[str, Any]]:
        """The registry rows of every configured space and the spaces below it, as the API sends them."""
        with self._lock:
            if self._rows is None:
                self._rows = self._list()
            return self._rows

    def registry_refs(self) -> list[str]:
        """Explicitly configured registries first, then discovered ones; each once."""
        discovered = [row["path"] for row in self.rows() if isinstance(row.get("path"), str)]
        return list(dict.fromkeys([*self._options.registries, *discovered]))

    def _list(self) -> list[dict[str, Any]]:
        options = self._options
        if not options.spaces:
            return []
        params: dict[str, Any] = {"scope": "descendants", "sort_field": "identifier"}
        if options.package_types:
            params["package_type"] = list(options.package_types)
        scans = (
            ListScan(
                ref=space,
                subject=f"space {space}",
                path=REGISTRIES_PATH.format(space_ref=space),
                params={**params, "routingId": account_of(space)},
                paginator=PageIndexPaginator(options.page_size, items_path="registries"),
            )
            for space in options.spaces
        )
        rows: dict[str, dict[str, Any]] = {}
        for event in scan_pages(self._client, scans, "registries", options.concurrency):
            result = self._report.space(event.scan.ref)
            if isinstance(event, Page):
                for row in event.rows:
                    # spaces may overlap (an account and one of its orgs): keep each registry once
                    rows.setdefault(str(row.get("path")), row)
                result.rows_read += len(event.rows)
            else:
                _record_scan(result, event.scan)
        return list(rows.values())


def registry_rows(discovery: RegistryDiscovery) -> Iterator[list[dict[str, Any]]]:
    """Yields the discovered registries as `registries` rows (one list)."""
    rows = [shape_registry(row) for row in discovery.rows()]
    if rows:
        yield rows


def artifact_rows(
    client: HarnessClient,
    options: SourceOptions,
    discovery: RegistryDiscovery,
    report: RunReport,
) -> Iterator[list[dict[str, Any]]]:
    """Yields pages of `artifacts` rows of every registry, filtered by each registry's cursor."""
    scans = (
        ListScan(
            ref=ref,
            subject=f"registry {ref}",
            path=ARTIFACTS_PATH.format(registry_ref=ref),
            # Harness's own clients send routingId=<account>; the SaaS gateway may route on it.
            params={**options.list_params(), "routingId": account_of(ref)},
            paginator=PageIndexPaginator(options.page_size),
        )
        for ref in discovery.registry_refs()
    )
    cursors: dict[str, RegistryCursor] = {}
    wanted_labels = set(options.labels)
    try:
        for event in scan_pages(client, scans, "artifacts", options.concurrency):
            ref = event.scan.ref
            result = report.registry(ref)
            if isinstance(event, Page):
                cursor = cursors.get(ref) or cursors.setdefault(
                    ref, RegistryCursor(ARTIFACTS_RESOURCE, ref)
                )
                raw_rows = event.rows
                if wanted_labels:
                    raw_rows = [r for r in raw_rows if wanted_labels.intersection(labels_of(r))]
                rows = cursor.filter([shape_artifact(raw, ref) for raw in raw_rows])
                result.rows_read += len(event.rows)
                result.rows_loaded += len(rows)
                if rows:
                    yield rows
                continue
            scan = event.scan
            _record_scan(result, scan)
            cursor = cursors.pop(ref, None)
            if cursor is None:
                continue
            if scan.complete and not scan.raced:
                cursor.commit(scan.first_served_at)
            else:
                cursor.rollback()
                result.cursor_kept = True
                if scan.raced:
                    logger.warning(
                        f"registry {ref} changed while it was read (itemCount went "
                        f"{scan.paginator.item_counts[0]} -> {scan.paginator.item_counts[-1]}): "
                        "its cursor is kept so that the next run re-reads what may have moved"
                    )
    finally:
        report.requests = client.requests_sent
        report.throttled = client.throttled


def _record_scan(result: Any, scan: ListScan) -> None:
    result.pages = scan.pages_read
    result.requests = scan.requests
    result.wasted_requests = scan.wasted_requests
    result.raced = scan.raced
    if scan.error is not None:
        result.error = scan.error.reason if hasattr(scan.error, "reason") else str(scan.error)
