"""Every command README.md or the demo suggests works when pasted as shown from the repository root
after `make demo`.

README blocks marked `<!-- commands: offline -->` are run (`make demo`/`make test` themselves only
dry-run: this suite is `make test`); blocks marked `<!-- commands: harness -->` need a Harness
account and are parsed by the CLI's own parser instead. The demo's "Next" lines are run as printed,
in an environment that names no database: they name the demo's file themselves. The README's
commands read the demo's database through the variables they honour, as after an `export`.

Each distinct execution runs once. A Next line that is a README command with variable assignments
in front (`HARNESS_REGISTRY_DUCKDB=/tmp/x/harness_registry.duckdb make notebook` for `make notebook`)
is the same execution as that README command run in an environment holding those assignments, and
the README command is run in exactly that environment, so the one run of the Next line answers for
both: `split_assignments` accepts only leading `NAME=value` words whose value has no quote,
expansion or other character the shell treats specially, and requires the rest of the line to be
the README command byte for byte. The shell then parses that rest as it parses the README command,
and exports the assignments to the program it starts (POSIX, Shell Command Language 2.9.1: for a
command that is not a special built-in or a function, the assignments are exported for its
execution environment), so the program gets the same arguments, working directory, standard input
and environment either way (the variables assigned, the database's, mean nothing to the shell); `test_an_inline_assignment_reaches_the_program_as_the_environment_does`
shows it with this machine's shell. A README command that differs in anything else (`sql` without
`--duckdb`) runs on its own.
"""

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass

import duckdb
import pytest

from conftest import QUICK_MODULES, REPO_ROOT
from harness_registry_pipelines.cli import build_parser

README = REPO_ROOT / "README.md"
VENV_COMMAND = ".venv/bin/harness-registry"
BLOCK = re.compile(r"<!-- commands: (\w+) -->\s*```sh\n(.*?)```", re.DOTALL)
NOT_RUN_HERE = {"make demo", "make test"}  # the suite runs inside `make test`; the demo is below


def readme_commands(kind: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    commands = []
    for found_kind, body in BLOCK.findall(text):
        if found_kind == kind:
            for line in body.splitlines():
                command = line.split("  #", 1)[0].strip()
                if command:
                    commands.append(command)
    return commands


# The variables through which the README's commands read the demo's database: `report` and `sql`
# dlt's destination credentials, the notebook its own.
DATABASE_VARIABLES = ("DESTINATION__DUCKDB__CREDENTIALS", "HARNESS_REGISTRY_DUCKDB")
# `NAME=value ` at the start of a line, the value a plain word (no quote, `$`, backquote, `~`,
# glob, blank or operator): the shell assigns it as written
ASSIGNMENT = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[A-Za-z0-9_./:@%+,=-]*) ")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`harness-registry demo` as `make demo` runs it, writing a database of its own. Its
    environment, which every command here starts from, names no database, destination or source
    and no make arguments (whatever the shell that started the tests had set)."""
    folder = tmp_path_factory.mktemp("demo")
    database = folder / "harness_registry.duckdb"
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SOURCES__", "DESTINATION__", "HARNESS_REGISTRY_"))
        and key not in {"NOTEBOOK_ARGS", "SQL_ARGS"}
    }
    env = {
        **inherited,
        "DLT_DATA_DIR": str(folder / "dlt_data"),
        "HARNESS_REGISTRY_LOCK_DIR": str(folder / "locks"),
    }
    result = subprocess.run(
        [VENV_COMMAND, "demo", "--duckdb", str(database)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout, database, folder, env


def run_shell(command: str, env: dict[str, str], timeout: float = 600):
    return subprocess.run(
        command,
        shell=True,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@dataclass(frozen=True)
class Execution:
    """One command line run in the shell, and the size of the notebook HTML it left (None: none)."""

    result: subprocess.CompletedProcess
    html_size: int | None


class Executions:
    """Runs each distinct command line with distinct variables once, in the demo's environment
    plus `NOTEBOOK_ARGS` (no browser here: the HTML goes to the demo's folder) plus the variables
    given, and hands that one result to every test that asks for the same."""

    def __init__(self, demo) -> None:
        _, _, folder, env = demo
        self.html = folder / "notebook.html"
        self.env = {**env, "NOTEBOOK_ARGS": f"--html --output {self.html}"}
        self.done: dict[tuple[str, frozenset[tuple[str, str]]], Execution] = {}

    def run(self, command: str, variables: dict[str, str]) -> Execution:
        key = (command, frozenset(variables.items()))
        if key not in self.done:
            self.html.unlink(missing_ok=True)  # an HTML file found afterwards is this run's
            result = run_shell(command, {**self.env, **variables})
            size = self.html.stat().st_size if self.html.exists() else None
            self.done[key] = Execution(result, size)
        return self.done[key]


@pytest.fixture(scope="module")
def executions(demo) -> Executions:
    return Executions(demo)


def split_assignments(line: str) -> tuple[dict[str, str], str]:
    """The leading plain variable assignments of a command line (see ASSIGNMENT), and the rest of
    it byte for byte.

    >>> split_assignments("HARNESS_REGISTRY_DUCKDB=/tmp/d.duckdb make notebook")
    ({'HARNESS_REGISTRY_DUCKDB': '/tmp/d.duckdb'}, 'make notebook')
    """
    assignments = {}
    while match := ASSIGNMENT.match(line):
        assignments[match["name"]] = match["value"]
        line = line[match.end() :]
    return assignments, line


def with_the_database_inline(command: str, next_commands: list[str]) -> str | None:
    """The Next line that is this README command with variables assigned in front, or None."""
    for line in next_commands:
        assignments, rest = split_assignments(line)
        if assignments and rest == command:
            return line
    return None


def check_output(command: str, execution: Execution) -> None:
    result = execution.result
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    if " report" in command:
        assert "Inventory by registry and package type" in result.stdout
    if " sql" in command and "make sql" not in command:
        assert re.search(r"^PYTHON +\d+$", result.stdout, re.MULTILINE), result.stdout
    if "notebook" in command:
        assert execution.html_size is not None and execution.html_size > 10_000, command
        assert "notebook.html" in result.stdout


def next_lines(stdout: str) -> list[str]:
    lines = stdout.split("\nNext, from this directory:\n", 1)[1].splitlines()
    return [line.split("  # ", 1)[0].strip() for line in lines if line.strip()]


def test_readme_offline_commands_run_against_the_demo_database(demo, executions):
    """Each command with the demo's database named through the variables it honours. One that a
    Next line repeats with the database named inline runs in the environment those assignments
    make (the variable it honours, and only that one), which is the Next line's own run (see the
    module); any other with both variables."""
    stdout, database, _, _ = demo
    commands = readme_commands("offline")
    assert {"make demo", "make test", f"{VENV_COMMAND} report", "make sql", "make notebook"} <= set(
        commands
    )
    both = dict.fromkeys(DATABASE_VARIABLES, str(database))
    env = {**executions.env, **both}
    for command in commands:
        if command in NOT_RUN_HERE:
            dry = run_shell(f"make -n {command.split()[1]}", env)
            assert dry.returncode == 0, dry.stderr
            continue
        if command == "make sql":  # a prompt: fed a query on standard input
            result = subprocess.run(
                ["make", "-s", "sql"],
                cwd=REPO_ROOT,
                env=env,
                input="SELECT count(*) AS n FROM harness.artifacts;",
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert result.returncode == 0, result.stderr
            assert re.search(r"^ *\d+$", result.stdout, re.MULTILINE), result.stdout
            continue
        inline = with_the_database_inline(command, next_lines(stdout))
        if inline is not None:
            assignments, _ = split_assignments(inline)
            assert set(assignments) <= set(DATABASE_VARIABLES), inline
            assert {(REPO_ROOT / value).resolve() for value in assignments.values()} == {
                database.resolve()
            }, inline
            # `command` with `assignments` in its environment: the very execution of `inline`
            check_output(command, executions.run(inline, {}))
        else:
            check_output(command, executions.run(command, both))


def test_readme_harness_commands_parse():
    commands = readme_commands("harness")
    assert commands
    parser = build_parser()
    for command in commands:
        words = shlex.split(command)
        assert words[0] == VENV_COMMAND, command
        parser.parse_args(words[1:])


def test_the_demos_next_steps_run_as_printed(demo, executions):
    """As printed, in an environment that names no database (see `demo`): each line names the
    demo's file itself."""
    stdout, _, _, _ = demo
    commands = next_lines(stdout)
    assert any(" report" in command for command in commands)
    assert any(" sql " in command for command in commands)
    assert any("notebook" in command for command in commands)
    assert not set(DATABASE_VARIABLES) & set(executions.env)
    for command in commands:
        check_output(command, executions.run(command, {}))


def test_an_inline_assignment_reaches_the_program_as_the_environment_does(demo, executions):
    """What the module relies on to run a Next line once for its README command too, shown with
    the shell that runs them (`/bin/sh`, as subprocess's shell=True): the program started by
    `NAME=value program` gets the very environment that `program` gets when the shell's own
    environment holds NAME=value. `env -0` stands in for the program and prints its environment."""
    stdout, _, _, _ = demo
    inline_lines = [line for line in next_lines(stdout) if split_assignments(line)[0]]
    assert inline_lines
    for line in inline_lines:
        assignments, rest = split_assignments(line)
        inline = run_shell(line.removesuffix(rest) + "env -0", executions.env)
        exported = run_shell("env -0", {**executions.env, **assignments})
        assert inline.returncode == exported.returncode == 0, inline.stderr + exported.stderr
        assert sorted(inline.stdout.split("\0")) == sorted(exported.stdout.split("\0")), line


def test_the_demo_and_report_count_registries_alike(demo):
    stdout, database, _, env = demo
    summary = re.match(r"\d+ artifact rows loaded from (\d+) registries", stdout.splitlines()[1])
    figures = re.search(
        r"^\d+ artifacts in (\d+) registries(?: \(and (\d+) empty registr(?:y|ies): [^)]*\))?,",
        stdout,
        re.MULTILINE,
    )
    assert summary and figures, stdout
    report = subprocess.run(
        [VENV_COMMAND, "report", "--format", "json", "--report", "totals"],
        cwd=REPO_ROOT,
        env={**env, "DESTINATION__DUCKDB__CREDENTIALS": str(database)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    totals = json.loads(report.stdout)["reports"]["totals"]["rows"][0]
    empty = int(figures.group(2) or 0)
    assert int(figures.group(1)) == totals["registries"]
    assert int(summary.group(1)) == totals["registries"] + empty
    assert empty == stdout.count(" ok, empty")
    with duckdb.connect(str(database), read_only=True) as db:
        assert db.sql("SELECT count(DISTINCT registry_ref) FROM harness.artifacts").fetchall() == [
            (totals["registries"],)
        ]


def test_every_make_target_of_the_development_section_exists():
    """The `make` lines under "## Development" name real targets (a dry run, nothing is built)."""
    section = README.read_text(encoding="utf-8").split("\n## Development\n", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "no command block under ## Development"
    targets = [line.split()[1] for line in block.group(1).splitlines() if line.startswith("make ")]
    assert {"test", "test-fast", "lint"} <= set(targets)
    printed = {}
    for target in targets:
        dry = subprocess.run(
            ["make", "-n", target], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
        )
        assert dry.returncode == 0, f"make -n {target}\n{dry.stderr}"
        printed[target] = dry.stdout
    assert "-m quick" in printed["test-fast"]


def test_every_quick_module_exists():
    """A renamed module would silently leave `make test-fast` (never `make test`)."""
    present = {path.name for path in (REPO_ROOT / "tests").rglob("test_*.py")}
    assert sorted(QUICK_MODULES - present) == []
