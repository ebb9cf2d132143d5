"""Command line for the Harness Artifact Registry connector: `run` for cron, `demo` to try it,
`report`, `sql` and `notebook` to read what is loaded.

    harness-registry run [--registry REF ...] [--destination NAME] ...
    harness-registry demo
    harness-registry report [--format table|csv|json]
    harness-registry sql "SELECT count(*) FROM artifacts"
    harness-registry notebook [--html]

Settings come from dlt's config (`.dlt/config.toml`, `.dlt/secrets.toml`, environment variables);
flags override them for one run. The `run` flags are derived from the source's declared options
(`harness_registry.options.OPTIONS`). The API key is read from dlt's config only, never from a flag.
The loading itself is `harness_registry_pipelines.runner.run_pipeline`.
"""

import argparse
import csv
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigValueCannotBeCoercedException,
)

from harness_registry import ConfigError, HarnessRegistryError, ListResult, RunReport
from harness_registry.options import CONFIG_SECTION, ENV_PREFIX, OPTIONS, OPTIONS_BY_NAME
from harness_registry_pipelines.demo_figures import print_demo_figures
from harness_registry_pipelines.exit_codes import (
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_PARTIAL,
)
from harness_registry_pipelines.lakehouse import FILESYSTEM, TABLE_FORMATS
from harness_registry_pipelines.notebook_command import DEFAULT_HTML, run_notebook
from harness_registry_pipelines.paths import DEFAULT_DUCKDB
from harness_registry_pipelines.report_output import display_width, plural
from harness_registry_pipelines.reports import (
    DEFAULT_CLEANUP_DAYS,
    DEFAULT_DAYS,
    DEFAULT_TOP,
    FORMATS,
    print_reports,
    report_names,
)
from harness_registry_pipelines.runlock import RunLockHeld
from harness_registry_pipelines.runner import (
    DEFAULTS,
    LOADER_FILE_FORMATS,
    PIPELINE_SECTION,
    PipelineSettings,
    check_destination,
    destination_kind,
    pipeline_settings,
    run_pipeline,
)
from harness_registry_pipelines.sql_command import SQL_FORMATS, default_database, run_sql

__all__ = [
    "DEFAULTS",
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "LOADER_FILE_FORMATS",
    "describe",
    "error_chain",
    "main",
]

# dlt's configuration errors a user can fix: a missing key, a value of the wrong type
ConfigurationError = ConfigFieldMissingException | ConfigValueCannotBeCoercedException

VERBOSE_HELP = "show tracebacks and debug logs (default: off)"


def help_epilog() -> str:
    """Exit codes and where the API key goes, for the end of `--help`."""
    codes = "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES.items())
    return (
        f"exit codes:\n{codes}\n\n"
        f"API key: api_key under {CONFIG_SECTION} in .dlt/secrets.toml, or the environment\n"
        f"variable {ENV_PREFIX}API_KEY (never a flag: it would show in ps and shell history)."
    )


def build_parser() -> argparse.ArgumentParser:
    # --verbose is accepted before and after the command; SUPPRESS keeps a subcommand's parser from
    # resetting a --verbose given before it
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
    )
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        description="Load Harness Artifact Registry artifacts with dlt, and report on them.",
        epilog=help_epilog(),
        formatter_class=formatter,
    )
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        parents=[verbose],
        help="load artifacts into the destination",
        description=(
            "Load the artifacts of the configured registries into the destination. Each flag\n"
            f"overrides the key of the same name under {CONFIG_SECTION} in .dlt/config.toml\n"
            f"(or {ENV_PREFIX}<KEY>) for this run; lists may be TOML or JSON lists,\n"
            "or comma-separated in the environment."
        ),
        epilog=help_epilog(),
        formatter_class=formatter,
    )
    _add_destination_flags(run)
    run.add_argument(
        "--table-format",
        choices=TABLE_FORMATS,
        help=_help(
            "with --destination filesystem: Delta Lake or Iceberg tables that merge",
            f"table_format under [{PIPELINE_SECTION}], else plain files that append",
        ),
    )
    for option in OPTIONS:
        if option.flag:
            run.add_argument(
                option.flag,
                dest=option.name,
                **option.flag_arguments(),
                help=_help(option.help, option.default_text, repeatable=option.repeatable),
            )
    run.add_argument(
        "--registries-csv",
        metavar="FILE",
        help=_help(
            "also write the per-registry table (read, loaded, pages, requests, status) as CSV",
            "none",
        ),
    )
    run.add_argument(
        "--lock-timeout",
        type=_seconds,
        default=0,
        metavar="SECONDS",
        help=_help(
            "wait this long for another run of the same pipeline to finish, then exit 4", "0"
        ),
    )

    report = commands.add_parser(
        "report",
        parents=[verbose],
        help="print the SQL reports over the loaded tables",
        description="Print the SQL reports over the tables a run loaded.",
        formatter_class=formatter,
    )
    _add_destination_flags(report)
    report.add_argument(
        "--format",
        choices=FORMATS,
        default="table",
        help=_help("output format", "table"),
    )
    report.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        metavar="N",
        help=_help("window of the reports over time, in days", str(DEFAULT_DAYS)),
    )
    report.add_argument(
        "--top",
        type=int,
        default=DEFAULT_TOP,
        metavar="N",
        help=_help("rows of the top-downloads report", str(DEFAULT_TOP)),
    )
    report.add_argument(
        "--cleanup-days",
        type=int,
        default=DEFAULT_CLEANUP_DAYS,
        metavar="N",
        help=_help(
            "cleanup candidates: versions not modified for this many days",
            str(DEFAULT_CLEANUP_DAYS),
        ),
    )
    report.add_argument(
        "--report",
        action="append",
        choices=report_names(),
        metavar="NAME",
        help=_help(
            f"only this report, one of: {', '.join(report_names())}", "all", repeatable=True
        ),
    )

    demo = commands.add_parser(
        "demo",
        parents=[verbose],
        help="load the bundled emulator's data into a local DuckDB",
        description="Start the bundled API emulator and load its data into a local DuckDB file.",
        formatter_class=formatter,
    )
    demo.add_argument(
        "--duckdb",
        default=DEFAULT_DUCKDB,
        metavar="FILE",
        help=_help("the DuckDB file to write", DEFAULT_DUCKDB),
    )

    sql = commands.add_parser(
        "sql",
        parents=[verbose],
        help="run SQL on the loaded DuckDB file (no DuckDB tool needed)",
        description=(
            "Run SQL on the DuckDB file a run or the demo loaded, read-only, with the dataset as\n"
            "the default schema. The query comes from the argument, else from standard input;\n"
            "in a terminal without one, a prompt."
        ),
        formatter_class=formatter,
    )
    sql.add_argument("query", nargs="?", metavar="SQL", help="the SQL to run (default: stdin)")
    sql.add_argument(
        "--duckdb",
        metavar="FILE",
        help=_help("the DuckDB file", f"DESTINATION__DUCKDB__CREDENTIALS, else {DEFAULT_DUCKDB}"),
    )
    sql.add_argument(
        "--dataset",
        default=DEFAULTS["dataset_name"],
        metavar="NAME",
        help=_help("the default schema", DEFAULTS["dataset_name"]),
    )
    sql.add_argument(
        "--format", choices=SQL_FORMATS, default="table", help=_help("output format", "table")
    )

    notebook = commands.add_parser(
        "notebook",
        parents=[verbose],
        help="open the exploration notebook, or run it to HTML where there is no browser",
        description=(
            "Open notebooks/explore_artifacts.ipynb in Jupyter, or, with --html or where no\n"
            "browser can be opened, run it and write it with its plots as HTML. Needs the\n"
            "notebook extra: `make notebook` installs it."
        ),
        formatter_class=formatter,
    )
    notebook.add_argument(
        "--html",
        action="store_true",
        help=_help(
            "run the notebook and write HTML instead of opening it", "only without a browser"
        ),
    )
    notebook.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_HTML,
        metavar="FILE",
        help=_help("where the HTML goes", "notebooks/explore_artifacts.html"),
    )
    return parser


def _help(text: str, default: str, repeatable: bool = False) -> str:
    """One line of flag help ending with the default; `%` escaped for argparse."""
    more = "repeatable; " if repeatable else ""
    return f"{text} ({more}default: {default})".replace("%", "%%")


def _seconds(value: str) -> float:
    seconds = float(value)
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return seconds


def _add_destination_flags(parser: argparse.ArgumentParser) -> None:
    for flag, key, text in (
        ("--destination", "destination", "any dlt destination by name, e.g. postgres"),
        ("--dataset", "dataset_name", "the dataset (schema) name"),
        ("--pipeline-name", "pipeline_name", "dlt's pipeline name; it also names the run lock"),
    ):
        default = f"{key} under [{PIPELINE_SECTION}], else {DEFAULTS[key]}"
        parser.add_argument(flag, dest=key, metavar="NAME", help=_help(text, default))


def settings_from(args: argparse.Namespace) -> PipelineSettings:
    """Pipeline name, destination and dataset from the flags, else config, else defaults."""
    return pipeline_settings(
        pipeline_name=args.pipeline_name,
        destination=args.destination,
        dataset_name=args.dataset_name,
    )


def source_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Source options given as flags; the others are resolved by dlt from config."""
    given = {option.name: getattr(args, option.name, None) for option in OPTIONS if option.flag}
    return {name: value for name, value in given.items() if value is not None}


def command_run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    started = time.monotonic()
    run = run_pipeline(
        settings,
        source_overrides(args),
        lock_timeout=args.lock_timeout,
        progress="log" if sys.stderr.isatty() else None,
        table_format=args.table_format,
    )
    print_summary(
        run.report,
        settings,
        time.monotonic() - started,
        package_type_filter(args),
        every_registry=getattr(args, "verbose", False),
    )
    if args.registries_csv:
        write_registries_csv(run.report, args.registries_csv)
    return exit_code(run.report)


def nothing_read(report: RunReport) -> bool:
    """Every registry and space named failed: not one registry's artifacts could be read."""
    return bool(report.failures) and not any(r.ok for r in report.registries.values())


def exit_code(report: RunReport) -> int:
    if nothing_read(report):
        return EXIT_FAILED
    return EXIT_PARTIAL if report.failures else EXIT_OK


def empty_registries(report: RunReport) -> list[str]:
    """Registries read completely that hold no artifact: counted as read, but not by the reports,
    which count the registries holding artifacts."""
    return sorted(r.ref for r in report.registries.values() if r.ok and r.rows_read == 0)


# Up to this many registries the summary lists every one; past it (a space of 2,000 registries),
# only those that failed or keep their cursor, and a count of the others.
FULL_TABLE_UP_TO = 30


def registry_status(result: ListResult) -> str:
    """The summary's status column for one registry."""
    if result.error:
        return f"FAILED: {result.error}"
    if result.cursor_kept:
        return "ok, changed while read: cursor kept, the next run re-reads it"
    if result.rows_read == 0:
        return "ok, empty"
    return "ok"


def write_registries_csv(report: RunReport, path: str) -> None:
    """The per-registry table as CSV, one row per registry, sorted by registry."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["registry", "read", "loaded", "pages", "requests", "status"])
        for result in sorted(report.registries.values(), key=lambda r: r.ref):
            writer.writerow(
                [
                    result.ref,
                    result.rows_read,
                    result.rows_loaded,
                    result.pages,
                    result.requests,
                    registry_status(result),
                ]
            )


def print_summary(
    report: RunReport,
    settings: PipelineSettings,
    seconds: float,
    package_types: tuple[str, ...] = (),
    every_registry: bool = False,
) -> None:
    """Rows per registry, requests and time, on stdout; failures named with their reason.

    `package_types` is the run's package type filter, to say so when it matched no registry.
    Past `FULL_TABLE_UP_TO` registries only the ones that failed or kept their cursor are listed,
    unless `every_registry`."""
    out = sys.stdout
    every = sorted(report.registries.values(), key=lambda r: r.ref)
    registries = every
    if not every_registry and len(every) > FULL_TABLE_UP_TO:
        registries = [r for r in every if r.error or r.cursor_kept]
    width = max([display_width("registry"), *(display_width(r.ref) for r in registries)])
    out.write(
        f"{report.rows_loaded} artifact rows loaded from "
        f"{plural(len(every), 'registry', 'registries')} into "
        f"{settings['destination']} dataset {settings['dataset_name']} in {seconds:.1f} s "
        f"({plural(report.requests, 'request')}, {report.throttled} throttled)\n"
    )
    if report.versions_requested or report.version_rows:
        out.write(
            f"versions: {report.version_rows} rows of {report.versions_requested} artifacts "
            f"loaded ({report.version_requests} requests, {report.versions_failed} failed)\n"
        )
    out.write(f"  {_pad('registry', width)}  {'read':>7}  {'loaded':>7}  {'pages':>5}  status\n")
    for result in registries:
        out.write(
            f"  {_pad(result.ref, width)}  {result.rows_read:>7}  {result.rows_loaded:>7}  "
            f"{result.pages:>5}  {registry_status(result)}\n"
        )
    hidden = len(every) - len(registries)
    if hidden:
        empty = sum(1 for r in every if registry_status(r) == "ok, empty")
        out.write(
            f"  and {plural(hidden, 'more registry', 'more registries')} read ok "
            f"({empty} of them empty): --verbose lists every one, --registries-csv FILE "
            "writes them to a file\n"
        )
    for space in sorted(report.spaces.values(), key=lambda r: r.ref):
        if space.error:
            out.write(f"  space {space.ref}: FAILED: {space.error}\n")
        elif space.rows_read == 0 and package_types:
            out.write(
                f"  space {space.ref}: no registry of package type {', '.join(package_types)}: "
                "the --package-type filter matched nothing (Harness names types DOCKER, MAVEN, "
                "NPM, ...)\n"
            )
        elif space.rows_read == 0:
            out.write(f"  space {space.ref}: holds no registry\n")
    names = ", ".join(sorted(r.ref for r in report.failures))
    if nothing_read(report):
        sys.stderr.write(
            "error: the run failed: none of the registries or spaces could be read (see above), "
            f"nothing was loaded: {names}\n"
        )
    elif report.failures:
        sys.stderr.write(
            f"error: {len(report.failures)} of the registries or spaces could not be read "
            f"(see above), the others were loaded: {names}\n"
        )
    out.flush()


def _pad(text: str, width: int) -> str:
    """Left-aligned in `width` terminal columns (wide characters take two)."""
    return text + " " * (width - display_width(text))


def package_type_filter(args: argparse.Namespace) -> tuple[str, ...]:
    """The run's package types: the flags, else the config, as the source validates them."""
    option = OPTIONS_BY_NAME["package_types"]
    given = getattr(args, option.name, None)
    if given is None:
        given = dlt.config.get(f"sources.harness_registry.{option.name}")
    try:
        return tuple(option.validate(given))
    except ConfigError:  # the source has named the bad value already
        return ()


def command_demo(args: argparse.Namespace) -> int:
    from harness_emulator import EmulatorProcess

    duckdb_path = str(Path(args.duckdb).resolve())
    os.environ["DESTINATION__DUCKDB__CREDENTIALS"] = duckdb_path
    settings = PipelineSettings(
        pipeline_name="harness_registry_demo", destination="duckdb", dataset_name="harness"
    )
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
        source_options = {
            "registries": readable,
            "base_url": emulator.base_url,
            "api_key": emulator.api_key,
            "versions": True,
            # The emulator is local and unlimited: Harness's 400-a-minute pacing would only make
            # the demo's ~460 requests take over a minute.
            "requests_per_minute": 0,
        }
        # and from an empty dataset, so figures do not pile up across runs
        run = run_pipeline(settings, source_options, refresh="drop_sources")
    print_summary(run.report, settings, time.monotonic() - started)
    print_demo_figures(duckdb_path, settings["dataset_name"], empty_registries(run.report))
    return exit_code(run.report)


def command_report(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    destination = check_destination(settings["destination"])
    if destination_kind(destination) == FILESYSTEM:
        # the reports query a SQL database; dlt's filesystem destination has none to query
        print(
            "error: report needs a SQL destination (duckdb, postgres, ...), not filesystem: "
            "query Delta or Iceberg tables with DuckDB (delta_scan, iceberg_scan), Spark or Trino",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    return print_reports(
        settings,
        output_format=args.format,
        days=args.days,
        top=args.top,
        names=args.report,
        cleanup_days=args.cleanup_days,
        destination=destination,  # checked once: each check resolves the destination's config
    )


def command_sql(args: argparse.Namespace) -> int:
    return run_sql(args.duckdb or default_database(), args.dataset, args.query, args.format)


def command_notebook(args: argparse.Namespace) -> int:
    return run_notebook(html=args.html, output=args.output)


def interrupted(command: str, error: BaseException) -> str:
    """One sentence for Ctrl-C: what stopped, and what that leaves behind."""
    if command not in ("run", "demo"):
        return f"interrupted (Ctrl-C): {command} stopped; it changes nothing"
    # dlt wraps the interrupt in the step it stopped (extract, normalize, load)
    step = getattr(error, "step", None)
    during = f" during {step}" if isinstance(step, str) else ""
    return (
        f"interrupted (Ctrl-C){during}: the {command} stopped, nothing half-written was "
        "committed, and the next run resumes where it left off"
    )


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """`error`, then each error it wraps, outermost first, each once: dlt's wrappers keep the error
    a source raised in `exception` (PipelineStepFailed, extraction errors), Python in `__cause__`
    or `__context__`.

    Example:
        any(isinstance(wrapped, AuthError) for wrapped in error_chain(error))
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__


def root_cause(error: BaseException) -> BaseException:
    """The error a user can act on, dug out of dlt's wrappers (PipelineStepFailed, extraction errors):
    one of ours or a missing setting if there is one, else the innermost cause."""
    innermost = error
    for current in error_chain(error):
        if isinstance(current, HarnessRegistryError | ConfigurationError):
            return current
        innermost = current
    return innermost


def describe(error: BaseException) -> tuple[str, int]:
    """One line naming the cause and what to do, and the exit code."""
    cause = root_cause(error)
    if isinstance(cause, ConfigFieldMissingException):
        if "api_key" in cause.fields:
            return (
                f"no API key: set api_key under {CONFIG_SECTION} in .dlt/secrets.toml "
                f"or export {ENV_PREFIX}API_KEY",
                EXIT_CONFIG,
            )
        fields = ", ".join(cause.fields)
        return (
            f"missing configuration {fields} for {cause.spec_name}: set it in .dlt/secrets.toml or the environment",
            EXIT_CONFIG,
        )
    if isinstance(cause, ConfigValueCannotBeCoercedException):
        # the value is not shown: the field may be a credential
        type_name = getattr(cause.hint, "__name__", str(cause.hint))
        return (
            f"configuration: {cause.field_name} is not a valid {type_name}: fix it in "
            ".dlt/config.toml or the environment",
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
    args.verbose = getattr(args, "verbose", False)
    configure_logging(args.verbose)
    commands = {
        "run": command_run,
        "demo": command_demo,
        "report": command_report,
        "sql": command_sql,
        "notebook": command_notebook,
    }
    try:
        return commands[args.command](args)
    except RunLockHeld as held:
        hint = "" if held.waited else ". Use --lock-timeout SECONDS to wait for it"
        print(f"error: {held}{hint}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt as stop:
        print(f"error: {interrupted(args.command, stop)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if isinstance(root_cause(error), KeyboardInterrupt):
            print(f"error: {interrupted(args.command, error)}", file=sys.stderr)
            return EXIT_INTERRUPTED
        if args.verbose:
            raise
        message, code = describe(error)
        print(f"error: {message}", file=sys.stderr)
        return code


# Imported only to write open tables (`run --table-format`); their native thread pools are the reason
# for `entry_point`'s way out.
NATIVE_POOL_MODULES = ("deltalake", "pyiceberg")


def entry_point() -> None:
    """The `harness-registry` command (and `pipelines/harness_registry_pipeline.py`): `main`, then exit.

    After a run that wrote Delta or Iceberg tables the process leaves with `os._exit`, once the
    output is flushed: delta-rs and Arrow keep native thread pools whose teardown at interpreter exit
    can abort the process ("terminate called without an active exception", delta-io/delta-rs#2184),
    turning a committed load's exit code into SIGABRT. Everything of the run is on disk by then.
    """
    code = main()
    if any(name in sys.modules for name in NATIVE_POOL_MODULES):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry_point()
