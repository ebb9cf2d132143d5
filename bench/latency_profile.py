"""Where a latency-bound run's time goes: `python -m bench.latency_profile`.

Runs the project side of the `latency` scenario once (8 registries, 8,000 artifacts, 100 ms a
request, concurrency 4, page size 50 unless told otherwise) and lines the run's steps up with
the emulator's timed request log. It prints the floor (`requests x latency / concurrency`), the
time before the first request and after the last answer, how long 0, 1, ... `concurrency`
requests were in flight while requests were being made, the requests past the end of a list,
and what the emulator adds to each request. `--profile-time FILE` also writes the run's
pyinstrument call tree.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.__main__ import run_child
from harness_emulator import EmulatorProcess


def in_flight_histogram(
    intervals: list[tuple[float, float]], start: float, end: float
) -> dict[int, float]:
    """Seconds spent with each number of requests in flight between `start` and `end`."""
    events = sorted([(t, 1) for t, _ in intervals] + [(t, -1) for _, t in intervals])
    histogram: dict[int, float] = {}
    level, last = 0, start
    for when, change in events:
        when = min(max(when, start), end)
        histogram[level] = histogram.get(level, 0.0) + (when - last)
        level += change
        last = when
    histogram[level] = histogram.get(level, 0.0) + (end - last)
    return histogram


def analyse(result: dict[str, Any], log: list[dict[str, Any]], args: argparse.Namespace) -> str:
    latency = args.latency_ms / 1000
    requests = [entry for entry in log if entry.get("answered_at")]
    intervals = [(entry["received_at"], entry["answered_at"]) for entry in requests]
    first = min(t for t, _ in intervals)
    last = max(t for _, t in intervals)
    windows = result.get("step_windows", {})
    run_start = result["started_at"]
    extract = windows.get("extract", [run_start, last])
    run_end = run_start + result["wall_s"]
    floor = len(requests) * latency / args.concurrency
    histogram = in_flight_histogram(intervals, first, last)
    served = sorted(answered - received - latency for received, answered in intervals)
    short_pages = 0
    for entry in requests:
        query = entry.get("query") or {}
        page = int(query.get("page", ["0"])[0])
        size = int(query.get("size", [str(args.page_size)])[0])
        per_registry = math.ceil(args.artifacts / args.registries)
        if page * size >= per_registry:
            short_pages += 1
    lines = [
        f"wall {result['wall_s']:.2f} s; steps: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in result.get("steps_s", {}).items()),
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}",
        f"requests {len(requests)} (past the end of a list: {short_pages}); floor = "
        f"{len(requests)} x {args.latency_ms:g} ms / {args.concurrency} = {floor:.2f} s",
        f"run start -> extract start: {extract[0] - run_start:.2f} s",
        f"extract start -> first request received: {first - extract[0]:.2f} s",
        f"first request -> last answer: {last - first:.2f} s ({(last - first) / floor:.2f}x floor)",
        f"last answer -> extract end: {extract[1] - last:.2f} s",
        f"extract end -> run end (normalize, load, trace): {run_end - extract[1]:.2f} s",
        "seconds with N requests in flight between the first request and the last answer: "
        + ", ".join(f"{n}: {s:.2f}" for n, s in sorted(histogram.items())),
        "lost to fewer than full concurrency: "
        f"{sum(s * (args.concurrency - n) / args.concurrency for n, s in histogram.items() if n < args.concurrency):.2f} s "
        "(seconds x missing share)",
        f"emulator time over its latency per request: median {served[len(served) // 2] * 1000:.1f} ms, "
        f"p90 {served[int(len(served) * 0.9)] * 1000:.1f} ms, max {served[-1] * 1000:.1f} ms",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency_profile", description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--registries", type=int, default=8)
    parser.add_argument("--artifacts", type=int, default=8000)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--profile-time", type=Path, help="pyinstrument call tree of the run")
    parser.add_argument("--log", type=Path, help="write the timed request log (JSON) here")
    args = parser.parse_args(argv)
    with (
        EmulatorProcess(
            scenario="bench",
            bench_registries=args.registries,
            bench_artifacts=args.artifacts,
            latency_ms=args.latency_ms,
        ) as emulator,
        tempfile.TemporaryDirectory(prefix="harness-latency-profile-") as workdir,
    ):
        refs = [r["path"] for r in emulator.dataset(artifacts=False)["registries"]]
        emulator.reset_log()
        command = [
            sys.executable,
            str(Path(__file__).with_name("run_one.py")),
            *("--side", "project", "--base-url", emulator.base_url),
            *("--api-key", emulator.api_key, "--workdir", workdir),
            *("--page-size", str(args.page_size), "--concurrency", str(args.concurrency)),
            *("--requests-per-minute", "0"),
        ]
        for ref in refs:
            command += ["--registry", ref]
        if args.profile_time:
            command += ["--profile-time", str(args.profile_time.resolve())]
        result, _ = run_child(command, Path(workdir))
        log = emulator.requests_log(timing=True)
    if not result.get("ok"):
        print(f"the run failed: {result.get('error')}\n{result.get('stderr_tail', '')}")
        return 1
    if args.log:
        args.log.write_text(json.dumps({"result": result, "requests": log}) + "\n")
    print(analyse(result, log, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
