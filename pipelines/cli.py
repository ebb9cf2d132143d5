"""Command line for the Harness Artifact Registry connector: `run` for cron, `demo` to try it.

    python pipelines/harness_registry_pipeline.py run [--registry REF ...] [--destination NAME] ...
    python pipelines/harness_registry_pipeline.py demo

Settings come from dlt's config (`.dlt/config.toml`, `.dlt/secrets.toml`, environment variables);
flags override them for one run. The API key is read from dlt's config only, never from a flag.

Exit codes: 0 loaded; 1 the run failed and nothing new was committed; 2 bad configuration or input,
found before any request; 3 some registries failed, the others were loaded; 4 another run holds the
lock; 130 interrupted.
"""

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from harness_registry import (
    ConfigError,
    HarnessRegistryError,
    RunReport,
    harness_registry_source,
)
from harness_registry_pipelines.demo_figures import print_demo_figures
from harness_registry_pipelines.reports import print_reports, report_names
from harness_registry_pipelines.runlock import RunLock, RunLockHeld

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_PARTIAL, EXIT_LOCKED = 0, 1, 2, 3, 4
PIPELINE_SECTION = "harness_registry_pipeline"
DEFAULTS = {
    "pipeline_name": "harness_registry",
    "destination": "duckdb",
    "dataset_name": "harness",
}

# Load file format per destination. dlt's default for DuckDB (insert_values) builds huge SQL strings
# and peaks at gigabytes of memory on 100k rows; parquet loads the same rows in a fraction of the time
# and memory. Destinations not listed keep dlt's default for them. Not csv for PostgreSQL: COPY reads
# an unquoted empty field as NULL, so empty strings (Docker's `uuid`, the key's `artifact_type`)
# would not survive.
LOADER_FILE_FORMATS = {"duckdb": "parquet", "motherduck": "parquet"}

logger = logging.getLogger("harness_registry")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness_registry_pipeline.py",
        description="Load Harness Artifact Registry artifacts with dlt.",
    )
    parser.add_argument("--verbose", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="load artifacts into the destination")
    _add_destination_flags(run)
    run.add_argument("--registry", action="append", metavar="REF", help="registry ref (repeatable)")
    run.add_argument(
        "--space", action="append", metavar="REF", help="space whose registries to read"
    )
    run.add_argument("--package-type", action="append", metavar="TYPE", help="with --space")
    run.add_argument("--base-url", metavar="URL")
    run.add_argument("--page-size", type=int, metavar="N")
    run.add_argument("--artifact-type", choices=["model", "dataset"])
    run.add_argument("--search-term", metavar="S")
    run.add_argument("--label", action="append", metavar="L", help="keep artifacts with this label")
    run.add_argument("--concurrency", type=int, metavar="N")
    run.add_argument("--requests-per-minute", type=float, metavar="N")
    run.add_argument("--mode", choices=["incremental", "snapshot"])
    run.add_argument(
        "--lock-timeout",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait this long for a concurrent run to finish (default: exit at once)",
    )

    report = commands.add_parser("report", help="print the SQL reports over the loaded tables")
    _add_destination_flags(report)
    report.add_argument("--format", choices=["table", "csv", "json"], default="table")
    report.add_argument(
        "--days", type=int, default=30, metavar="N", help="window of the time reports"
    )
    report.add_argument(
        "--top", type=int, default=10, metavar="N", help="rows of the top downloads"
    )
    report.add_argument(
        "--report", action="append", choices=report_names(), metavar="NAME", help="only this report"
    )

    demo = commands.add_parser("demo", help="load the bundled emulator's data into a local DuckDB")
    demo.add_argument("--duckdb", default="harness_registry.duckdb", metavar="FILE")
    return parser


def _add_destination_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--destination", metavar="NAME", help="any dlt destination (default duckdb)"
    )
    parser.add_argument("--dataset", metavar="NAME", help="dataset (schema) name")
    parser.add_argument("--pipeline-name", metavar="NAME")


def pipeline_settings(args: argparse.Namespace) -> dict[str, str]:
    """Pipeline name, destination and dataset: flags, else `[harness_registry_pipeline]`, else defaults."""
    settings = {}
    for key, flag in (
        ("pipeline_name", "pipeline_name"),
        ("destination", "destination"),
        ("dataset_name", "dataset"),
    ):
        value = getattr(args, flag, None) or dlt.config.get(f"{PIPELINE_SECTION}.{key}", str)
        settings[key] = value or DEFAULTS[key]
    return settings


def source_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Source arguments given as flags; the rest is resolved by dlt from config."""
    flags = {
        "registries": args.registry,
        "spaces": args.space,
        "package_types": args.package_type,
        "base_url": args.base_url,
        "page_size": args.page_size,
        "artifact_type": args.artifact_type,
        "search_term": args.search_term,
        "labels": args.label,
        "concurrency": args.concurrency,
        "requests_per_minute": args.requests_per_minute,
        "mode": args.mode,
    }
    return {key: value for key, value in flags.items() if value is not None}


def load(
    settings: dict[str, str],
    source_args: dict[str, Any],
    report: RunReport,
    refresh: str | None = None,
) -> Any:
    """Builds the pipeline and the source and runs one load; returns dlt's `LoadInfo`."""
    pipeline = dlt.pipeline(
        pipeline_name=settings["pipeline_name"],
        destination=settings["destination"],
        dataset_name=settings["dataset_name"],
        progress="log" if sys.stderr.isatty() else None,
    )
    source = harness_registry_source(**source_args, report=report)
    if pipeline.has_pending_data:
        # A run was killed after extracting: its package (data and state) is complete on disk.
        # `pipeline.run` would only finish it and skip this run's data, so finish it first.
        logger.warning("finishing the load package of an interrupted run first")
        pipeline.normalize()
        pipeline.load()
    destination_type = pipeline.destination.destination_name if pipeline.destination else ""
    file_format = LOADER_FILE_FORMATS.get(destination_type)
    return pipeline.run(source, loader_file_format=file_format, refresh=refresh)


def command_run(args: argparse.Namespace) -> int:
    settings = pipeline_settings(args)
    report = RunReport()
    started = time.monotonic()
    with RunLock(settings["pipeline_name"], timeout=args.lock_timeout):
        load(settings, source_overrides(args), report)
    print_summary(report, settings, time.monotonic() - started)
    return exit_code(report)


def exit_code(report: RunReport) -> int:
    return EXIT_PARTIAL if report.failures else EXIT_OK


def print_summary(report: RunReport, settings: dict[str, str], seconds: float) -> None:
    """Rows per registry, requests and time, on stdout; failures named with their reason."""
    out = sys.stdout
    registries = sorted(report.registries.values(), key=lambda r: r.ref)
    width = max([len("registry"), *(len(r.ref) for r in registries)])
    out.write(
        f"{report.rows_loaded} artifact rows loaded from {len(registries)} registries into "
        f"{settings['destination']} dataset {settings['dataset_name']} in {seconds:.1f} s "
        f"({report.requests} requests, {report.throttled} throttled)\n"
    )
    out.write(f"  {'registry':<{width}}  {'read':>7}  {'loaded':>7}  {'pages':>5}  status\n")
    for result in registries:
        if result.error:
            status = f"FAILED: {result.error}"
        elif result.cursor_kept:
            status = "ok, changed while read: cursor kept, the next run re-reads it"
        else:
            status = "ok"
        out.write(
            f"  {result.ref:<{width}}  {result.rows_read:>7}  {result.rows_loaded:>7}  "
            f"{result.pages:>5}  {status}\n"
        )
    for space in sorted(report.spaces.values(), key=lambda r: r.ref):
        if space.error:
            out.write(f"  space {space.ref}: FAILED: {space.error}\n")
    if report.failures:
        names = ", ".join(sorted(r.ref for r in report.failures))
        sys.stderr.write(
            f"error: {len(report.failures)} of the registries or spaces could not be read "
            f"(see above), the others were loaded: {names}\n"
        )
    out.flush()


def command_demo(args: argparse.Namespace) -> int:
    from harness_emulator import EmulatorProcess

    duckdb_path = str(Path(args.duckdb).resolve())
    os.environ["DESTINATION__DUCKDB__CREDENTIALS"] = duckdb_path
    settings = {
        "pipeline_name": "harness_registry_demo",
        "destination": "duckdb",
        "dataset_name": "harness",
    }
    report = RunReport()
    started = time.monotonic()
    # every demo starts from scratch: no state or half-done package of an earlier demo
    dlt.pipeline(pipeline_name=settings["pipeline_name"]).drop()
    with EmulatorProcess() as emulator:
        print(f"emulator listening on {emulator.base_url}")
        readable = [
            registry["path"]
            for registry in emulator.dataset()["registries"]
            if not registry.get("forbidden") and not registry.get("deleted")
        ]
        source_args = {
            "registries": readable,
            "base_url": emulator.base_url,
            "api_key": emulator.api_key,
        }
        # and from an empty dataset, so figures do not pile up across runs
        load(settings, source_args, report, refresh="drop_sources")
    print_summary(report, settings, time.monotonic() - started)
    print_demo_figures(duckdb_path, settings["dataset_name"])
    return exit_code(report)


def command_report(args: argparse.Namespace) -> int:
    settings = pipeline_settings(args)
    return print_reports(
        settings, output_format=args.format, days=args.days, top=args.top, names=args.report
    )


def root_cause(error: BaseException) -> BaseException:
    """The error a user can act on, dug out of dlt's wrappers (PipelineStepFailed, extraction errors):
    one of ours or a missing setting if there is one, else the innermost cause."""
    seen: set[int] = set()
    current: BaseException | None = error
    innermost = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, HarnessRegistryError | ConfigFieldMissingException):
            return current
        innermost = current
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return innermost


def describe(error: BaseException) -> tuple[str, int]:
    """One line naming the cause and what to do, and the exit code."""
    cause = root_cause(error)
    if isinstance(cause, ConfigFieldMissingException):
        if "api_key" in cause.fields:
            return (
                "no API key: set api_key under [sources.harness_registry] in .dlt/secrets.toml "
                "or export SOURCES__HARNESS_REGISTRY__API_KEY",
                EXIT_CONFIG,
            )
        fields = ", ".join(cause.fields)
        return (
            f"missing configuration {fields} for {cause.spec_name}: set it in .dlt/secrets.toml or the environment",
            EXIT_CONFIG,
        )
    if isinstance(cause, ConfigError):
        return f"configuration: {cause}", EXIT_CONFIG
    if isinstance(cause, HarnessRegistryError):
        return str(cause), EXIT_FAILED
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return (
        f"{type(cause).__name__}: {first_line[:300]} (run with --verbose for details)",
        EXIT_FAILED,
    )


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("urllib3").setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    commands = {"run": command_run, "demo": command_demo, "report": command_report}
    try:
        return commands[args.command](args)
    except RunLockHeld as held:
        print(f"error: {held}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt:
        print("interrupted: nothing of this run was committed", file=sys.stderr)
        return 130
    except Exception as error:
        if args.verbose:
            raise
        message, code = describe(error)
        print(f"error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
