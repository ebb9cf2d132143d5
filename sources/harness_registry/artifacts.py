"""Reading the artifacts of every registry, and with `versions` their versions: pages in, rows of
`artifacts` and `artifact_versions` out, as the mode says.

`ArtifactReader` runs one `PageScheduler` over every registry's list, and for each event:

- an artifact page: splits a Hugging Face registry into per-type lists when needed, keeps the
  artifacts with a wanted label, shapes them into rows, gives them to the mode's sink and notes
  those to be loaded for their versions (`versions.VersionReads`);
- a finished artifact list: adds its figures to the registry's result, and once the registry's
  read is done (all its lists), lets the sink finish it: hand out a snapshot, or read the registry
  again after a race;
- once every registry's artifacts are read: the version lists of the artifacts noted, through the
  same scheduler, side by side;
- a registry whose artifacts and versions are all read is settled: its cursor committed or kept
  (incremental), a versions failure counted as the registry's error;
- the rows go to dlt in chunks of `ROWS_PER_ITEM`, each tagged with its table.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from .client import HarnessClient
from .lists import ListScans, VersionsScan
from .options import SourceOptions
from .rows import is_snapshot_marker, labels_of, shape_artifact
from .run_report import ListResult, RunReport
from .scan import ListScan, Page, PageScheduler, ScanFinished, ScanQueue
from .settings import ARTIFACT_TYPES, ROWS_PER_ITEM
from .sinks import IncrementalSink, RegistryRead, Row, SnapshotSink
from .spool import SpooledRows
from .versions import VersionReads

ARTIFACTS_RESOURCE = "artifacts"
VERSIONS_RESOURCE = "artifact_versions"

TableRows = tuple[str, Iterable[Row]]  # rows of one table, handed out lazily
TableChunk = tuple[str, list[Row]]


class ArtifactReader:
    """Reads the artifacts of registries (and their versions) and yields the rows to load.

    Example:
        reader = ArtifactReader(client, options, report, ["acme/docker", "acme/platform/maven"])
        for table, chunk in reader.items():
            ...  # `artifacts` or `artifact_versions`, and a list of its rows
    """

    def __init__(
        self,
        client: HarnessClient,
        options: SourceOptions,
        report: RunReport,
        registry_refs: Iterable[str],
    ) -> None:
        self._client = client
        self._options = options
        self._report = report
        self._scans = ListScans(options)
        self._sink = sink_for(options)
        self._versions = VersionReads(self._scans, options, report) if options.versions else None
        self._reads: dict[str, RegistryRead] = {}  # registries whose read is not done yet
        self._unsettled: dict[str, RegistryRead] = {}  # read, waiting for their versions
        refs = list(registry_refs)
        self._registries_reading = len(refs)  # registries whose artifact read is not done
        # Lazy: a registry's read starts when the scheduler takes its list.
        self._queue = ScanQueue(self._start(ref) for ref in refs)
        self._scheduler = PageScheduler(self._client, self._queue, self._options.concurrency)

    def items(self) -> Iterator[TableChunk]:
        """Yields (table, rows) in chunks, registry by registry as their pages and reads complete."""
        try:
            for event in self._scheduler.events():
                if isinstance(event.scan, VersionsScan):
                    out = self._take_versions(event)
                else:
                    out = self._take_artifacts(event)
                for table, rows in out:
                    yield from self._hand_out(table, rows)
        finally:
            self._sink.close()
            self._report.requests = self._client.requests_sent
            self._report.throttled = self._client.throttled

    def _start(self, ref: str) -> ListScan:
        """A registry's read begins (again) with one list of all its artifacts."""
        self._reads[ref] = RegistryRead(ref)
        return self._scans.artifacts(ref)

    # Artifact lists.

    def _take_artifacts(self, event: Page | ScanFinished) -> list[TableRows]:
        result = self._report.registry(event.scan.ref)
        if isinstance(event, Page):
            return [(ARTIFACTS_RESOURCE, self._take_page(event, result))]
        return self._finish_list(event.scan, result)

    def _take_page(self, page: Page, result: ListResult) -> Iterable[Row]:
        scan = page.scan
        if scan.abandoned:
            return []
        if must_split_by_artifact_type(scan, page, self._options):
            self._split_by_artifact_type(scan)
            return []
        result.rows_read += len(page.rows)
        kept = with_any_label(page.rows, self._options.labels)
        shaped = [shape_artifact(raw, scan.ref) for raw in kept]
        loaded = self._sink.page(scan.ref, shaped)
        if self._versions is not None:
            self._versions.want(scan.ref, shaped if self._sink.loads_every_row else loaded)
        return loaded

    def _split_by_artifact_type(self, scan: ListScan) -> None:
        """One list per artifact type instead: within a type names are unique, so pages are stable."""
        scan.abandoned = True
        self._reads[scan.ref].parts += len(ARTIFACT_TYPES)
        for artifact_type in ARTIFACT_TYPES:
            self._queue.append(self._scans.artifacts(scan.ref, artifact_type))

    def _finish_list(self, scan: ListScan, result: ListResult) -> list[TableRows]:
        result.add_scan(scan)
        read = self._reads[scan.ref]
        read.add(scan)
        if not read.done:
            return []
        del self._reads[scan.ref]
        rows, read_again = self._sink.finish(read, result)
        if read_again:
            result.rows_read = 0
            self._queue.append(self._start(scan.ref))
            return [(ARTIFACTS_RESOURCE, rows)]
        if isinstance(rows, SpooledRows) and self._versions is not None:
            # rows held back until the read was done (zero-time ones): loaded now, so their versions
            self._versions.want(scan.ref, rows.peek())
        out = [(ARTIFACTS_RESOURCE, rows)]
        self._unsettled[scan.ref] = read
        self._registries_reading -= 1
        if self._registries_reading == 0 and self._versions is not None:
            # Every artifact page is read: the count of version lists is known, read them now.
            self._queue.extend(self._versions.start(self._scheduler.mean_answer_seconds))
        return out + self._settle(scan.ref)

    # Version lists.

    def _take_versions(self, event: Page | ScanFinished) -> list[TableRows]:
        assert self._versions is not None and isinstance(event.scan, VersionsScan)
        if isinstance(event, Page):
            self._versions.take_page(event.scan, event.rows)
            return []
        rows, read_again = self._versions.finish(event.scan)
        if read_again is not None:
            self._queue.append(read_again)
        return [(VERSIONS_RESOURCE, rows), *self._settle(event.scan.ref)]

    # Settling a registry: its artifacts read, and the versions of those it loads.

    def _settle(self, ref: str) -> list[TableRows]:
        read = self._unsettled.get(ref)
        if read is None or (self._versions is not None and self._versions.pending(ref)):
            return []
        del self._unsettled[ref]
        result = self._report.registry(ref)
        versions_error = self._versions.error(ref) if self._versions is not None else None
        self._sink.settle(read, result, versions_error)
        if self._versions is None:
            return []
        read_completely = read.complete and not read.raced
        return [(VERSIONS_RESOURCE, self._versions.registry_marker(ref, read_completely))]

    def _hand_out(self, table: str, rows: Iterable[Row]) -> Iterator[TableChunk]:
        for chunk in chunks(rows, ROWS_PER_ITEM):
            if table == ARTIFACTS_RESOURCE:
                result = self._report.registry(chunk[0]["registry_ref"])
                result.rows_loaded += sum(1 for row in chunk if not is_snapshot_marker(row))
            yield table, chunk


def sink_for(options: SourceOptions) -> IncrementalSink | SnapshotSink:
    """The sink of the run's mode (see `sinks`)."""
    if options.mode == "snapshot":
        return SnapshotSink()
    return IncrementalSink(ARTIFACTS_RESOURCE, options.row_filters())


def with_any_label(raw_rows: list[dict[str, Any]], labels: Iterable[str]) -> list[dict[str, Any]]:
    """The API artifacts carrying any of `labels`; all of them when no label is wanted.

    The server ignores the `label` parameter, so the filter is applied here.
    """
    wanted = set(labels)
    if not wanted:
        return raw_rows
    return [raw for raw in raw_rows if wanted.intersection(labels_of(raw))]


def must_split_by_artifact_type(scan: ListScan, page: Page, options: SourceOptions) -> bool:
    """A Hugging Face registry can hold a model and a dataset of the same name. The server sorts by
    name with no tiebreaker, so the two come back in either order on each request, and when they
    straddle a page boundary one is read twice and the other never. Reading models and datasets as
    two lists avoids the tie; a registry that fits on its first page needs no split."""
    return (
        page.page_index == 0
        and options.artifact_type is None
        and "artifact_type" not in scan.params
        # more than one page: more to come, or later pages already observed
        and (scan.paginator.has_next_page or scan.paginator.page_index > 1)
        and all(row.get("packageType") == "HUGGINGFACE" for row in page.rows)
        # a newer server with other artifact types: two lists would miss those, so page as one
        and {row.get("artifactType") for row in page.rows} <= set(ARTIFACT_TYPES)
    )


def chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """`rows` in lists of `size` (the last one shorter), without holding more than one list."""
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
