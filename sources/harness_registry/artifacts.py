"""Reading the artifacts of every registry: pages in, `artifacts` rows out, as the mode says.

`ArtifactReader` runs one `PageScheduler` over every registry's list, and for each event:

- a page: splits a Hugging Face registry into per-type lists when needed, keeps the artifacts
  with a wanted label, shapes them into rows and gives them to the mode's sink;
- a finished list: adds its figures to the registry's result, and once the registry's read is
  done (all its lists), lets the sink finish it: commit or keep a cursor, hand out a snapshot, or
  read the registry again after a race;
- the rows the sink hands out go to dlt in chunks of `ROWS_PER_ITEM`.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from .client import HarnessClient
from .lists import ListScans
from .options import SourceOptions
from .rows import is_snapshot_marker, labels_of, shape_artifact
from .run_report import ListResult, RunReport
from .scan import ListScan, Page, PageScheduler, ScanQueue
from .settings import ROWS_PER_ITEM
from .sinks import IncrementalSink, RegistryRead, Row, SnapshotSink

ARTIFACTS_RESOURCE = "artifacts"


class ArtifactReader:
    """Reads the artifacts of registries and yields the rows to load, in chunks.

    Example:
        reader = ArtifactReader(client, options, report, ["acme/docker", "acme/platform/maven"])
        for chunk in reader.rows():
            ...  # lists of `artifacts` rows
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
        self._reads: dict[str, RegistryRead] = {}  # registries whose read is not done yet
        # Lazy: a registry's read starts when the scheduler takes its list.
        self._queue = ScanQueue(self._start(ref) for ref in registry_refs)

    def rows(self) -> Iterator[list[Row]]:
        """Yields the rows to load, registry by registry as their pages and reads complete."""
        scheduler = PageScheduler(self._client, self._queue, self._options.concurrency)
        try:
            for event in scheduler.events():
                result = self._report.registry(event.scan.ref)
                if isinstance(event, Page):
                    rows = self._take_page(event, result)
                else:
                    rows = self._finish_list(event.scan, result)
                yield from self._hand_out(rows, result)
        finally:
            self._sink.close()
            self._report.requests = self._client.requests_sent
            self._report.throttled = self._client.throttled

    def _start(self, ref: str) -> ListScan:
        """A registry's read begins (again) with one list of all its artifacts."""
        self._reads[ref] = RegistryRead(ref)
        return self._scans.artifacts(ref)

    def _take_page(self, page: Page, result: ListResult) -> Iterable[Row]:
        scan = page.scan
        if scan.abandoned:
            return []
        if must_split_by_artifact_type(scan, page, self._options):
            self._split_by_artifact_type(scan)
            return []
        result.rows_read += len(page.rows)
        kept = with_any_label(page.rows, self._options.labels)
        return self._sink.page(scan.ref, [shape_artifact(raw, scan.ref) for raw in kept])

    def _split_by_artifact_type(self, scan: ListScan) -> None:
        """One list per artifact type instead: within a type names are unique, so pages are stable."""
        scan.abandoned = True
        self._reads[scan.ref].parts += 2
        self._queue.append(self._scans.artifacts(scan.ref, "model"))
        self._queue.append(self._scans.artifacts(scan.ref, "dataset"))

    def _finish_list(self, scan: ListScan, result: ListResult) -> Iterable[Row]:
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
        return rows

    def _hand_out(self, rows: Iterable[Row], result: ListResult) -> Iterator[list[Row]]:
        for chunk in chunks(rows, ROWS_PER_ITEM):
            result.rows_loaded += sum(1 for row in chunk if not is_snapshot_marker(row))
            yield chunk


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
        and {row.get("artifactType") for row in page.rows} <= {"model", "dataset"}
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
