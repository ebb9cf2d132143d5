"""A newcomer's mistakes, through the CLI's `main` against the emulator: each ends with one line
naming the cause and what to do, and the exit code the README names. Ctrl-C is sent to a real
process."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from conftest import (
    CLI,
    REPO_ROOT,
    call_cli,
    cli_env,
    expected_artifacts,
    readable_registries,
    registry_args,
)
from harness_registry_pipelines.report_output import display_width


def error_lines(result):
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_an_unknown_destination_exits_2_naming_it_and_the_valid_ones(emulator, tmp_path):
    result = call_cli(
        "run", "--registry", "acme/shared-docker", "--destination", "duckdbb",
        env=cli_env(emulator, tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert error_lines(result) == [result.stderr.strip()]
    assert result.stderr.startswith(
        "error: configuration: unknown destination 'duckdbb' (did you mean duckdb?): use one of "
    )
    assert "duckdb, " in result.stderr and "postgres, " in result.stderr
    assert emulator.requests_log() == []
    report = call_cli("report", "--destination", "duckdbb", env=cli_env(emulator, tmp_path))
    assert report.returncode == 2 and report.stderr == result.stderr


def pipeline_state(tmp_path):
    folder = tmp_path / "dlt_data" / "pipelines" / "harness_registry"
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != "trace.pickle"
    }


@pytest.mark.parametrize("failed", ["report", "run"])
def test_a_failed_command_leaves_the_pipeline_state_alone(emulator, tmp_path, failed):
    env = cli_env(emulator, tmp_path)
    refs = readable_registries(emulator)[:2]
    assert call_cli("run", *registry_args(refs), env=env).returncode == 0
    state = pipeline_state(tmp_path)
    baseline = call_cli("report", "--format", "json", env=env)
    assert baseline.returncode == 0 and baseline.stderr == ""

    args = ["--destination", "postgres"]
    wrong = call_cli(failed, *(registry_args(refs) if failed == "run" else []), *args, env=env)
    assert wrong.returncode == 2
    assert wrong.stderr == (
        "error: configuration: no credentials for destination postgres: set them under "
        "[destination.postgres.credentials] in .dlt/secrets.toml or in "
        "DESTINATION__POSTGRES__CREDENTIALS\n"
    )
    assert pipeline_state(tmp_path) == state

    report = call_cli("report", "--format", "json", env=env)
    assert (report.returncode, report.stderr) == (0, "")
    without_time = ("generated_at", "since")
    assert {k: v for k, v in json.loads(report.stdout).items() if k not in without_time} == {
        k: v for k, v in json.loads(baseline.stdout).items() if k not in without_time
    }
    again = call_cli("run", *registry_args(refs), env=env)
    assert again.returncode == 0
    assert "WARNING" not in again.stderr
    assert again.stdout.startswith("0 artifact rows loaded from 2 registries into duckdb")


def test_package_type_without_a_space_is_refused(emulator, tmp_path):
    result = call_cli(
        "run", "--registry", "acme/shared-docker", "--package-type", "DOCKER",
        env=cli_env(emulator, tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        "error: configuration: package_types filters the registries discovered in spaces, and "
        "no spaces are set: add --space (spaces in .dlt/config.toml), or drop --package-type\n"
    )
    assert emulator.requests_log() == []


def test_a_package_type_that_matches_nothing_says_so(emulator, tmp_path):
    result = call_cli(
        "run", "--space", "acme", "--package-type", "FOO", env=cli_env(emulator, tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0 artifact rows loaded from 0 registries")
    assert (
        "  space acme: no registry of package type FOO: the --package-type filter matched nothing"
        in result.stdout
    )


def test_a_lower_case_package_type_is_the_upper_case_one(emulator, tmp_path):
    result = call_cli(
        "run", "--space", "acme", "--package-type", "docker", env=cli_env(emulator, tmp_path)
    )
    assert result.returncode == 0, result.stderr
    docker = [
        r["path"]
        for r in emulator.dataset()["registries"]
        if r["path"].startswith("acme/") and r["packageType"] == "DOCKER"
        and not r.get("forbidden") and not r.get("deleted")
    ]  # fmt: skip
    assert docker
    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as db:
        loaded = db.sql("SELECT DISTINCT registry_ref FROM harness.artifacts").fetchall()
    assert sorted(ref for (ref,) in loaded) == sorted(
        r for r in docker if emulator.dataset()["artifacts"][r]
    )


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["--registry", "acme/no-such-registry"], "acme/no-such-registry"),
        (["--space", "nosuch"], "nosuch"),
    ],
)
def test_nothing_readable_is_a_failed_run(emulator, tmp_path, args, name):
    result = call_cli("run", *args, env=cli_env(emulator, tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        "error: the run failed: none of the registries or spaces could be read (see above), "
        f"nothing was loaded: {name}\n"
    )


def test_summary_counts_in_words_and_aligns_wide_names(emulator, tmp_path):
    wide = "acme/données-é-中文"
    emulator.mutate([{"op": "add_registry", "path": wide, "package_type": "RAW", "artifacts": 2}])
    one = call_cli("run", "--registry", "acme/shared-docker", env=cli_env(emulator, tmp_path))
    assert one.stdout.startswith("40 artifact rows loaded from 1 registry into ")
    result = call_cli("run", "--space", "acme", env=cli_env(emulator, tmp_path))
    assert result.returncode == 3, result.stderr  # the seeded forbidden and deleted registries
    rows = [line for line in result.stdout.splitlines()[1:] if not line.startswith("  space ")]
    assert any(wide in line for line in rows)
    # the "read" column ends in the same terminal column on every line, the header's included
    ends = {display_width(re.match(r"  \S+ +\S+", line).group()) for line in rows}
    assert len(ends) == 1, result.stdout


def test_ctrl_c_stops_the_run_with_one_sentence_and_130_then_the_next_run_loads_all(
    emulator, tmp_path
):
    refs = readable_registries(emulator)
    env = {
        **os.environ,
        **cli_env(emulator, tmp_path),
        "SOURCES__HARNESS_REGISTRY__REGISTRIES": ",".join(refs),
        "SOURCES__HARNESS_REGISTRY__PAGE_SIZE": "10",
        "SOURCES__HARNESS_REGISTRY__CONCURRENCY": "1",
    }
    emulator.set_config(latency_ms=100)
    process = subprocess.Popen(
        [sys.executable, str(CLI), "run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell's background job may inherit SIGINT ignored: give the CLI Python's own handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while emulator.stats()["requests"] < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stdout == ""
    assert stderr == (
        "error: interrupted (Ctrl-C) during extract: the run stopped, nothing half-written was "
        "committed, and the next run resumes where it left off\n"
    )

    emulator.set_config(latency_ms=0)
    rerun = call_cli("run", env=env)
    assert rerun.returncode == 0, rerun.stderr
    expected = expected_artifacts(emulator, refs)
    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as db:
        keys = db.sql(
            "SELECT registry_ref, name, artifact_type, latest_version FROM harness.artifacts"
        ).fetchall()
    assert len(keys) == len({key[:3] for key in keys}), "duplicate rows"
    assert {key[:3]: key[3] for key in keys} == {
        key: row["latest_version"] for key, row in expected.items()
    }
