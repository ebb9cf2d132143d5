"""Runs ONE side of one benchmark scenario and prints one JSON line with its figures.

    python -m bench.run_one --side project|anchor --base-url URL --api-key KEY \
        --registry REF [--registry REF ...] --workdir DIR [--page-size 50] [--concurrency 4] \
        [--requests-per-minute 0]

The parent (`python -m bench`) starts it in a fresh process, so the peak RSS read at the end
(`ru_maxrss`) is this side's alone. Wall time covers source construction and `pipeline.run`
(extract, normalize, load); the pipeline's working dir and DuckDB file live in `--workdir`.
Requests and 429s are counted by the parent, from the emulator's request log.

Sides:
- `project`: `harness_registry_source`, loaded by `harness_registry_pipelines.runner.load_source`
  as the CLI loads it (in `parquet` for DuckDB).
- `anchor`: what a dlt user would write instead: dlt's declarative `rest_api` source with its stock
  `PageNumberPaginator`, one resource per registry into one `artifacts` table, merged on the natural
  key (`registry_ref`, `name`), loaded with dlt's default file format for DuckDB.
"""

from __future__ import annotations

import argparse
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
ARTIFACTS_PATH = "/har/api/v1/registry/{ref}/+/artifacts"


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
        "registries": args.registry,
        "api_key": args.api_key,
        "base_url": args.base_url,
        "page_size": args.page_size,
        "concurrency": args.concurrency,
        "requests_per_minute": args.requests_per_minute,
    }
    report, _info = load_source(pipeline, options)
    figures = {
        "client_requests": report.requests,
        "client_throttled": report.throttled,
        "reported_rows_loaded": report.rows_loaded,
        "registry_failures": {r.ref: r.error for r in report.failures},
        "wasted_requests": sum(r.wasted_requests for r in report.registries.values()),
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

    return {
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
    import duckdb

    counts: dict[str, int] = {}
    with duckdb.connect(str(db_path), read_only=True) as connection:
        tables = {
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables where table_schema = ?",
                [DATASET],
            ).fetchall()
        }
        for table in (TABLE, f"{TABLE}__labels"):
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
    started = time.perf_counter()
    try:
        file_format, figures = SIDES[args.side](args, pipeline)
        result["ok"] = True
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        result["traceback"] = traceback.format_exc()[-4000:]
    result["wall_s"] = round(time.perf_counter() - started, 3)
    result["peak_rss_kib"] = peak_rss_kib()
    result["import_rss_kib"] = baseline
    result["steps_s"] = step_seconds(pipeline)
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
    result["label_rows"] = counts.get(f"{TABLE}__labels", 0)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run_one", description=__doc__)
    parser.add_argument("--side", choices=sorted(SIDES), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--registry", action="append", required=True, metavar="REF")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests-per-minute", type=float, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # No telemetry calls to the outside (there is no network here, and they would cost time).
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    result = run(args)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
