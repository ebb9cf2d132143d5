"""Runs ONE side of one benchmark scenario and prints one JSON line with its figures.

    python -m bench.run_one --side project|anchor --base-url URL --api-key KEY \
        --registry REF [--registry REF ...] --workdir DIR [--page-size 50] [--concurrency 4] \
        [--requests-per-minute 0] [--space REF] [--mode incremental|snapshot] [--versions] \
        [--profile-memory FILE] [--profile-time FILE]

The parent (`python -m bench`) starts it in a fresh process, so the peak RSS read at the end
(`ru_maxrss`) is this side's alone. Wall time covers source construction and `pipeline.run`
(extract, normalize, load); the pipeline's working dir and DuckDB file live in `--workdir`.
Requests and 429s are counted by the parent, from the emulator's request log. A second run
with the same `--workdir` is a rerun of the same pipeline (its state, its DuckDB file). The
project side also reports the size of its state (state.json, the cursors in it, and the
`_dlt_pipeline_state` rows in DuckDB), and every side its peak RSS per step, sampled.

Sides:
- `project`: `harness_registry_source`, loaded by `harness_registry_pipelines.runner.load_source`
  as the CLI loads it (in `parquet` for DuckDB).
- `anchor`: what a dlt user would write instead: dlt's declarative `rest_api` source with its stock
  `PageNumberPaginator`, one resource per registry into one `artifacts` table, merged on the natural
  key (`registry_ref`, `name`), loaded with dlt's default file format for DuckDB. With
  `--versions`, also one child resource per registry that reads each artifact's versions
  (`{artifact}` resolved from the parent's rows) into one `artifact_versions` table.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import re
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

DATASET = "harness_registry"
TABLE = "artifacts"
VERSIONS_TABLE = "artifact_versions"
ARTIFACTS_PATH = "/har/api/v1/registry/{ref}/+/artifacts"
VERSIONS_PATH = "/har/api/v1/registry/{ref}/+/artifact/{{artifact}}/+/versions"


def peak_rss_kib() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def resource_name(ref: str) -> str:
    """A resource name for a registry ref: `bench/reg-000-docker` -> `bench_reg_000_docker`."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", ref).strip("_").lower()


# -- the two sides ----------------------------------------------------------------------------


def project_side(args: argparse.Namespace, pipeline: Any) -> tuple[str | None, dict[str, Any]]:
    """Loads with this project's runner, as the CLI does: its file format for the destination."""
    from harness_registry_pipelines.runner import load_source, loader_file_format

    options = {
        "registries": args.registry or [],
        "spaces": args.space or [],
        "mode": args.mode,
        "api_key": args.api_key,
        "base_url": args.base_url,
        "page_size": args.page_size,
        "concurrency": args.concurrency,
        "requests_per_minute": args.requests_per_minute,
        "versions": args.versions,
    }
    report, _info = load_source(pipeline, options)
    figures = {
        "client_requests": report.requests,
        "client_throttled": report.throttled,
        "reported_rows_loaded": report.rows_loaded,
        "rows_read": sum(r.rows_read for r in report.registries.values()),
        "registries_read": len(report.registries),
        "registry_failures": {r.ref: r.error for r in report.failures},
        "wasted_requests": sum(r.wasted_requests for r in report.registries.values()),
        "versions_requested": report.versions_requested,
        "client_version_requests": report.version_requests,
        "reported_version_rows": report.version_rows,
        "versions_failed": report.versions_failed,
        "versions_estimate_s": report.versions_estimate_seconds,
    }
    return loader_file_format(pipeline.destination.destination_name), figures


def anchor_config(args: argparse.Namespace) -> dict[str, Any]:
    """The declarative `rest_api` config a dlt user would write for these registries."""
    from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator

    def tag_with(ref: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def add_registry_ref(row: dict[str, Any]) -> dict[str, Any]:
            row["registry_ref"] = ref
            return row

        return add_registry_ref

    config: dict[str, Any] = {
        "client": {
            "base_url": args.base_url,
            "auth": {
                "type": "api_key",
                "name": "x-api-key",
                "api_key": args.api_key,
                "location": "header",
            },
            "paginator": PageNumberPaginator(
                base_page=0, page_param="page", total_path="data.pageCount"
            ),
        },
        "resource_defaults": {
            "primary_key": ["registry_ref", "name"],
            "write_disposition": "merge",
            "endpoint": {
                "params": {"size": args.page_size, "sort_field": "name", "sort_order": "ASC"},
                "data_selector": "data.artifacts",
            },
        },
        "resources": [
            {
                "name": resource_name(ref),
                "table_name": TABLE,
                "endpoint": {"path": ARTIFACTS_PATH.format(ref=ref)},
                "processing_steps": [{"map": tag_with(ref)}],
            }
            for ref in args.registry
        ],
    }
    if args.versions:
        add_versions_resources(config, args)
    return config


def add_versions_resources(config: dict[str, Any], args: argparse.Namespace) -> None:
    """What a dlt user would add to read every artifact's versions: a child resource per
    registry whose path resolves `{artifact}` from its parent's rows, with the same stock
    paginator, merged on (`registry_ref`, `artifact_name`, `name`).

    Both levels are `parallelized`: without it dlt reads the child's lists one after the
    other, one request at a time. The artifact name goes into the path URL-encoded (a Docker
    name holds a `/`), and rest_api puts a resolved value in the path as it is, so the parent
    rows carry an encoded copy (`name_in_path`, a column of `artifacts` too).
    """
    from urllib.parse import quote

    def with_name_in_path(row: dict[str, Any]) -> dict[str, Any]:
        row["name_in_path"] = quote(str(row["name"]), safe="")
        return row

    def tag_version_with(ref: str, parent: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def add_keys(row: dict[str, Any]) -> dict[str, Any]:
            row["registry_ref"] = ref
            row["artifact_name"] = row.pop(f"_{parent}_name")
            return row

        return add_keys

    for parent_resource in list(config["resources"]):
        parent_resource["processing_steps"].append({"map": with_name_in_path})
        parent_resource["parallelized"] = True
    for ref in args.registry:
        parent = resource_name(ref)
        config["resources"].append(
            {
                "name": f"{parent}_versions",
                "table_name": VERSIONS_TABLE,
                "primary_key": ["registry_ref", "artifact_name", "name"],
                "parallelized": True,
                "endpoint": {
                    "path": VERSIONS_PATH.format(ref=ref),
                    "params": {
                        "artifact": {
                            "type": "resolve",
                            "resource": parent,
                            "field": "name_in_path",
                        },
                        "size": args.page_size,
                        "sort_field": "name",
                        "sort_order": "ASC",
                    },
                    "data_selector": "data.artifactVersions",
                },
                "include_from_parent": ["name"],
                "processing_steps": [{"map": tag_version_with(ref, parent)}],
            }
        )


def anchor_side(args: argparse.Namespace, pipeline: Any) -> tuple[str | None, dict[str, Any]]:
    """dlt's `rest_api` source, loaded in dlt's default file format (its stock behaviour)."""
    from dlt.sources.helpers.rest_client.paginators import PageNumberPaginator
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(anchor_config(args), name="harness_registry_rest_api")
    pipeline.run(source)
    default = inspect.signature(PageNumberPaginator).parameters["stop_after_empty_page"].default
    return None, {"paginator_stop_after_empty_page_default": default}


SIDES = {"project": project_side, "anchor": anchor_side}


# -- one run ----------------------------------------------------------------------------------


def count_rows(db_path: Path) -> dict[str, int]:
    """Rows of `artifacts` and its labels table; in a snapshot (scd2) table, the current ones."""
    import duckdb

    counts: dict[str, int] = {}
    with duckdb.connect(str(db_path), read_only=True) as connection:
        columns = {
            name
            for (name,) in connection.execute(
                "select column_name from information_schema.columns "
                "where table_schema = ? and table_name = ?",
                [DATASET, TABLE],
            ).fetchall()
        }
        if "_dlt_valid_to" in columns:
            (current,) = connection.execute(
                f'select count(*) from {DATASET}."{TABLE}" where _dlt_valid_to is null'
            ).fetchone()
            counts["current"] = int(current)
        tables = {
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [DATASET],
            ).fetchall()
        }
        for table in (TABLE, f"{TABLE}__labels", VERSIONS_TABLE):
            if table in tables:
                (count,) = connection.execute(
                    f'select count(*) from {DATASET}."{table}"'
                ).fetchone()
                counts[table] = int(count)
    return counts


def step_seconds(pipeline: Any) -> dict[str, float]:
    """Seconds spent in each step of the last run (extract, normalize, load)."""
    trace = pipeline.last_trace
    if trace is None:
        return {}
    steps: dict[str, float] = {}
    for step in trace.steps:
        if step.started_at is not None and step.finished_at is not None:
            seconds = (step.finished_at - step.started_at).total_seconds()
            steps[step.step] = round(steps.get(step.step, 0.0) + seconds, 3)
    return steps


def state_figures(pipeline: Any, db_path: Path) -> dict[str, Any]:
    """How big the pipeline's state is: the working folder's state.json, the cursors in it, and
    the state rows dlt keeps in the destination (`_dlt_pipeline_state`, one per changed state)."""
    import duckdb

    figures: dict[str, Any] = {}
    state_file = Path(pipeline.working_dir) / "state.json"
    if state_file.exists():
        figures["state_json_bytes"] = state_file.stat().st_size
    state = pipeline.state
    sources = state.get("sources", {})
    resources = sources.get("harness_registry", {}).get("resources", {})
    cursors = resources.get("artifacts", {}).get("cursors", {})
    figures["cursor_slots"] = len(cursors)
    figures["cursor_json_bytes"] = len(json.dumps(cursors, default=str))
    figures["boundary_keys"] = sum(len(slot.get("boundary_keys", [])) for slot in cursors.values())
    figures["zero_time_keys"] = sum(
        len(slot.get("zero_time_keys", [])) for slot in cursors.values()
    )
    try:
        with duckdb.connect(str(db_path), read_only=True) as connection:
            row = connection.execute(
                f"select count(*), sum(length(state)), max(length(state)) "
                f"from {DATASET}._dlt_pipeline_state"
            ).fetchone()
            latest = connection.execute(
                f"select length(state) from {DATASET}._dlt_pipeline_state "
                "order by _dlt_load_id desc limit 1"
            ).fetchone()
        figures["destination_state_rows"] = int(row[0])
        figures["destination_state_bytes"] = int(row[1] or 0)
        figures["destination_state_latest_bytes"] = int(latest[0]) if latest else 0
    except Exception as exc:  # a run that loaded nothing has no such table yet
        figures["destination_state_error"] = f"{type(exc).__name__}: {exc}"[:300]
    return figures


class RssSampler:
    """Samples this process's resident set size in a thread, so that the peak of each step
    (extract, normalize, load) can be told apart after the run."""

    def __init__(self, interval_s: float = 0.25) -> None:
        import threading

        self._interval = interval_s
        self._stop = threading.Event()
        self.samples: list[tuple[float, int]] = []
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._page_kib = os.sysconf("SC_PAGE_SIZE") // 1024

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import datetime as dt

        statm = Path("/proc/self/statm")
        while not self._stop.is_set():
            try:
                resident = int(statm.read_text().split()[1]) * self._page_kib
            except (OSError, ValueError, IndexError):
                return
            self.samples.append((dt.datetime.now(dt.UTC).timestamp(), resident))
            self._stop.wait(self._interval)

    def peaks_by_step(self, pipeline: Any) -> dict[str, float]:
        """Peak RSS (MiB) sampled within each step of the last run."""
        trace = pipeline.last_trace
        peaks: dict[str, float] = {}
        if trace is None:
            return peaks
        for step in trace.steps:
            if step.started_at is None or step.finished_at is None:
                continue
            start, end = step.started_at.timestamp(), step.finished_at.timestamp()
            inside = [kib for when, kib in self.samples if start <= when <= end]
            if inside:
                peaks[step.step] = round(max(max(inside) / 1024, peaks.get(step.step, 0.0)), 1)
        return peaks


class MemoryProfile:
    """tracemalloc snapshots at the traced peak (sampled), written as the top allocation sites."""

    def __init__(self, path: Path, frames: int = 12, interval_s: float = 1.0) -> None:
        import threading

        self._path = path
        self._frames = frames
        self._interval = interval_s
        self._stop = threading.Event()
        self._best: Any = None
        self._best_size = 0
        self._best_at = 0.0
        self._started = 0.0
        self._thread = threading.Thread(target=self._run, name="tracemalloc", daemon=True)

    def __enter__(self) -> MemoryProfile:
        import tracemalloc

        tracemalloc.start(self._frames)
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import tracemalloc

        self._stop.set()
        self._thread.join()
        self._sample()
        tracemalloc.stop()
        self._write()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        import tracemalloc

        current, _peak = tracemalloc.get_traced_memory()
        # A snapshot costs time: take one only when clearly above the best so far.
        if current > self._best_size * 1.05:
            snapshot = tracemalloc.take_snapshot()
            self._best, self._best_size = snapshot, current
            self._best_at = time.perf_counter() - self._started

    def _write(self) -> None:
        import tracemalloc

        if self._best is None:
            return
        snapshot = self._best.filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<*")]
        )
        lines = [
            f"traced memory at its sampled peak: {self._best_size / 2**20:.1f} MiB, "
            f"{self._best_at:.1f} s into the run",
            "",
            "== top 40 by line ==",
        ]
        for stat in snapshot.statistics("lineno")[:40]:
            lines.append(f"{stat.size / 2**20:8.1f} MiB {stat.count:>9} blocks  {stat.traceback}")
        lines += ["", "== top 15 by traceback =="]
        for stat in snapshot.statistics("traceback")[:15]:
            lines.append(f"{stat.size / 2**20:8.1f} MiB {stat.count:>9} blocks")
            lines += [f"      {line}" for line in stat.traceback.format()[-2 * self._frames :]]
        self._path.write_text("\n".join(lines) + "\n")


def step_windows(pipeline: Any) -> dict[str, list[float]]:
    """Each step's [start, end] in epoch seconds, to line up with the emulator's request log."""
    trace = pipeline.last_trace
    windows: dict[str, list[float]] = {}
    if trace is None:
        return windows
    for step in trace.steps:
        if step.started_at is not None and step.finished_at is not None:
            windows[step.step] = [step.started_at.timestamp(), step.finished_at.timestamp()]
    return windows


def run(args: argparse.Namespace) -> dict[str, Any]:
    import dlt

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / f"{args.side}.duckdb"
    result: dict[str, Any] = {"side": args.side, "ok": False}
    baseline = peak_rss_kib()
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{args.side}",
        destination=dlt.destinations.duckdb(str(db_path)),
        dataset_name=DATASET,
        pipelines_dir=str(workdir / "pipelines"),
        progress=None,
    )
    figures: dict[str, Any] = {}
    file_format: str | None = None
    profilers = contextlib.ExitStack()
    sampler = profilers.enter_context(RssSampler())
    if args.profile_memory:
        profilers.enter_context(MemoryProfile(Path(args.profile_memory)))
    time_profiler = None
    if args.profile_time:
        from pyinstrument import Profiler

        time_profiler = Profiler(interval=0.005)
        time_profiler.start()
    result["started_at"] = time.time()
    started = time.perf_counter()
    with profilers:
        try:
            file_format, figures = SIDES[args.side](args, pipeline)
            result["ok"] = True
        except Exception as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            result["traceback"] = traceback.format_exc()[-4000:]
        result["wall_s"] = round(time.perf_counter() - started, 3)
    if time_profiler is not None:
        time_profiler.stop()
        target = Path(args.profile_time)
        target.write_text(time_profiler.output_text(unicode=False, color=False, show_all=False))
        # Every frame, dlt's included, for reading where time goes inside dlt.
        target.with_suffix(".all.txt").write_text(
            time_profiler.output_text(unicode=False, color=False, show_all=True)
        )
    result["peak_rss_kib"] = peak_rss_kib()
    result["peak_rss_mib_by_step"] = sampler.peaks_by_step(pipeline)
    result["import_rss_kib"] = baseline
    result["steps_s"] = step_seconds(pipeline)
    result["step_windows"] = step_windows(pipeline)
    capabilities = pipeline.destination.capabilities()
    result["loader_file_format"] = file_format or capabilities.preferred_loader_file_format
    result["loader_file_format_source"] = "explicit" if file_format else "dlt default"
    result.update(figures)
    try:
        counts = count_rows(db_path)
    except Exception as exc:
        counts = {}
        result.setdefault("error", f"counting rows failed: {exc}")
    result["rows"] = counts.get(TABLE, 0)
    result["current_rows"] = counts.get("current", result["rows"])
    result["label_rows"] = counts.get(f"{TABLE}__labels", 0)
    result["version_rows"] = counts.get(VERSIONS_TABLE, 0)
    if args.side == "project":
        result["state"] = state_figures(pipeline, db_path)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run_one", description=__doc__)
    parser.add_argument("--side", choices=sorted(SIDES), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--registry", action="append", metavar="REF")
    parser.add_argument(
        "--space", action="append", metavar="REF", help="project side: registries found here"
    )
    parser.add_argument("--mode", choices=("incremental", "snapshot"), default="incremental")
    parser.add_argument(
        "--versions", action="store_true", help="also read every artifact's versions"
    )
    parser.add_argument(
        "--workdir", required=True, help="DuckDB file and pipelines dir; reuse it for a rerun"
    )
    parser.add_argument("--profile-memory", metavar="FILE", help="tracemalloc top sites")
    parser.add_argument("--profile-time", metavar="FILE", help="pyinstrument call tree")
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests-per-minute", type=float, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.registry and not (args.space and args.side == "project"):
        parser.error("give --registry (or --space, project side only)")
    # No telemetry calls to the outside (there is no network here, and they would cost time).
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    result = run(args)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
