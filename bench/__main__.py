"""`python -m bench`: this project against dlt's stock `rest_api` source, side by side.

For each scenario it starts the emulator (`harness_emulator`, bench dataset) with the scenario's
latency and rate limit, then runs each side in a fresh subprocess (`bench.run_one`) against that same
emulator, one after the other, each with a fresh DuckDB file and pipelines dir. It prints wall time,
requests, 429s, rows, rows/s and peak RSS per side, the ratios, PASS/MISS per target (exit code 0
either way: this is a benchmark, not a test), and writes everything to bench/results/latest.json.
The `scale` scenario (project only, registries found through a space) lives in `bench.scale`,
the `versions` scenario (a versions backfill against latency, then reruns) in `bench.versions`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import scale as scale_bench
from bench import versions as versions_bench
from bench.census import ARTIFACTS_PREFIX, ARTIFACTS_SUFFIX, page_census
from harness_emulator import EmulatorProcess

REPO_ROOT = Path(__file__).resolve().parent.parent

RESULTS_PATH = REPO_ROOT / "bench" / "results" / "latest.json"
SIDES = ("project", "anchor")
CHILD_TIMEOUT_S = 900
PROBE_REQUESTS = 5
_WARNED: dict[str, bool] = {}
PROBE_WARN_MS = 20.0
PROBE_WARNING = (
    "the emulator adds tens of ms to a keep-alive request. Its sockets keep Nagle's algorithm on "
    "(Go's net/http, the real server, sets TCP_NODELAY), so the body waits behind the headers "
    "for the client's delayed ACK (~40 ms) whenever the connection is reused quickly: a pooled, "
    "concurrent client pays it on most requests, a round-robin sequential one mostly does not. "
    "Fix in the emulator: `disable_nagle_algorithm = True` on its request handler."
)

# Targets (from the issue).
LATENCY_MAX_RATIO = 0.4  # project wall / anchor wall
LATENCY_MAX_FACTOR = 1.3  # wall <= 1.3 * requests * latency / concurrency + start-up and load
RATE_MAX_429 = 3
RATE_MAX_FACTOR = 1.3  # wall <= 1.3 * requests / rate + start-up
MEMORY_MAX_MIB = 512.0  # peak RSS at 100k artifacts
MEMORY_MAX_GROWTH = 1.5  # peak RSS at 100k / peak RSS at 10k


@dataclass(frozen=True)
class Scenario:
    name: str
    group: str  # latency | rate | memory
    registries: int
    artifacts: int
    latency_ms: float
    server_rate: int  # requests a minute the emulator allows; 0 = no limit
    client_rate: float  # the project's requests_per_minute; 0 = no limit
    page_size: int
    concurrency: int

    def describe(self) -> str:
        server = f"{self.server_rate}/min" if self.server_rate else "none"
        client = f"{self.client_rate:g}/min" if self.client_rate else "none"
        return (
            f"{self.registries} registries, {self.artifacts:,} artifacts, page size "
            f"{self.page_size}, latency {self.latency_ms:g} ms, server limit {server}, "
            f"project client limit {client}, project concurrency {self.concurrency}"
        )


def build_scenarios(args: argparse.Namespace) -> list[Scenario]:
    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    common = {"page_size": args.page_size, "concurrency": args.concurrency}
    latency = Scenario(
        name="latency",
        group="latency",
        registries=pick(args.registries, 8),
        artifacts=pick(args.artifacts, 8000),
        latency_ms=pick(args.latency_ms, 100.0),
        server_rate=0,
        client_rate=0,
        **common,
    )
    rate = Scenario(
        name="rate",
        group="rate",
        registries=pick(args.registries, 8),
        # 8 registries x 1,000 artifacts at page size 50: about 170 requests, about 17 s a side
        # at 600/min.
        artifacts=pick(args.artifacts, 8000),
        latency_ms=args.rate_latency_ms,
        server_rate=args.rate,
        client_rate=pick(args.client_rate, float(args.rate)),
        **common,
    )
    memory_big = Scenario(
        name="memory-100k",
        group="memory",
        registries=pick(args.registries, 10),
        artifacts=pick(args.artifacts, 100_000),
        latency_ms=0.0,
        server_rate=0,
        client_rate=0,
        **common,
    )
    memory_small = replace(
        memory_big,
        name="memory-10k",
        artifacts=max(memory_big.registries, memory_big.artifacts // 10),
    )
    chosen = {
        "latency": [latency],
        "rate": [rate],
        "memory": [memory_small, memory_big],
    }
    if args.scenario == "all":
        return [latency, rate, memory_small, memory_big]
    return chosen[args.scenario]


# -- machine ------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    import dlt
    import duckdb

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    # Uncommitted changes to the code under test make the figures those of the work tree.
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "sources", "pipelines", "harness_emulator"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "dlt": dlt.__version__,
        "duckdb": duckdb.__version__,
        "commit": commit or None,
        "uncommitted_changes": bool(dirty),
    }


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, {info['os']}; "
        f"Python {info['python']}, dlt {info['dlt']}, duckdb {info['duckdb']}; "
        f"commit {info['commit']}{' + uncommitted changes' if info['uncommitted_changes'] else ''}"
    )


# -- running one side ---------------------------------------------------------------------------


def run_side(
    emulator: EmulatorProcess,
    scenario: Scenario,
    side: str,
    refs: list[str],
    data_pages: dict[str, int],
) -> dict[str, Any]:
    if scenario.server_rate:
        # Refills the emulator's token bucket, so each side starts from the same state.
        emulator.set_config(rate_limit_per_minute=scenario.server_rate)
    emulator.reset_log()
    with tempfile.TemporaryDirectory(prefix=f"harness-bench-{scenario.name}-{side}-") as workdir:
        command = [
            sys.executable,
            str(Path(__file__).with_name("run_one.py")),
            "--side",
            side,
            "--base-url",
            emulator.base_url,
            "--api-key",
            emulator.api_key,
            "--workdir",
            workdir,
            "--page-size",
            str(scenario.page_size),
            "--concurrency",
            str(scenario.concurrency),
            "--requests-per-minute",
            str(scenario.client_rate if side == "project" else 0),
        ]
        for ref in refs:
            command += ["--registry", ref]
        result, process_s = run_child(command, Path(workdir))
    result.setdefault("side", side)
    stats = emulator.stats()
    census = page_census(emulator.requests_log(), data_pages, scenario.page_size)
    result["scenario"] = scenario.name
    result["process_s"] = round(process_s, 3)
    result["requests"] = stats["requests"]
    result["by_status"] = stats["by_status"]
    result["throttled"] = int(stats["by_status"].get("429", 0))
    result.update(census)
    wall = result.get("wall_s") or 0
    rows = result.get("rows") or 0
    result["rows_per_s"] = round(rows / wall, 1) if wall else None
    rss = result.get("peak_rss_kib")
    result["peak_rss_mib"] = round(rss / 1024, 1) if rss else None
    return result


def run_child(
    command: list[str], workdir: Path, timeout_s: float = CHILD_TIMEOUT_S
) -> tuple[dict[str, Any], float]:
    """Runs `bench.run_one` in `workdir`; its result line (or why there is none) and its time."""
    env = dict(os.environ)
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    started = time.perf_counter()
    try:
        child = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        stdout, stderr, returncode = child.stdout, child.stderr, child.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout if isinstance(exc.stdout, str) else ""
        stderr = f"timed out after {timeout_s:g}s"
        returncode = None
    process_s = time.perf_counter() - started
    result: dict[str, Any] = {"ok": False}
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if lines:
        result.update(json.loads(lines[-1]))
    else:
        result["error"] = f"no result line (exit {returncode}): {stderr.strip()[-1500:]}"
    if not result["ok"]:
        result.setdefault("stderr_tail", stderr.strip()[-1500:])
    return result, process_s


def probe_overhead(emulator: EmulatorProcess, ref: str, scenario: Scenario) -> dict[str, Any]:
    """Times a few sequential requests on one keep-alive connection: what the emulator adds to
    its configured latency. Sent before the sides' request logs are reset, so never counted."""
    import requests

    url = f"{emulator.base_url}{ARTIFACTS_PREFIX}{ref}{ARTIFACTS_SUFFIX}"
    times = []
    with requests.Session() as session:
        for page in range(PROBE_REQUESTS):
            started = time.perf_counter()
            response = session.get(
                url,
                params={"page": page, "size": scenario.page_size},
                headers={"x-api-key": emulator.api_key},
                timeout=30,
            )
            _ = response.content
            times.append((time.perf_counter() - started) * 1000)
    median = statistics.median(times)
    return {
        "requests": len(times),
        "median_ms": round(median, 1),
        "overhead_ms": round(median - scenario.latency_ms, 1),
    }


def run_scenario(scenario: Scenario, sides: list[str]) -> dict[str, Any]:
    print(f"\n== {scenario.name}: {scenario.describe()}", flush=True)
    started = time.perf_counter()
    with EmulatorProcess(
        scenario="bench",
        bench_registries=scenario.registries,
        bench_artifacts=scenario.artifacts,
        latency_ms=scenario.latency_ms,
        rate_limit_per_minute=scenario.server_rate or None,
        startup_timeout=120.0,
    ) as emulator:
        truth = emulator.dataset()
        registries = truth["registries"]
        refs = [registry["path"] for registry in registries]
        size = scenario.page_size
        data_pages = {r["path"]: math.ceil(r["artifactCount"] / size) for r in registries}
        claimed_pages = {r["path"]: math.ceil(r["itemCount"] / size) for r in registries}
        expected_rows = sum(r["artifactCount"] for r in registries)
        del truth
        probe = probe_overhead(emulator, refs[0], scenario)
        print(
            f"   probe: {probe['median_ms']:.1f} ms a request on one keep-alive connection "
            f"({probe['overhead_ms']:+.1f} ms over the configured latency)",
            flush=True,
        )
        if probe["overhead_ms"] > PROBE_WARN_MS:
            warned = _WARNED.get("probe", False)
            _WARNED["probe"] = True
            text = "the emulator's Nagle stall again (see above)" if warned else PROBE_WARNING
            print(f"   WARNING: {text}", flush=True)
        runs = []
        for side in sides:
            print(f"   {side} ...", end=" ", flush=True)
            result = run_side(emulator, scenario, side, refs, data_pages)
            status = "ok" if result["ok"] else f"FAILED: {result.get('error', '?')}"
            print(f"{result.get('wall_s', 0):.1f} s, {status}", flush=True)
            runs.append(result)
    return {
        "scenario": asdict(scenario),
        "expected_rows": expected_rows,
        "data_pages": sum(data_pages.values()),
        "pages_claimed_by_page_count": sum(claimed_pages.values()),
        "overstating_registries": sum(
            1 for ref in refs if claimed_pages[ref] > max(data_pages[ref], 1)
        ),
        "probe": probe,
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }


# -- report -------------------------------------------------------------------------------------


def side_of(block: dict[str, Any], side: str) -> dict[str, Any] | None:
    for run in block["runs"]:
        if run["side"] == side and run.get("ok"):
            return run
    return None


def print_table(blocks: list[dict[str, Any]]) -> None:
    header = (
        f"{'scenario':<12} {'side':<8} {'wall s':>8} {'requests':>9} {'429s':>5} "
        f"{'empty pg':>8} {'rows':>8} {'rows/s':>9} {'peak RSS MiB':>13}  "
        f"{'extract/normalize/load s':<24}"
    )
    print("\n" + header)
    print("-" * len(header))
    for block in blocks:
        for run in block["runs"]:
            steps = run.get("steps_s") or {}
            phases = "/".join(f"{steps.get(k, 0):.1f}" for k in ("extract", "normalize", "load"))
            if not run.get("ok"):
                phases = "FAILED"
            rows_per_s = run.get("rows_per_s")
            print(
                f"{run['scenario']:<12} {run['side']:<8} {run.get('wall_s', 0):>8.2f} "
                f"{run['requests']:>9} {run['throttled']:>5} {run['empty_pages']:>8} "
                f"{run.get('rows', 0):>8} {rows_per_s if rows_per_s is not None else '-':>9} "
                f"{run.get('peak_rss_mib') or '-':>13}  {phases:<24}"
            )


def evaluate(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ratios and PASS/MISS per target; a target whose runs are missing is `n/a`."""
    by_name = {block["scenario"]["name"]: block for block in blocks}
    targets: list[dict[str, Any]] = []

    def add(name: str, passed: bool | None, detail: str) -> None:
        verdict = "n/a" if passed is None else ("PASS" if passed else "MISS")
        targets.append({"target": name, "verdict": verdict, "detail": detail})

    block = by_name.get("latency")
    if block:
        project, anchor = side_of(block, "project"), side_of(block, "anchor")
        if project and anchor:
            ratio = project["wall_s"] / anchor["wall_s"]
            block["wall_ratio"] = round(ratio, 3)
            add(
                f"latency: project wall <= {LATENCY_MAX_RATIO}x anchor",
                ratio <= LATENCY_MAX_RATIO,
                f"{project['wall_s']:.2f} s / {anchor['wall_s']:.2f} s = {ratio:.3f}x",
            )
        else:
            add(f"latency: project wall <= {LATENCY_MAX_RATIO}x anchor", None, "a side failed")
        floor_target = (
            f"latency: project wall <= {LATENCY_MAX_FACTOR} x requests x latency / concurrency "
            "+ start-up and load"
        )
        if project:
            scenario = block["scenario"]
            floor = project["requests"] * scenario["latency_ms"] / 1000 / scenario["concurrency"]
            # What does not wait on the network: the run outside its extract step.
            fixed = max(0.0, project["wall_s"] - project.get("steps_s", {}).get("extract", 0.0))
            budget = LATENCY_MAX_FACTOR * floor + fixed
            block["latency_floor_s"] = round(floor, 2)
            block["extract_over_floor"] = round((project["wall_s"] - fixed) / floor, 3)
            add(
                floor_target,
                project["wall_s"] <= budget,
                f"{project['wall_s']:.2f} s vs {LATENCY_MAX_FACTOR} x {floor:.2f} s "
                f"({project['requests']} requests x {scenario['latency_ms']:g} ms / "
                f"{scenario['concurrency']}) + {fixed:.2f} s outside extract = {budget:.2f} s "
                f"(extract {block['extract_over_floor']:.2f}x the floor)",
            )
        else:
            add(floor_target, None, "project side failed")

    block = by_name.get("rate")
    if block:
        project = side_of(block, "project")
        anchor = side_of(block, "anchor")
        rate = block["scenario"]["server_rate"]
        if project and rate:
            ideal = project["requests"] / (rate / 60.0)
            startup = max(0.0, project["wall_s"] - project.get("steps_s", {}).get("extract", 0.0))
            budget = RATE_MAX_FACTOR * ideal + startup
            block["requests_over_rate_s"] = round(ideal, 2)
            block["startup_s"] = round(startup, 2)
            block["wall_over_ideal"] = round(project["wall_s"] / ideal, 3)
            add(
                f"rate: project 429s <= {RATE_MAX_429}",
                project["throttled"] <= RATE_MAX_429,
                f"{project['throttled']} answers of 429 in {project['requests']} requests",
            )
            add(
                f"rate: project wall <= {RATE_MAX_FACTOR} x requests/rate + start-up",
                project["wall_s"] <= budget,
                f"{project['wall_s']:.2f} s vs {RATE_MAX_FACTOR} x {ideal:.2f} s "
                f"({project['requests']} requests at {rate}/min) + {startup:.2f} s start-up "
                f"(wall outside extract) = {budget:.2f} s",
            )
            if anchor:
                block["anchor_wall_over_project"] = round(anchor["wall_s"] / project["wall_s"], 3)
        else:
            add(f"rate: project 429s <= {RATE_MAX_429}", None, "project side failed")
            add(f"rate: project wall <= {RATE_MAX_FACTOR} x requests/rate", None, "")

    small, big = by_name.get("memory-10k"), by_name.get("memory-100k")
    if big:
        project = side_of(big, "project")
        anchor = side_of(big, "anchor")
        small_project = side_of(small, "project") if small else None
        artifacts = big["scenario"]["artifacts"]
        if project:
            add(
                f"memory: project peak RSS < {MEMORY_MAX_MIB:g} MiB at {artifacts:,}",
                project["peak_rss_mib"] < MEMORY_MAX_MIB,
                f"{project['peak_rss_mib']} MiB",
            )
        else:
            add(f"memory: project peak RSS < {MEMORY_MAX_MIB:g} MiB", None, "project side failed")
        if project and small_project:
            growth = project["peak_rss_mib"] / small_project["peak_rss_mib"]
            big["rss_growth"] = round(growth, 3)
            add(
                f"memory: project peak RSS <= {MEMORY_MAX_GROWTH}x the 10x-smaller run",
                growth <= MEMORY_MAX_GROWTH,
                f"{project['peak_rss_mib']} MiB / {small_project['peak_rss_mib']} MiB "
                f"= {growth:.2f}x",
            )
        else:
            add(f"memory: project peak RSS <= {MEMORY_MAX_GROWTH}x the 10k run", None, "")
        if project and anchor:
            ratio = project["rows_per_s"] / anchor["rows_per_s"]
            big["rows_per_s_ratio"] = round(ratio, 3)
            add(
                "memory: project rows/s >= anchor rows/s",
                ratio >= 1.0,
                f"{project['rows_per_s']:,.0f} vs {anchor['rows_per_s']:,.0f} rows/s "
                f"= {ratio:.2f}x",
            )
        else:
            add("memory: project rows/s >= anchor rows/s", None, "a side failed")
    return targets


def print_findings(blocks: list[dict[str, Any]]) -> None:
    print()
    for block in blocks:
        name = block["scenario"]["name"]
        runs = {run["side"]: run for run in block["runs"]}
        for side, run in runs.items():
            if not run.get("ok"):
                print(f"[{name}] {side} FAILED: {run.get('error')}")
                if run.get("stderr_tail"):
                    print("    " + run["stderr_tail"].replace("\n", "\n    "))
            if run.get("rows") not in (None, block["expected_rows"]) and run.get("ok"):
                print(
                    f"[{name}] {side} loaded {run['rows']} rows, expected {block['expected_rows']}"
                )
        if "wall_ratio" in block:
            print(f"[{name}] wall time project/anchor: {block['wall_ratio']:.3f}x")
        if "requests_over_rate_s" in block:
            print(
                f"[{name}] project: requests/rate {block['requests_over_rate_s']:.2f} s, "
                f"start-up {block['startup_s']:.2f} s, wall/(requests/rate) "
                f"{block['wall_over_ideal']:.2f}x"
            )
        if "anchor_wall_over_project" in block:
            print(f"[{name}] anchor wall / project wall: {block['anchor_wall_over_project']:.2f}x")
        if "rss_growth" in block:
            print(
                f"[{name}] project peak RSS growth over the 10x-smaller run: {block['rss_growth']}x"
            )
        if "rows_per_s_ratio" in block:
            print(f"[{name}] project rows/s / anchor rows/s: {block['rows_per_s_ratio']:.2f}x")
        anchor = runs.get("anchor")
        if anchor and anchor.get("ok"):
            stop_default = anchor.get("paginator_stop_after_empty_page_default")
            print(
                f"[{name}] anchor: {anchor['empty_pages']} empty-page request(s); "
                f"PageNumberPaginator(stop_after_empty_page={stop_default}) stops at the first "
                f"empty page, so it does not follow the overstated pageCount "
                f"({block['pages_claimed_by_page_count']} pages claimed, "
                f"{block['data_pages']} with rows, {block['overstating_registries']} of "
                f"{block['scenario']['registries']} registries overstate); "
                f"file format {anchor.get('loader_file_format')} "
                f"({anchor.get('loader_file_format_source')})"
            )
        project = runs.get("project")
        if project and project.get("ok"):
            print(
                f"[{name}] project: {project['empty_pages']} empty-page request(s) "
                f"({project.get('wasted_requests', 0)} fetched ahead past the end and discarded); "
                f"file format {project.get('loader_file_format')}"
            )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--scenario",
        choices=("latency", "rate", "memory", "scale", "versions", "all"),
        default="all",
    )
    parser.add_argument("--registries", type=int, help="registries (every chosen scenario)")
    parser.add_argument(
        "--artifacts",
        type=int,
        help="artifacts (every chosen scenario; memory also runs a tenth of it)",
    )
    parser.add_argument(
        "--latency-ms", type=float, help="latency and versions scenarios' latency (100)"
    )
    parser.add_argument("--rate", type=int, default=600, help="rate scenario's server limit/min")
    parser.add_argument(
        "--client-rate", type=float, help="rate scenario's project client limit/min (= --rate)"
    )
    parser.add_argument(
        "--rate-latency-ms", type=float, default=0.0, help="rate scenario's latency (0)"
    )
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4, help="the project's concurrency")
    parser.add_argument("--sides", default="project,anchor", help="comma-separated sides")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="results JSON")
    scale = parser.add_argument_group(
        "scale scenario",
        "project only, registries found through --space; --artifacts and --registries default "
        f"to {scale_bench.DEFAULT_ARTIFACTS:,} and {scale_bench.DEFAULT_REGISTRIES:,} there",
    )
    scale.add_argument(
        "--no-scale-reference",
        action="store_true",
        help="skip the 10x-smaller reference run (no growth and rows/s targets)",
    )
    scale.add_argument(
        "--scale-zero-modes",
        default="incremental",
        help="modes of the zero-time variant, comma-separated; empty to skip it",
    )
    scale.add_argument("--scale-page-size", type=int, default=scale_bench.DEFAULT_PAGE_SIZE)
    versions = parser.add_argument_group(
        "versions scenario",
        "project (first run, quiet rerun, rerun after changes) and anchor (first run); "
        f"--artifacts and --registries default to {versions_bench.DEFAULT_ARTIFACTS:,} and "
        f"{versions_bench.DEFAULT_REGISTRIES} there",
    )
    versions.add_argument(
        "--versions-deep-every",
        type=int,
        default=versions_bench.DEFAULT_DEEP_EVERY,
        help="one artifact in N has versions over several pages (0: none)",
    )
    versions.add_argument(
        "--versions-deep-versions",
        type=int,
        default=versions_bench.DEFAULT_DEEP_VERSIONS,
        help="the most versions of such an artifact (it has N/4, N/2, 3N/4 or N)",
    )
    versions.add_argument(
        "--versions-changed",
        type=int,
        default=versions_bench.DEFAULT_CHANGED,
        help="artifacts that gain a version before the last rerun (0: no such rerun)",
    )
    scale.add_argument(
        "--profile-dir",
        type=Path,
        help="scale: each run writes tracemalloc and pyinstrument reports here (slower)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sides = [side.strip() for side in args.sides.split(",") if side.strip()]
    unknown = set(sides) - set(SIDES)
    if unknown or not sides:
        parser.error(f"--sides takes {','.join(SIDES)}, got {args.sides!r}")
    machine = machine_info()
    print(f"machine: {machine_line(machine)}")
    scenarios = build_scenarios(args) if args.scenario not in ("scale", "versions") else []
    versions_cases = (
        [versions_bench.build_case(args, sides)] if args.scenario in ("versions", "all") else []
    )
    scale_cases = scale_bench.build_cases(args) if args.scenario in ("scale", "all") else []
    if args.profile_dir:
        args.profile_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    blocks = [run_scenario(scenario, sides) for scenario in scenarios]
    versions_blocks = [versions_bench.run_case(case, run_child) for case in versions_cases]
    scale_blocks = [scale_bench.run_case(case, run_child, args.profile_dir) for case in scale_cases]
    if blocks:
        print_table(blocks)
    if versions_blocks:
        versions_bench.print_table(versions_blocks)
    if scale_blocks:
        scale_bench.print_table(scale_blocks)
    targets = (
        evaluate(blocks)
        + versions_bench.evaluate(versions_blocks)
        + scale_bench.evaluate(scale_blocks)
    )
    if blocks:
        print_findings(blocks)
    if versions_blocks:
        versions_bench.print_findings(versions_blocks)
    if scale_blocks:
        scale_bench.print_findings(scale_blocks)
    print("\ntargets:")
    for target in targets:
        print(f"  {target['verdict']:<4}  {target['target']}: {target['detail']}")
    total = time.perf_counter() - started
    print(f"\nmachine: {machine_line(machine)}")
    print(f"total: {total:.0f} s")
    results = {
        "machine": machine,
        "machine_line": machine_line(machine),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "total_s": round(total, 1),
        "scenarios": blocks + versions_blocks + scale_blocks,
        "targets": targets,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
