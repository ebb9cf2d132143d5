"""The `versions` scenario: a versions backfill against per-request latency.

The emulator's bench account holds `artifacts` artifacts in `registries` registries, each with 1
to 4 versions, except one artifact in `deep_every`, whose versions span several pages (a quarter,
a half, three quarters or all of `deep_versions`: 1 to 4 pages of 50). Every request waits
`latency_ms`. The project runs in incremental mode with `versions=True`, three times in one
working folder:

- `first`: reads every artifact, then the versions of every artifact (the backfill);
- `quiet`: nothing changed: every artifact list is read again (the API has no "modified since"),
  and no version list should be;
- `changed`: after `changed` artifacts gained a version: their version lists only.

The anchor (dlt's `rest_api`: a parent resource per registry and a child resolving `{artifact}`,
stock paginator, both `parallelized`) runs the first run once, on the same data.

Requests are counted by route from the emulator's request log, and the version requests are
compared with the ideal computed from the emulator's ground truth: per artifact read, one request
per page of its versions (at least one). The versions phase (first version request received to
last version answer) is compared with its floor, `version requests x latency / concurrency`.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.census import ArtifactKey, page_census, phase_seconds, registry_of, versions_census
from harness_emulator import EmulatorProcess

DEFAULT_ARTIFACTS = 1000
DEFAULT_REGISTRIES = 8
DEFAULT_DEEP_EVERY = 20
DEFAULT_DEEP_VERSIONS = 200
DEFAULT_CHANGED = 20
# Package types whose version lists have rows; the server lists none for any other (CONDA in
# the bench), while itemCount still counts them.
MAPPED_PACKAGE_TYPES = frozenset(
    {"DOCKER", "HELM", "GENERIC", "MAVEN", "PYTHON", "NPM", "RPM", "NUGET", "GO", "HUGGINGFACE"}
)
# dlt's default extract workers: how many requests the anchor's parallelized resources have in
# flight at most.
ANCHOR_WORKERS = 5
RUN_TIMEOUT_S = 900
CHANGED_VERSION = "9.9.9-bench"


@dataclass(frozen=True)
class VersionsCase:
    """One emulator dataset with latency, and the runs against it."""

    name: str
    registries: int
    artifacts: int
    latency_ms: float
    page_size: int
    concurrency: int
    deep_every: int
    deep_versions: int
    changed: int
    sides: tuple[str, ...]

    def describe(self) -> str:
        return (
            f"{self.registries} registries, {self.artifacts:,} artifacts with 1-4 versions, one "
            f"in {self.deep_every} with up to {self.deep_versions}; page size {self.page_size}, "
            f"latency {self.latency_ms:g} ms, project concurrency {self.concurrency}; project: "
            f"first run, quiet rerun, rerun after {self.changed} artifacts gained a version"
        )


def build_case(args: Any, sides: list[str]) -> VersionsCase:
    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    return VersionsCase(
        name="versions",
        registries=pick(args.registries, DEFAULT_REGISTRIES),
        artifacts=pick(args.artifacts, DEFAULT_ARTIFACTS),
        latency_ms=pick(args.latency_ms, 100.0),
        page_size=args.page_size,
        concurrency=args.concurrency,
        deep_every=args.versions_deep_every,
        deep_versions=args.versions_deep_versions,
        changed=args.versions_changed,
        sides=tuple(sides),
    )


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


class GroundTruth:
    """What the emulator holds, and what reading it needs: artifact pages, version pages per
    artifact, and the rows a complete load has."""

    def __init__(self, truth: dict[str, Any], page_size: int) -> None:
        self.page_size = page_size
        self.registries = truth["registries"]
        self.refs = [registry["path"] for registry in self.registries]
        self.data_pages = {
            r["path"]: math.ceil(r["artifactCount"] / page_size) for r in self.registries
        }
        self.listed = {r["path"]: r["packageType"] in MAPPED_PACKAGE_TYPES for r in self.registries}
        self.version_counts: dict[ArtifactKey, int] = {}
        self.version_rows = 0
        for ref, entries in truth["versions"].items():
            for entry in entries:
                count = len(entry["versions"])
                self.version_counts[(ref, entry["name"])] = count
                if self.listed[ref]:
                    self.version_rows += count
        self.artifacts = sum(r["artifactCount"] for r in self.registries)

    def ideal_pages(self, keys: list[ArtifactKey] | None = None) -> dict[ArtifactKey, int]:
        """Per artifact, the requests its version list needs: one per page, at least one. Where
        the server lists no version rows (CONDA), the first page is empty and ends the list,
        whatever `itemCount` says."""
        chosen = self.version_counts if keys is None else {k: self.version_counts[k] for k in keys}
        return {
            key: max(1, math.ceil(count / self.page_size)) if self.listed[key[0]] else 1
            for key, count in chosen.items()
        }

    def multi_page_artifacts(self) -> int:
        return sum(1 for pages in self.ideal_pages().values() if pages > 1)


def changed_artifacts(truth: GroundTruth, count: int) -> list[ArtifactKey]:
    """`count` artifacts spread evenly over all of them (every registry, deep ones included)."""
    keys = list(truth.version_counts)
    if count <= 0 or not keys:
        return []
    step = max(1, len(keys) // count)
    return keys[step - 1 :: step][:count]


def run_case(
    case: VersionsCase,
    run_child: Callable[[list[str], Path, float], tuple[dict[str, Any], float]],
) -> dict[str, Any]:
    """Starts the case's emulator, runs the project three times in one folder and the anchor
    once, and counts each run's requests from the emulator's log.

    Args:
        run_child: runs a `bench.run_one` command in a folder (`bench.__main__.run_child`).
    """
    print(f"\n== {case.name}: {case.describe()}", flush=True)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    with EmulatorProcess(
        scenario="bench",
        bench_registries=case.registries,
        bench_artifacts=case.artifacts,
        bench_deep_every=case.deep_every,
        bench_deep_versions=case.deep_versions,
        latency_ms=case.latency_ms,
        startup_timeout=120.0,
    ) as emulator:
        # Reading the ground truth also generates every version, before any run is timed.
        truth = GroundTruth(emulator.dataset(versions=True), case.page_size)
        changed = changed_artifacts(truth, case.changed)

        def run(side: str, label: str, workdir: str, ideal: dict[ArtifactKey, int]) -> None:
            emulator.reset_log()
            command = [
                sys.executable,
                str(Path(__file__).with_name("run_one.py")),
                *("--side", side, "--base-url", emulator.base_url),
                *("--api-key", emulator.api_key, "--workdir", workdir),
                *("--page-size", str(case.page_size), "--concurrency", str(case.concurrency)),
                *("--requests-per-minute", "0", "--mode", "incremental", "--versions"),
            ]
            for ref in truth.refs:
                command += ["--registry", ref]
            print(f"   {side} {label} ...", end=" ", flush=True)
            result, process_s = run_child(command, Path(workdir), RUN_TIMEOUT_S)
            log = emulator.requests_log(timing=True)
            result.update(describe_run(case, side, label, result, process_s, log, truth, ideal))
            status = "ok" if result["ok"] else f"FAILED: {result.get('error', '?')}"
            census = result["version_census"]
            print(
                f"{result.get('wall_s', 0):.1f} s, {census['requests']} version requests "
                f"(ideal {census['ideal']}), load average {result['load_average']}, {status}",
                flush=True,
            )
            runs.append(result)

        if "project" in case.sides:
            with tempfile.TemporaryDirectory(prefix="harness-bench-versions-project-") as workdir:
                run("project", "first", workdir, truth.ideal_pages())
                run("project", "quiet", workdir, {})
                if "anchor" in case.sides:
                    # On the same data as the project's first run: before any change.
                    with tempfile.TemporaryDirectory(prefix="harness-bench-versions-anchor-") as wd:
                        run("anchor", "first", wd, truth.ideal_pages())
                if changed:
                    ops = [
                        {
                            "op": "add_version",
                            "registry": ref,
                            "name": name,
                            "version": CHANGED_VERSION,
                        }
                        for ref, name in changed
                    ]
                    emulator.mutate(ops)
                    for key in changed:
                        truth.version_counts[key] += 1
                    run("project", "changed", workdir, truth.ideal_pages(changed))
        elif "anchor" in case.sides:
            with tempfile.TemporaryDirectory(prefix="harness-bench-versions-anchor-") as wd:
                run("anchor", "first", wd, truth.ideal_pages())
    return {
        "scenario": asdict(case),
        "expected_rows": truth.artifacts,
        "expected_version_rows": truth.version_rows,
        "multi_page_artifacts": truth.multi_page_artifacts(),
        "data_pages": sum(truth.data_pages.values()),
        "changed_artifacts": [f"{ref} {name}" for ref, name in changed],
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
    }


def describe_run(
    case: VersionsCase,
    side: str,
    label: str,
    result: dict[str, Any],
    process_s: float,
    log: list[dict[str, Any]],
    truth: GroundTruth,
    ideal: dict[ArtifactKey, int],
) -> dict[str, Any]:
    """The run's figures from the emulator's timed log: requests by route against the ideal,
    the versions phase against its floor."""
    census = versions_census(log, ideal)
    artifact_requests = sum(1 for entry in log if registry_of(entry["path"]) is not None)
    concurrency = case.concurrency if side == "project" else ANCHOR_WORKERS
    floor = census["requests"] * case.latency_ms / 1000 / concurrency
    phase = phase_seconds(log, versions=True)
    rss = result.get("peak_rss_kib")
    return {
        "scenario": case.name,
        "side": side,
        "run": label,
        "load_average": load_average(),
        "process_s": round(process_s, 3),
        "requests": len(log),
        "artifact_requests": artifact_requests,
        "other_requests": len(log) - artifact_requests - census["requests"],
        **page_census(log, truth.data_pages, case.page_size),
        "version_census": census,
        "concurrency": concurrency,
        "versions_phase_s": None if phase is None else round(phase, 3),
        "versions_floor_s": round(floor, 3),
        "versions_phase_over_floor": round(phase / floor, 3) if phase and floor else None,
        "artifacts_phase_s": _rounded(phase_seconds(log, versions=False)),
        "peak_rss_mib": round(rss / 1024, 1) if rss else None,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def print_table(blocks: list[dict[str, Any]]) -> None:
    header = (
        f"{'scenario':<9} {'side':<8} {'run':<8} {'wall s':>7} {'art req':>7} {'ver req':>7} "
        f"{'ideal':>6} {'over':>5} {'phase s':>8} {'floor s':>8} {'x floor':>7} "
        f"{'artifacts':>9} {'versions':>9} {'RSS MiB':>8} {'load avg':>15}"
    )
    print("\n" + header)
    print("-" * len(header))
    for block in blocks:
        for run in block["runs"]:
            census = run["version_census"]
            phase = run.get("versions_phase_s")
            ratio = run.get("versions_phase_over_floor")
            print(
                f"{run['scenario']:<9} {run['side']:<8} {run['run']:<8} "
                f"{run.get('wall_s', 0):>7.2f} {run['artifact_requests']:>7} "
                f"{census['requests']:>7} {census['ideal']:>6} {census['over_ideal']:>5} "
                f"{'-' if phase is None else f'{phase:.2f}':>8} {run['versions_floor_s']:>8.2f} "
                f"{'-' if ratio is None else f'{ratio:.2f}':>7} "
                f"{run.get('rows', 0) if run.get('ok') else 'FAILED':>9} "
                f"{run.get('version_rows', 0):>9} {run.get('peak_rss_mib') or '-':>8} "
                f"{run['load_average']:>15}"
            )
    print(
        "(art req / ver req: artifact list and version list requests in the emulator's log; "
        "ideal: one version request per artifact read plus one per further page of its "
        "versions, from the emulator's ground truth; phase: first version request to last "
        "answer; floor: ver req x latency / concurrency; artifacts, versions: rows in DuckDB)"
    )


def find_run(blocks: list[dict[str, Any]], side: str, label: str) -> dict[str, Any] | None:
    for block in blocks:
        for run in block["runs"]:
            if run["side"] == side and run["run"] == label and run.get("ok"):
                return run
    return None


def evaluate(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PASS/MISS on request counts and rows (deterministic); times are reported, not judged."""
    targets: list[dict[str, Any]] = []
    if not blocks:
        return targets
    block = blocks[0]

    def add(name: str, passed: bool | None, detail: str) -> None:
        verdict = "n/a" if passed is None else ("PASS" if passed else "MISS")
        targets.append({"target": name, "verdict": verdict, "detail": detail})

    first = find_run(blocks, "project", "first")
    if first:
        census = first["version_census"]
        add(
            "versions: project first run sends the ideal version requests",
            census["requests"] == census["ideal"],
            f"{census['requests']} sent, ideal {census['ideal']} "
            f"({census['over_ideal']} over, {census['under_ideal']} under)",
        )
        rows = (first.get("rows"), first.get("version_rows"))
        expected = (block["expected_rows"], block["expected_version_rows"])
        add(
            "versions: project first run loads every artifact and version",
            rows == expected,
            f"{rows[0]} artifacts, {rows[1]} versions; expected {expected[0]}, {expected[1]}",
        )
    else:
        add("versions: project first run", None, "not run or failed")
    quiet = find_run(blocks, "project", "quiet")
    if quiet:
        add(
            "versions: project quiet rerun sends no version request",
            quiet["version_census"]["requests"] == 0,
            f"{quiet['version_census']['requests']} version requests",
        )
    changed = find_run(blocks, "project", "changed")
    if changed:
        census = changed["version_census"]
        add(
            "versions: project rerun after changes reads only the changed artifacts' versions",
            census["requests"] == census["ideal"] and census["unexpected_artifacts"] == 0,
            f"{census['requests']} sent, ideal {census['ideal']} for "
            f"{census['artifacts_ideal']} changed artifacts",
        )
    return targets


def print_findings(blocks: list[dict[str, Any]]) -> None:
    print()
    for block in blocks:
        name = block["scenario"]["name"]
        print(
            f"[{name}] {block['expected_rows']} artifacts, {block['expected_version_rows']} "
            f"version rows expected, {block['multi_page_artifacts']} artifacts with versions on "
            "more than one page"
        )
        for run in block["runs"]:
            label = f"[{name}] {run['side']} {run['run']}"
            if not run.get("ok"):
                print(f"{label} FAILED: {run.get('error')}")
                if run.get("stderr_tail"):
                    print("    " + run["stderr_tail"].replace("\n", "\n    "))
                continue
            census = run["version_census"]
            steps = run.get("steps_s") or {}
            print(
                f"{label}: wall {run.get('wall_s', 0):.2f} s (extract "
                f"{steps.get('extract', 0):.2f}, normalize {steps.get('normalize', 0):.2f}, load "
                f"{steps.get('load', 0):.2f}); {run['artifact_requests']} artifact requests "
                f"({run['empty_pages']} past the last page), {census['requests']} version "
                f"requests for {census['artifacts_read']} artifacts (ideal {census['ideal']} for "
                f"{census['artifacts_ideal']}: {census['over_ideal']} over, "
                f"{census['under_ideal']} under, {census['repeated_pages']} repeated pages, "
                f"{census['pages_past_end']} past the end); statuses {census['by_status']}"
            )
            if census["over_examples"] or census["under_examples"]:
                for example in census["over_examples"] + census["under_examples"]:
                    print(f"    {example}")
            if run.get("versions_phase_s") is not None:
                print(
                    f"{label}: versions phase {run['versions_phase_s']:.2f} s vs floor "
                    f"{census['requests']} x {block['scenario']['latency_ms']:g} ms / "
                    f"{run['concurrency']} = {run['versions_floor_s']:.2f} s: "
                    f"{run['versions_phase_over_floor']:.2f}x"
                )
            if run["side"] == "project":
                print(
                    f"{label}: the source counted {run.get('client_version_requests')} version "
                    f"requests for {run.get('versions_requested')} artifacts and "
                    f"{run.get('reported_version_rows')} version rows "
                    f"({run.get('versions_failed')} failed); its logged estimate "
                    f"{_seconds(run.get('versions_estimate_s'))}"
                )


def _seconds(value: float | None) -> str:
    return "none" if value is None else f"{value:.1f} s"
