"""Every command README.md or the demo suggests works when pasted as shown from the repository root
after `make demo`.

README blocks marked `<!-- commands: offline -->` are run (`make demo`/`make test` themselves only
dry-run: this suite is `make test`); blocks marked `<!-- commands: harness -->` need a Harness
account and are parsed by the CLI's own parser instead. The demo's "Next" lines are run as printed.
The database is the one a real demo wrote, named through the variables the commands honour.
"""

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import REPO_ROOT
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


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`harness-registry demo` as `make demo` runs it, writing a database of its own."""
    folder = tmp_path_factory.mktemp("demo")
    database = folder / "harness_registry.duckdb"
    env = {
        **os.environ,
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


def demo_env(demo) -> dict[str, str]:
    """The commands' default database is harness_registry.duckdb here; point them at the demo's."""
    _, database, folder, env = demo
    return {
        **env,
        "DESTINATION__DUCKDB__CREDENTIALS": str(database),
        "HARNESS_REGISTRY_DUCKDB": str(database),
        "NOTEBOOK_ARGS": f"--html --output {folder / 'notebook.html'}",
    }


def check_output(command: str, result, folder: Path) -> None:
    assert result.returncode == 0, f"{command}\n{result.stderr}"
    if " report" in command:
        assert "Inventory by registry and package type" in result.stdout
    if " sql" in command and "make sql" not in command:
        assert re.search(r"^PYTHON +\d+$", result.stdout, re.MULTILINE), result.stdout
    if "notebook" in command:
        assert (folder / "notebook.html").stat().st_size > 10_000
        assert "notebook.html" in result.stdout


def test_readme_offline_commands_run_against_the_demo_database(demo):
    commands = readme_commands("offline")
    assert {"make demo", "make test", f"{VENV_COMMAND} report", "make sql", "make notebook"} <= set(
        commands
    )
    env = demo_env(demo)
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
        check_output(command, run_shell(command, env), demo[2])


def test_readme_harness_commands_parse():
    commands = readme_commands("harness")
    assert commands
    parser = build_parser()
    for command in commands:
        words = shlex.split(command)
        assert words[0] == VENV_COMMAND, command
        parser.parse_args(words[1:])


def next_lines(stdout: str) -> list[str]:
    lines = stdout.split("\nNext, from this directory:\n", 1)[1].splitlines()
    return [line.split("  # ", 1)[0].strip() for line in lines if line.strip()]


def test_the_demos_next_steps_run_as_printed(demo):
    stdout, _, folder, env = demo
    commands = next_lines(stdout)
    assert any(" report" in command for command in commands)
    assert any(" sql " in command for command in commands)
    assert any("notebook" in command for command in commands)
    for command in commands:
        # the demo names its file in each command, so none needs the variables set here
        check_output(
            command,
            run_shell(
                command, {**env, "NOTEBOOK_ARGS": f"--html --output {folder / 'notebook.html'}"}
            ),
            folder,
        )


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
