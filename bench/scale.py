"""The `scale` scenario: the project alone against many artifacts in many registries.

The emulator's bench account holds `--artifacts` artifacts in `--registries` registries (by
default 1,000,000 in 2,000), found at run time through `--space bench`; the anchor cannot
discover spaces, so only the project runs. For each variant and mode it runs the pipeline
twice in one working folder: a first run that loads everything, then a quiet rerun in which
nothing changed. Variants:

- `real`: every artifact has a real `lastModified` (both modes);
- `zero`: every artifact has Go's zero time as `lastModified`, as the open-source server can
  report (incremental mode by default: snapshot mode keeps no cursor).

A reference size a tenth of the big one (`--artifacts / 10` in `--registries / 10`) runs the
same way, so that memory growth and rows/s can be compared; `--no-scale-reference` skips it.
Each run reports wall time, rows read per second, peak RSS (and per step), requests, and the
size of the pipeline's state: `state.json` in the working folder, the cursors in it, and the
rows of `_dlt_pipeline_state` in DuckDB.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness_emulator import EmulatorProcess

# Targets (from issue 12).
SCALE_MAX_RSS_MIB = 400.0  # peak RSS at the big size, every run
SCALE_MAX_GROWTH = 1.3  # peak RSS big / reference, first run of each mode
SCALE_MAX_STATE_MIB = 4.0  # "within a few MiB": state.json and the latest destination state row
DEFAULT_ARTIFACTS = 1_000_000
DEFAULT_REGISTRIES = 2_000
DEFAULT_PAGE_SIZE = 100
SPACE = "bench"
# A first snapshot run at 1M took 11 minutes on the loaded 2-core machine: a generous limit.
RUN_TIMEOUT_S = 3600
RUNS = ("first", "quiet")


@dataclass(frozen=True)
class ScaleCase:
    """One emulator dataset and the modes run against it."""

    name: str  # scale-1000k-real ...
    size: str  # big | reference
    variant: str  # real | zero
    artifacts: int
    registries: int
    modes: tuple[str, ...]
    page_size: int
    concurrency: int

    def describe(self) -> str:
        times = "Go's zero time" if self.variant == "zero" else "real"
        return (
            f"{self.registries:,} registries found through --space {SPACE}, "
            f"{self.artifacts:,} artifacts with {times} lastModified, page size "
            f"{self.page_size}, concurrency {self.concurrency}, no latency, no limits; "
            f"modes {', '.join(self.modes)}, each a first run and a quiet rerun"
        )


def build_cases(args: Any) -> list[ScaleCase]:
    artifacts = args.artifacts or DEFAULT_ARTIFACTS
    registries = args.registries or DEFAULT_REGISTRIES
    page_size = args.scale_page_size
    sizes = [("big", artifacts, registries)]
    if not args.no_scale_reference:
        sizes.insert(0, ("reference", max(1, artifacts // 10), max(1, registries // 10)))
    zero_modes = tuple(m.strip() for m in args.scale_zero_modes.split(",") if m.strip())
    cases = []
    for size, count, regs in sizes:
        label = f"scale-{count // 1000}k" if count >= 1000 else f"scale-{count}"
        cases.append(
            ScaleCase(
                f"{label}-real",
                size,
                "real",
                count,
                regs,
                ("incremental", "snapshot"),
                page_size,
                args.concurrency,
            )
        )
        if zero_modes:
            zero = ScaleCase(
                f"{label}-zero", size, "zero", count, regs, zero_modes, page_size, args.concurrency
            )
            cases.append(zero)
    return cases


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


def run_case(
    case: ScaleCase,
    run_child: Callable[[list[str], Path, float], tuple[dict[str, Any], float]],
    profile_dir: Path | None = None,
) -> dict[str, Any]:
    """Starts the case's emulator and runs each mode twice in one working folder.

    Args:
        run_child: runs a `bench.run_one` command in a folder (`bench.__main__.run_child`).
        profile_dir: where each run writes its tracemalloc and pyinstrument reports, if given.
    """
    print(f"\n== {case.name}: {case.describe()}", flush=True)
    started = time.perf_counter()
    emulator_started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    with EmulatorProcess(
        scenario="bench",
        bench_registries=case.registries,
        bench_artifacts=case.artifacts,
        bench_zero_time=case.variant == "zero",
        startup_timeout=120.0,
    ) as emulator:
        emulator_start_s = time.perf_counter() - emulator_started
        print(f"   emulator up in {emulator_start_s:.2f} s", flush=True)
        for mode in case.modes:
            with tempfile.TemporaryDirectory(prefix=f"harness-{case.name}-{mode}-") as workdir:
                for run in RUNS:
                    emulator.reset_log()
                    command = [
                        sys.executable,
                        str(Path(__file__).with_name("run_one.py")),
                        "--side",
                        "project",
                        "--base-url",
                        emulator.base_url,
                        "--api-key",
                        emulator.api_key,
                        "--workdir",
                        workdir,
                        "--space",
                        SPACE,
                        "--mode",
                        mode,
                        "--page-size",
                        str(case.page_size),
                        "--concurrency",
                        str(case.concurrency),
                        "--requests-per-minute",
                        "0",
                    ]
                    if profile_dir is not None:
                        stem = profile_dir / f"{case.name}-{mode}-{run}"
                        command += [
                            "--profile-memory",
                            f"{stem}.tracemalloc.txt",
                            "--profile-time",
                            f"{stem}.pyinstrument.txt",
                        ]
                    print(f"   {mode} {run} ...", end=" ", flush=True)
                    result, process_s = run_child(command, Path(workdir), RUN_TIMEOUT_S)
                    result.update(
                        describe_run(case, mode, run, result, process_s, emulator.stats())
                    )
                    status = "ok" if result["ok"] else f"FAILED: {result.get('error', '?')}"
                    print(
                        f"{result.get('wall_s', 0):.1f} s, {result['peak_rss_mib']} MiB, "
                        f"load average {result['load_average']}, {status}",
                        flush=True,
                    )
                    runs.append(result)
    return {
        "scenario": asdict(case),
        "expected_rows": case.artifacts,
        "emulator_start_s": round(emulator_start_s, 2),
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }


def describe_run(
    case: ScaleCase,
    mode: str,
    run: str,
    result: dict[str, Any],
    process_s: float,
    stats: dict[str, Any],
) -> dict[str, Any]:
    wall = result.get("wall_s") or 0
    rows_read = result.get("rows_read") or 0
    rss = result.get("peak_rss_kib")
    return {
        "scenario": case.name,
        "side": "project",
        "mode": mode,
        "run": run,
        "load_average": load_average(),
        "process_s": round(process_s, 3),
        "requests": stats["requests"],
        "by_status": stats["by_status"],
        "throttled": int(stats["by_status"].get("429", 0)),
        # Every run reads every row (the API has no "modified since"): rows read per second.
        "rows_per_s": round(rows_read / wall, 1) if wall else None,
        "peak_rss_mib": round(rss / 1024, 1) if rss else None,
    }


def mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.2f}"


def print_table(blocks: list[dict[str, Any]]) -> None:
    header = (
        f"{'scenario':<18} {'mode':<11} {'run':<5} {'wall s':>7} {'requests':>8} "
        f"{'rows read':>9} {'loaded':>8} {'rows/s':>8} {'RSS MiB':>7} "
        f"{'ext/norm/load MiB':>17} {'state.json':>10} {'dest state':>10} {'zero keys':>9} "
        f"{'load avg':>14}"
    )
    print("\n" + header)
    print("-" * len(header))
    for block in blocks:
        for run in block["runs"]:
            state = run.get("state") or {}
            peaks = run.get("peak_rss_mib_by_step") or {}
            by_step = "/".join(f"{peaks.get(k, 0):.0f}" for k in ("extract", "normalize", "load"))
            print(
                f"{run['scenario']:<18} {run['mode']:<11} {run['run']:<5} "
                f"{run.get('wall_s', 0):>7.1f} {run['requests']:>8} "
                f"{run.get('rows_read', 0):>9} {run.get('reported_rows_loaded', 0):>8} "
                f"{run.get('rows_per_s') or '-':>8} {run.get('peak_rss_mib') or '-':>7} "
                f"{by_step if run.get('ok') else 'FAILED':>17} "
                f"{mib(state.get('state_json_bytes')):>10} "
                f"{mib(state.get('destination_state_latest_bytes')):>10} "
                f"{state.get('zero_time_keys', '-'):>9} {run['load_average']:>14}"
            )
    print(
        "(state.json and dest state in MiB: the working folder's state file, and the newest "
        "of the _dlt_pipeline_state rows in DuckDB, one row added by every run whose state "
        "changed)"
    )


def find_run(
    blocks: list[dict[str, Any]], size: str, variant: str, mode: str, run: str
) -> dict[str, Any] | None:
    for block in blocks:
        scenario = block["scenario"]
        if scenario["size"] != size or scenario["variant"] != variant:
            continue
        for result in block["runs"]:
            if result["mode"] == mode and result["run"] == run and result.get("ok"):
                return result
    return None


def evaluate(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PASS/MISS for issue 12's bounds; a bound whose runs are missing is `n/a`."""
    targets: list[dict[str, Any]] = []

    def add(name: str, passed: bool | None, detail: str) -> None:
        verdict = "n/a" if passed is None else ("PASS" if passed else "MISS")
        targets.append({"target": name, "verdict": verdict, "detail": detail})

    big_blocks = [b for b in blocks if b["scenario"]["size"] == "big"]
    if not big_blocks:
        return targets
    artifacts = big_blocks[0]["scenario"]["artifacts"]
    big_runs = [run for block in big_blocks for run in block["runs"]]
    failed = [f"{r['scenario']} {r['mode']} {r['run']}" for r in big_runs if not r.get("ok")]
    rows_wrong = [
        f"{r['scenario']} {r['mode']} {r['run']}: {r.get('current_rows')}"
        for r in big_runs
        if r.get("ok") and r.get("current_rows") != artifacts
    ]
    add(
        f"scale: every run at {artifacts:,} ok, with every artifact in the table",
        not failed and not rows_wrong,
        "; ".join(failed + rows_wrong) or f"{len(big_runs)} runs",
    )
    peak = max((r["peak_rss_mib"] for r in big_runs if r.get("peak_rss_mib")), default=None)
    add(
        f"scale: peak RSS < {SCALE_MAX_RSS_MIB:g} MiB at {artifacts:,}",
        None if peak is None else peak < SCALE_MAX_RSS_MIB,
        f"highest of {len(big_runs)} runs: {peak} MiB",
    )
    for mode in ("incremental", "snapshot"):
        big = find_run(blocks, "big", "real", mode, "first")
        ref = find_run(blocks, "reference", "real", mode, "first")
        if big and ref:
            growth = big["peak_rss_mib"] / ref["peak_rss_mib"]
            add(
                f"scale: {mode} peak RSS <= {SCALE_MAX_GROWTH}x the 10x-smaller run",
                growth <= SCALE_MAX_GROWTH,
                f"{big['peak_rss_mib']} MiB / {ref['peak_rss_mib']} MiB = {growth:.2f}x",
            )
            add(
                f"scale: {mode} rows/s at {artifacts:,} >= the 10x-smaller run's",
                big["rows_per_s"] >= ref["rows_per_s"],
                f"{big['rows_per_s']:,.0f} vs {ref['rows_per_s']:,.0f} rows/s "
                f"(load average {big['load_average']} vs {ref['load_average']})",
            )
        else:
            add(f"scale: {mode} growth and rows/s vs the 10x-smaller run", None, "no reference")
    for variant in ("real", "zero"):
        sizes = []
        for block in big_blocks:
            if block["scenario"]["variant"] != variant:
                continue
            for run in block["runs"]:
                state = run.get("state") or {}
                if run.get("ok") and run["mode"] == "incremental":
                    sizes.append(
                        max(
                            state.get("state_json_bytes", 0),
                            state.get("destination_state_latest_bytes", 0),
                        )
                    )
        if sizes:
            largest = max(sizes) / 2**20
            add(
                f"scale: state <= {SCALE_MAX_STATE_MIB:g} MiB at {artifacts:,} "
                f"({'zero-time' if variant == 'zero' else 'real'} lastModified)",
                largest <= SCALE_MAX_STATE_MIB,
                f"{largest:.2f} MiB (the larger of state.json and the newest destination state row)",
            )
    return targets


def print_findings(blocks: list[dict[str, Any]]) -> None:
    print()
    for block in blocks:
        name = block["scenario"]["name"]
        print(f"[{name}] emulator start-up {block['emulator_start_s']} s")
        for run in block["runs"]:
            label = f"[{name}] {run['mode']} {run['run']}"
            if not run.get("ok"):
                print(f"{label} FAILED: {run.get('error')}")
                if run.get("stderr_tail"):
                    print("    " + run["stderr_tail"].replace("\n", "\n    "))
                continue
            state = run.get("state") or {}
            print(
                f"{label}: {run.get('registries_read')} registries, "
                f"{run.get('current_rows')} current rows, {run.get('wasted_requests', 0)} "
                f"requests fetched ahead past the end; state: {state.get('cursor_slots')} cursor "
                f"slots, cursors {mib(state.get('cursor_json_bytes'))} MiB of JSON, "
                f"{state.get('destination_state_rows')} state rows in DuckDB totalling "
                f"{mib(state.get('destination_state_bytes'))} MiB"
            )
