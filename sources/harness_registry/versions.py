"""Reading the versions of the artifacts a run loads: which ones, when, and what comes of each list.

With `versions`, `ArtifactReader` tells a `VersionReads` which artifacts it loads (`want`): in
incremental mode those its cursors let through (new, `lastModified` moved, zero-time ones when the
registry's set of them changed), in snapshot mode all of them. Once every registry's artifact pages
are read, `start` logs how many artifacts need their versions read and how long that should take,
and hands out one `VersionsScan` per artifact for the same `PageScheduler`, so version lists are
read side by side within the same concurrency and rate limit as the artifact pages. Each finished list becomes rows (`finish`):

- a complete list: its rows, one per version (a version the server repeats per quarantine record is
  merged), and in snapshot mode a marker that puts the artifact in the scd2 merge's scope;
- a list that raced a change (`itemCount` moved between its pages): read again (see `races`);
- a failed list: no rows, and the registry's error (`error`), which keeps its cursor (incremental) and
  makes the run exit 3.
See docs/harness-api.md#versions-of-one-artifact.
"""

import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from .lists import ListScans, VersionsScan
from .options import SourceOptions
from .races import RacedReads
from .rows import shape_versions, version_marker
from .run_report import RunReport

logger = logging.getLogger(__name__)

Row = dict[str, Any]
ArtifactKey = tuple[str, str, str]  # (registry_ref, artifact name, artifact type or '')


class VersionReads:
    """The version lists of one run, per registry.

    Example:
        versions = VersionReads(ListScans(options), options, report)
        versions.want("acme/docker", loaded_artifact_rows)     # while artifact pages come in
        queue.extend(versions.start(mean_answer_seconds=0.2))   # once they are all read
        rows, again = versions.finish(scan)                     # for each finished VersionsScan
        if versions.pending("acme/docker") == 0:
            error = versions.error("acme/docker")
    """

    def __init__(
        self,
        scans: ListScans,
        options: SourceOptions,
        report: RunReport,
        progress_stream: TextIO | None = None,
    ) -> None:
        self._scans = scans
        self._options = options
        self._report = report
        self._snapshot = options.mode == "snapshot"
        self._progress_stream = progress_stream if progress_stream is not None else sys.stderr
        self._requested: set[ArtifactKey] = set()
        self._waiting: list[ArtifactKey] = []
        self._pending: Counter[str] = Counter()  # per registry: lists wanted and not finished
        self._failed: dict[str, list[str]] = {}  # per registry: "artifact: reason"
        self._races = RacedReads("read", "its versions were not loaded")
        self._progress = Progress(0, self._progress_stream)

    def want(self, registry_ref: str, artifact_rows: Iterable[Row]) -> None:
        """Notes the artifacts whose versions to read; each once per run (a registry read again
        after a race repeats its rows)."""
        for row in artifact_rows:
            key = (registry_ref, str(row["name"]), row.get("artifact_type") or "")
            if key not in self._requested:
                self._requested.add(key)
                self._waiting.append(key)
                self._pending[registry_ref] += 1

    def start(self, mean_answer_seconds: float | None = None) -> Iterator[VersionsScan]:
        """Logs how many artifacts need their versions read and the time it should take, and
        returns their lists, built as the scheduler takes them.

        Args:
            mean_answer_seconds: how long a request took so far, for the estimate.
        """
        waiting, self._waiting = self._waiting, []
        count = len(waiting)
        self._report.versions_requested += count
        if count:
            seconds = estimate_seconds(
                count,
                self._options.requests_per_minute,
                self._options.concurrency,
                mean_answer_seconds,
            )
            self._report.versions_estimate_seconds = seconds
            logger.info(versions_plan(count, seconds, self._options))
        self._progress = Progress(self._report.versions_requested, self._progress_stream)
        return (self._scans.versions(*key) for key in waiting)

    def take_page(self, scan: VersionsScan, rows: list[Row]) -> None:
        """Holds a page's rows until the list ends: a repeated version is merged over the list."""
        scan.rows.extend(rows)

    def finish(self, scan: VersionsScan) -> tuple[list[Row], VersionsScan | None]:
        """The rows to load of a finished list, and the list to read again after a race (or None).

        Raises nothing: a failed list is recorded for `error`.
        """
        self._report.version_requests += scan.requests
        raw_rows, scan.rows = scan.rows, []
        subject = f"{scan.ref} {scan.artifact_name} {scan.artifact_type}"
        error = scan.error.reason if scan.error is not None else None
        if scan.complete and scan.raced:
            if self._races.read_again(subject):
                logger.warning(
                    f"the versions of {scan.artifact_name} in {scan.ref} changed "
                    "while they were read: reading them again"
                )
                return [], self._scans.versions(*scan.artifact_key)
            error = self._races.reason(subject)
        self._pending[scan.ref] -= 1
        self._progress.step()
        if error is not None or not scan.complete:
            reason = error or "not read"
            self._failed.setdefault(scan.ref, []).append(f"{scan.artifact_name}: {reason}")
            self._report.versions_failed += 1
            logger.warning(
                f"registry {scan.ref}: the versions of {scan.artifact_name} "
                f"could not be read: {reason}"
            )
            return [], None
        rows = shape_versions(raw_rows, scan.ref, scan.artifact_name, scan.artifact_type)
        self._report.version_rows += len(rows)
        if self._snapshot:
            rows.append(version_marker(scan.ref, scan.artifact_name, scan.artifact_type))
        return rows, None

    def pending(self, registry_ref: str) -> int:
        """Version lists of the registry wanted in this run and not finished yet."""
        return self._pending[registry_ref]

    def error(self, registry_ref: str) -> str | None:
        """The registry's one-line error when versions of its artifacts could not be read."""
        failed = self._failed.get(registry_ref)
        if not failed:
            return None
        more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
        return (
            f"the versions of {len(failed)} of its artifacts could not be read ({failed[0]}{more}); "
            "the next run reads them again"
        )

    def registry_marker(self, registry_ref: str, read_completely: bool) -> list[Row]:
        """Snapshot mode: the marker that puts a whole registry in the versions merge's scope, so
        that the versions of its deleted artifacts are retired too; only for a registry read
        completely, without row filters, whose every artifact's versions were read completely."""
        if (
            self._snapshot
            and read_completely
            and not self._failed.get(registry_ref)
            and not any(self._options.row_filters().values())
        ):
            return [version_marker(registry_ref)]
        return []


def estimate_seconds(
    requests: int,
    requests_per_minute: float | None,
    concurrency: int,
    mean_answer_seconds: float | None,
) -> float | None:
    """How long `requests` should take: the slower of the rate limit and of the requests' own time
    shared by `concurrency` in flight; None when neither is known.

    Example:
        >>> estimate_seconds(800, 400, 4, 0.1)  # rate-bound: 2 minutes
        120.0
        >>> estimate_seconds(800, None, 4, 0.1)  # latency-bound
        20.0
    """
    bounds = []
    if requests_per_minute:
        bounds.append(requests * 60 / requests_per_minute)
    if mean_answer_seconds:
        bounds.append(requests * mean_answer_seconds / max(concurrency, 1))
    return max(bounds) if bounds else None


def versions_plan(count: int, seconds: float | None, options: SourceOptions) -> str:
    """The line logged before the versions are read."""
    rate = (
        f"{options.requests_per_minute:g} requests a minute"
        if options.requests_per_minute
        else "no rate limit"
    )
    duration = f"about {duration_text(seconds)}" if seconds is not None else "time unknown"
    return (
        f"reading the versions of {count} artifacts: at least {count} requests, {duration} "
        f"at {rate} and {options.concurrency} in flight"
    )


def duration_text(seconds: float) -> str:
    """`45 s`, `12 min`, `2 h 05 min`."""
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    """`versions read: 120/800 artifacts` on one rewritten line, only on a terminal."""

    def __init__(
        self,
        total: int,
        stream: TextIO,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        isatty = getattr(stream, "isatty", None)
        self._enabled = total > 0 and callable(isatty) and bool(isatty())
        self._total = total
        self._stream = stream
        self._interval = interval
        self._clock = clock
        self._done = 0
        self._shown_at: float | None = None

    def step(self) -> None:
        self._done += 1
        if not self._enabled:
            return
        now = self._clock()
        last = self._done >= self._total
        if last or self._shown_at is None or now - self._shown_at >= self._interval:
            self._shown_at = now
            self._stream.write(f"\rversions read: {self._done}/{self._total} artifacts")
            if last:
                self._stream.write("\n")
            self._stream.flush()
