"""The CLI as cron runs it: exit codes, one-line errors without tracebacks, the summary, the key kept
out of every output. Through the CLI's `main` in this process, but for the run lock, which is held
by this process against a CLI process."""

import csv
import threading

import duckdb
import pytest

from conftest import (
    artifact_requests,
    call_cli,
    cli_env,
    readable_registries,
    registry_args,
    run_cli,
)
from harness_registry import ListResult, RunReport
from harness_registry_pipelines import cli
from harness_registry_pipelines.cli import FULL_TABLE_UP_TO, print_summary
from harness_registry_pipelines.runlock import RunLock


def test_run_loads_prints_summary_and_exits_zero(emulator, tmp_path):
    refs = readable_registries(emulator)
    result = call_cli(
        "run", *registry_args(refs), "--page-size", "9", env=cli_env(emulator, tmp_path)
    )
    assert result.returncode == 0, result.stderr
    truth = emulator.dataset()["artifacts"]
    total = sum(len(truth[ref]) for ref in refs)
    assert (
        f"{total} artifact rows loaded from {len(refs)} registries into duckdb dataset harness"
        in result.stdout
    )
    for ref in refs:
        line = next(
            line for line in result.stdout.splitlines() if line.strip().startswith(ref + " ")
        )
        assert line.split()[1:3] == [str(len(truth[ref])), str(len(truth[ref]))]
    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as db:
        assert db.sql("SELECT count(*) FROM harness.artifacts").fetchall() == [(total,)]
    assert "Traceback" not in result.stderr


def test_second_run_loads_zero_rows(emulator, tmp_path):
    refs = readable_registries(emulator)[:3]
    env = cli_env(emulator, tmp_path)
    assert call_cli("run", *registry_args(refs), env=env).returncode == 0
    second = call_cli("run", *registry_args(refs), env=env)
    assert second.returncode == 0
    assert second.stdout.startswith("0 artifact rows loaded from 3 registries")


def test_refused_key_is_named_without_echoing_it_or_a_traceback(emulator, tmp_path):
    key = "pat.wrong-key-7f3a9c"
    result = call_cli(
        "run", "--registry", "acme/shared-docker", env=cli_env(emulator, tmp_path, key)
    )
    assert result.returncode == 1
    assert "Harness refused the API key (401 Unauthorized)" in result.stderr
    assert "Traceback" not in result.stderr
    assert key not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_key_is_a_config_error(emulator, tmp_path):
    env = cli_env(emulator, tmp_path)
    del env["SOURCES__HARNESS_REGISTRY__API_KEY"]
    result = call_cli("run", "--registry", "acme/shared-docker", env=env)
    assert result.returncode == 2
    assert "no API key" in result.stderr
    assert "SOURCES__HARNESS_REGISTRY__API_KEY" in result.stderr
    assert emulator.requests_log() == []


def test_unknown_and_forbidden_registries_are_named_others_still_load(emulator, tmp_path):
    forbidden = next(r["path"] for r in emulator.dataset()["registries"] if r.get("forbidden"))
    good = readable_registries(emulator)[0]
    result = call_cli(
        "run",
        *registry_args([good, "acme/no-such-registry", forbidden]),
        env=cli_env(emulator, tmp_path),
    )
    assert result.returncode == 3
    assert "acme/no-such-registry" in result.stdout and "not found" in result.stdout
    assert f"{forbidden}" in result.stdout and "forbidden (403)" in result.stdout
    assert result.stderr == (
        "error: 2 of the registries or spaces could not be read (see above), the others were "
        f"loaded: {', '.join(sorted(['acme/no-such-registry', forbidden]))}\n"
    )
    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as db:
        loaded = db.sql("SELECT DISTINCT registry_ref FROM harness.artifacts").fetchall()
    assert loaded == [(good,)]


def test_deleted_registry_is_named_and_not_retried(emulator, tmp_path):
    deleted = next(r["path"] for r in emulator.dataset()["registries"] if r.get("deleted"))
    result = call_cli("run", "--registry", deleted, env=cli_env(emulator, tmp_path))
    assert result.returncode == 1  # the only registry named: nothing could be read, the run failed
    assert "the registry is deleted or unavailable (500: Failed to find repo" in result.stdout
    assert len(emulator.requests_log()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--registry", "acme/../etc"], "invalid registry ref 'acme/../etc'"),
        (["--registry", "acme/reg?x"], "ACCOUNT/ORG/PROJECT/REGISTRY"),
        (["--registry", "acme/r", "--page-size", "0"], "page_size must be at least 1"),
        (["--registry", "acme/r", "--concurrency", "0"], "concurrency must be at least 1"),
        (["--registry", "acme/r", "--base-url", "http://harness.example.com"], "use https://"),
    ],
)
def test_bad_input_exits_2_before_any_request(emulator, tmp_path, args, message):
    result = call_cli("run", *args, env=cli_env(emulator, tmp_path))
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.startswith("error: configuration: ")
    assert "Traceback" not in result.stderr
    assert emulator.requests_log() == []


def test_wrong_base_url_path_names_the_base_url(emulator, tmp_path):
    env = cli_env(emulator, tmp_path)
    env["SOURCES__HARNESS_REGISTRY__BASE_URL"] = emulator.base_url + "/wrong-prefix"
    result = call_cli("run", "--registry", "acme/shared-docker", env=env)
    assert result.returncode == 1
    assert "has no Harness Artifact Registry API" in result.stderr
    assert "check base_url" in result.stderr


def test_unreachable_server_is_one_line(tmp_path, emulator):
    env = cli_env(emulator, tmp_path)
    env["SOURCES__HARNESS_REGISTRY__BASE_URL"] = "http://127.0.0.1:9"
    result = call_cli("run", "--registry", "acme/shared-docker", env=env)
    assert result.returncode == 1
    # retries are logged on the way; the error is the last line, and the only one saying "error"
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        "error: cannot connect to 127.0.0.1:9 (Connection refused): check base_url and the network"
    )
    assert all("retrying after ConnectionError" in line for line in lines[:-1])
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--verbose", "run", "--registry", "acme/shared-docker"],
        ["run", "--registry", "acme/shared-docker", "--verbose"],
    ],
    ids=["before-the-command", "after-the-command"],
)
def test_verbose_shows_the_traceback(emulator, tmp_path, argv):
    result = call_cli(*argv, env=cli_env(emulator, tmp_path, "bad-key"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "bad-key" not in result.stderr + result.stdout


def test_an_overlapping_run_exits_4_with_a_clear_message_or_waits(emulator, tmp_path):
    """The autouse fixture points HARNESS_REGISTRY_LOCK_DIR at tmp for this process and the CLI."""
    env = cli_env(emulator, tmp_path)
    with RunLock("harness_registry"):
        blocked = run_cli("run", "--registry", "acme/shared-docker", env=env)
    assert blocked.returncode == 4
    assert blocked.stderr.startswith("error: another run of this pipeline is in progress (lock ")
    assert "Use --lock-timeout SECONDS to wait for it" in blocked.stderr
    assert emulator.requests_log() == []

    held = RunLock("harness_registry").__enter__()
    threading.Timer(1.5, held.__exit__, (None, None, None)).start()
    waited = run_cli("run", "--registry", "acme/shared-docker", "--lock-timeout", "30", env=env)
    assert waited.returncode == 0, waited.stderr
    assert len(emulator.requests_log()) == 1


def test_a_run_that_waited_for_the_lock_says_how_long(emulator, tmp_path):
    env = cli_env(emulator, tmp_path)
    with RunLock("harness_registry"):
        blocked = run_cli("run", "--registry", "acme/shared-docker", "--lock-timeout", "2", env=env)
    assert blocked.returncode == 4
    assert blocked.stderr == (
        "error: another run of this pipeline is in progress "
        f"(lock {tmp_path / 'locks' / 'harness_registry.run.lock'}); waited 2 s for it to finish, "
        "and left it alone\n"
    )
    assert emulator.requests_log() == []


def test_a_wrong_type_in_the_config_is_a_config_error(emulator, tmp_path):
    env = cli_env(emulator, tmp_path)
    env["SOURCES__HARNESS_REGISTRY__PAGE_SIZE"] = "ten"
    result = call_cli("run", "--registry", "acme/shared-docker", env=env)
    assert result.returncode == 2
    assert result.stderr == (
        "error: configuration: page_size is not a valid int: fix it in .dlt/config.toml or the "
        "environment\n"
    )
    assert emulator.requests_log() == []


def test_settings_come_from_the_project_config_files(emulator, tmp_path):
    """Each key under [sources.harness_registry] of .dlt/config.toml, the key from secrets.toml."""
    project = tmp_path / "project"
    (project / ".dlt").mkdir(parents=True)
    (project / ".dlt" / "config.toml").write_text(
        "[sources.harness_registry]\n"
        'registries = ["acme/shared-docker"]\n'
        f'base_url = "{emulator.base_url}"\n'
        "page_size = 7\n"
        'sort_order = "DESC"\n'
        'search_term = "a"\n'
        "requests_per_minute = 0\n"
        "[runtime]\ndlthub_telemetry = false\n"
    )
    (project / ".dlt" / "secrets.toml").write_text(
        f'[sources.harness_registry]\napi_key = "{emulator.api_key}"\n'
    )
    env = {"DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "cli.duckdb")}
    result = call_cli("run", env=env, cwd=project)
    assert result.returncode == 0, result.stderr
    requests = artifact_requests(emulator, "acme/shared-docker")
    assert requests
    for request in requests:
        assert request["query"]["size"] == ["7"]
        assert request["query"]["sort_order"] == ["DESC"]
        assert request["query"]["search_term"] == ["a"]


def space_report(registries: int) -> RunReport:
    """A run over `registries` registries: r000 and r001 failed, r002 kept its cursor, every tenth
    of the others is empty."""
    report = RunReport()
    for number in range(registries):
        ref = f"acme/space/r{number:03}"
        empty = number > 2 and number % 10 == 0
        rows = 0 if empty or number < 2 else 5
        report.registries[ref] = ListResult(
            ref,
            rows_read=rows,
            rows_loaded=rows,
            pages=1,
            error="403 Forbidden" if number < 2 else None,
            cursor_kept=number == 2,
        )
    return report


def summary_lines(capsys, report: RunReport, every_registry: bool = False) -> list[str]:
    settings = {"destination": "duckdb", "dataset_name": "harness"}
    print_summary(report, settings, 1.0, every_registry=every_registry)  # type: ignore[arg-type]
    return capsys.readouterr().out.splitlines()


def test_a_run_over_many_registries_lists_the_failed_and_counts_the_others(capsys):
    lines = summary_lines(capsys, space_report(100))
    assert lines[0].startswith("445 artifact rows loaded from 100 registries into duckdb")
    rows = [line.split()[0] for line in lines[2:-1]]
    assert rows == ["acme/space/r000", "acme/space/r001", "acme/space/r002"]
    assert "FAILED: 403 Forbidden" in lines[2] and "cursor kept" in lines[4]
    assert lines[-1] == (
        "  and 97 more registries read ok (9 of them empty): --verbose lists every one, "
        "--registries-csv FILE writes them to a file"
    )


def test_verbose_or_few_registries_list_every_one(capsys):
    every = summary_lines(capsys, space_report(100), every_registry=True)
    assert [line.split()[0] for line in every[2:]] == [f"acme/space/r{n:03}" for n in range(100)]
    few = summary_lines(capsys, space_report(FULL_TABLE_UP_TO))
    assert len(few) == 2 + FULL_TABLE_UP_TO and "more registr" not in few[-1]


def test_registries_csv_holds_every_registry_of_the_run(emulator, tmp_path, monkeypatch):
    # a short table limit, so that this handful of registries is summarised as a space would be
    monkeypatch.setattr(cli, "FULL_TABLE_UP_TO", 2)
    refs = readable_registries(emulator)
    table = tmp_path / "registries.csv"
    args = ("run", *registry_args([*refs, "acme/no-such-registry"]))
    result = call_cli(*args, "--registries-csv", str(table), env=cli_env(emulator, tmp_path))
    assert result.returncode == 3, result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert listed == ["registry", "acme/no-such-registry", "and"], result.stdout
    verbose = call_cli(*args, "--verbose", env=cli_env(emulator, tmp_path))
    assert verbose.returncode == 3, verbose.stderr
    listed = [line.split()[0] for line in verbose.stdout.splitlines() if line.startswith("  ")]
    assert listed == ["registry", *sorted([*refs, "acme/no-such-registry"])], verbose.stdout
    truth = emulator.dataset()["artifacts"]
    with table.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["registry"] for row in rows] == sorted([*refs, "acme/no-such-registry"])
    for row in rows:
        if row["registry"] == "acme/no-such-registry":
            assert row["status"].startswith("FAILED: ") and row["read"] == "0"
        else:
            expected = str(len(truth[row["registry"]]))
            assert (row["read"], row["loaded"], row["status"]) == (
                expected,
                expected,
                "ok" if expected != "0" else "ok, empty",
            )
            assert int(row["pages"]) >= 1 and int(row["requests"]) >= int(row["pages"])
