"""The resources' generators: registries discovered in spaces, and the artifacts of registries."""

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .client import HarnessClient
from .options import SourceOptions
from .paginator import PageIndexPaginator
from .refs import account_of
from .report import RegistryResult, RunReport
from .rows import is_snapshot_marker, labels_of, shape_artifact, shape_registry
from .scan import ListScan, Page, ScanQueue, scan_pages
from .settings import ARTIFACTS_PATH, RACED_READ_ATTEMPTS, REGISTRIES_PATH, ROWS_PER_ITEM
from .sinks import IncrementalSink, RegistryRead, Row, SnapshotSink

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
        # See docs/harness-api.md#listing-the-registries-of-a-space.
        # No sort field: the server then orders by creation time, which has no ties. Identifiers
        # repeat across projects, and ties page unstably (registries would be skipped).
        params: dict[str, Any] = {"scope": "descendants"}
        if options.package_types:
            params["package_type"] = list(options.package_types)

        def scan_of(space: str) -> ListScan:
            return ListScan(
                ref=space,
                subject=f"space {space}",
                path=REGISTRIES_PATH.format(space_ref=space),
                params={**params, "routingId": account_of(space)},
                paginator=PageIndexPaginator(options.page_size, items_path="registries"),
            )

        queue = ScanQueue(scan_of(space) for space in options.spaces)
        attempts: dict[str, int] = {}
        rows: dict[str, dict[str, Any]] = {}
        for event in scan_pages(self._client, queue, "registries", options.concurrency):
            space = event.scan.ref
            result = self._report.space(space)
            if isinstance(event, Page):
                for row in event.rows:
                    # spaces may overlap (an account and one of its orgs), and a space listed
                    # again after a race repeats rows: keep each registry once
                    rows.setdefault(str(row.get("path")), row)
                result.rows_read += len(event.rows)
                continue
            _record_scan(result, event.scan)
            attempts[space] = attempts.get(space, 0) + 1
            if event.scan.complete and event.scan.raced:
                # Registries were created or deleted while listing: one may have been skipped.
                if attempts[space] < RACED_READ_ATTEMPTS:
                    queue.append(scan_of(space))
                else:
                    result.error = (
                        f"changed while it was listed, {attempts[space]} times in a row: "
                        "some of its registries may be missing from this run; run again later"
                    )
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
) -> Iterator[list[Row]]:
    """Yields `artifacts` rows of every registry: in `incremental` mode each page as it comes,
    filtered by the registry's cursor; in `snapshot` mode a registry's rows once it was read
    completely, so that a registry whose read failed loads (and retires) nothing."""

    def scan_of(ref: str, artifact_type: str | None = None) -> ListScan:
        params = {**options.list_params(), "routingId": account_of(ref)}
        if artifact_type:
            params["artifact_type"] = artifact_type
        return ListScan(
            ref=ref,
            subject=f"registry {ref}",
            path=ARTIFACTS_PATH.format(registry_ref=ref),
            # Harness's own clients send routingId=<account>; the SaaS gateway may route on it.
            params=params,
            paginator=PageIndexPaginator(options.page_size),
        )

    def start(ref: str) -> ListScan:
        reads[ref] = RegistryRead(ref)
        return scan_of(ref)

    reads: dict[str, RegistryRead] = {}
    queue = ScanQueue(start(ref) for ref in discovery.registry_refs())
    sink: IncrementalSink | SnapshotSink = (
        SnapshotSink()
        if options.mode == "snapshot"
        else IncrementalSink(ARTIFACTS_RESOURCE, options.row_filters())
    )
    wanted_labels = set(options.labels)
    try:
        for event in scan_pages(client, queue, "artifacts", options.concurrency):
            scan = event.scan
            ref = scan.ref
            read = reads[ref]
            result = report.registry(ref)
            rows: Iterable[Row] = []
            if isinstance(event, Page):
                if scan.abandoned:
                    continue
                if must_split_by_artifact_type(scan, event, options):
                    # One list per artifact type: within a type names are unique, so pages are stable.
                    scan.abandoned = True
                    read.parts += 2
                    queue.append(scan_of(ref, "model"))
                    queue.append(scan_of(ref, "dataset"))
                    continue
                raw_rows = event.rows
                if wanted_labels:
                    # the server ignores `label`; keep artifacts carrying any of the labels
                    raw_rows = [r for r in raw_rows if wanted_labels.intersection(labels_of(r))]
                rows = sink.page(ref, [shape_artifact(raw, ref) for raw in raw_rows])
                result.rows_read += len(event.rows)
            else:
                _record_scan(result, scan)
                read.add(scan)
                if read.done:
                    del reads[ref]
                    rows, read_again = sink.finish(read, result)
                    if read_again:
                        result.rows_read = 0
                        queue.append(start(ref))
            for chunk in _chunks(rows, ROWS_PER_ITEM):
                result.rows_loaded += sum(1 for row in chunk if not is_snapshot_marker(row))
                yield chunk
    finally:
        sink.close()
        report.requests = client.requests_sent
        report.throttled = client.throttled


def must_split_by_artifact_type(scan: ListScan, page: Page, options: SourceOptions) -> bool:
    """A Hugging Face registry can hold a model and a dataset of the same name. The server sorts by
    name with no tiebreaker, so the two come back in either order on each request, and when they
    straddle a page boundary one is read twice and the other never. Reading models and datasets as
    two lists avoids the tie; a registry that fits on its first page needs no split."""
    # See docs/harness-api.md#sorting-and-ties.
    return (
        page.page_index == 0
        and options.artifact_type is None
        and "artifact_type" not in scan.params
        # more than one page: more to come, or later pages already observed
        and (scan.paginator.has_next_page or scan.paginator.page_index > 1)
        and all(row.get("packageType") == "HUGGINGFACE" for row in page.rows)
        # a newer server with other artifact types: two lists would miss those, so page as one
        and {row.get("artifactType") for row in page.rows} <= {"model", "dataset"}
    )


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _record_scan(result: RegistryResult, scan: ListScan) -> None:
    """Adds a finished list's figures to its registry's (a registry may take several lists)."""
    result.pages += scan.pages_read
    result.requests += scan.requests
    result.wasted_requests += scan.wasted_requests
    result.raced = result.raced or scan.raced
    if scan.error is not None:
        result.error = scan.error.reason
