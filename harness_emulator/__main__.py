"""Command line: `python -m harness_emulator [options]` serves until SIGTERM or SIGINT.

The first line on stdout is `harness-emulator listening on http://HOST:PORT`, flushed, so a
parent process can wait for it and learn the port.
"""

from __future__ import annotations

import argparse
import functools
import signal
import sys
import threading

from .dataset import TIE_ORDERS
from .scenarios import DEFAULT_BENCH_DEEP_VERSIONS, build_dataset
from .server import EmulatorServer, loopback_host
from .state import DEFAULT_API_KEY, EmulatorState


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness_emulator",
        description="Local emulator of the Harness Artifact Registry list API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the accepted x-api-key")
    parser.add_argument("--scenario", choices=("default", "bench"), default="default")
    parser.add_argument("--bench-registries", type=int, default=8, metavar="N")
    parser.add_argument("--bench-artifacts", type=int, default=8000, metavar="N")
    parser.add_argument(
        "--bench-versions",
        type=int,
        default=None,
        metavar="N",
        help="versions of every bench artifact (default: 1-4 each)",
    )
    parser.add_argument(
        "--bench-deep-every",
        type=int,
        default=0,
        metavar="N",
        help="one bench artifact in N has many versions, over several pages (0: none)",
    )
    parser.add_argument(
        "--bench-deep-versions",
        type=int,
        default=DEFAULT_BENCH_DEEP_VERSIONS,
        metavar="N",
        help="the most versions of a deep bench artifact: it has N/4, N/2, 3N/4 or N, in turn",
    )
    parser.add_argument(
        "--bench-zero-time",
        action="store_true",
        help="every bench artifact's lastModified is Go's zero time",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, metavar="F")
    parser.add_argument(
        "--rate-limit-per-minute", type=int, default=None, metavar="N", help="0 or absent: none"
    )
    parser.add_argument(
        "--tie-order",
        choices=TIE_ORDERS,
        default="random",
        help="order of rows tied on the sort key: random on every request, as the server does, "
        "or adversarial: every page a tie group spans shows the same first rows of it, so a "
        "reader paging with a boundary inside a tie always skips one",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        loopback_host(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    if args.latency_ms < 0 or (args.rate_limit_per_minute or 0) < 0:
        parser.error("--latency-ms and --rate-limit-per-minute must not be negative")
    build = functools.partial(
        build_dataset,
        args.scenario,
        args.seed,
        bench_registries=args.bench_registries,
        bench_artifacts=args.bench_artifacts,
        bench_versions=args.bench_versions,
        bench_zero_time=args.bench_zero_time,
        bench_deep_every=args.bench_deep_every,
        bench_deep_versions=args.bench_deep_versions,
    )
    try:
        dataset = build()
    except ValueError as exc:
        parser.error(str(exc))
    state = EmulatorState(
        dataset,
        api_key=args.api_key,
        latency_ms=args.latency_ms,
        # the same day's data whenever it is restored, even after midnight
        seeded_data=functools.partial(build, anchor_ms=dataset.anchor_ms),
    )
    state.limiter.configure(args.rate_limit_per_minute)
    dataset.tie_order = args.tie_order
    server = EmulatorServer(args.host, args.port, state)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    # serve_forever runs in a thread so that the main thread can wait for signals and then
    # call shutdown(), which would deadlock if called from the serving thread. shutdown() waits
    # for the serving loop's next poll: a short interval makes the process stop in milliseconds.
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="serve", daemon=True
    )
    serving.start()
    print(f"harness-emulator listening on {server.base_url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
