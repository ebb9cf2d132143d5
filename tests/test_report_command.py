"""The `report` command, through the CLI's `main`: its three formats over the emulator's data loaded
by `run` (without versions: the version reports are skipped with one note), the version reports
over the fixture's tables, and its one-line errors with exit code 2."""

import csv
import io
import json
import os
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest
from test_reports import (
    ALL_REPORT_NAMES,
    COLUMNS,
    FIXTURE_VERSION_REPORTS,
    REPORT_NAMES,
    VERSION_COLUMNS,
    expected_reports,
    truth_rows,
)

from conftest import (
    call_cli,
    cli_env,
    module_setup,
    readable_registries,
    registry_args,
)
from harness_registry_pipelines.queries import ArtifactQueries
from harness_registry_pipelines.reports import run_queries
from harness_registry_pipelines.sql_engine import DuckDBEngine
from report_fixtures import ROWS, VERSIONS, load_rows

TIME_COLUMNS = {"last_modified", "last_change", "newest_change"}


@pytest.fixture(scope="module")
def loaded_cli(emulator_lender, tmp_path_factory):
    """The emulator's readable registries loaded by `run`, with two artifacts pushed a day ago so
    that the default 30-day window is not empty. Loaded once for the tests here, which only read
    it (`report` opens the database read-only); the env names the load's database and dlt folder."""
    with module_setup(emulator_lender, tmp_path_factory, "loaded_cli") as (folder, emulator, _):
        refs = readable_registries(emulator)
        pushed = [(ref, "pushed-yesterday") for ref in refs[:2]]
        yesterday_ms = round((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1000)
        emulator.mutate(
            [
                {"op": "add_artifact", "registry": ref, "name": name, "last_modified_ms": yesterday_ms, "downloads": 3}
                for ref, name in pushed
            ]
        )  # fmt: skip
        env = {
            **cli_env(emulator, folder),
            "DLT_DATA_DIR": os.environ["DLT_DATA_DIR"],
            "HARNESS_REGISTRY_LOCK_DIR": os.environ["HARNESS_REGISTRY_LOCK_DIR"],
        }
        result = call_cli("run", *registry_args(refs), env=env)
        assert result.returncode == 0, result.stderr
        return env, truth_rows(emulator, refs), pushed


def recent_names(rows, since):
    return {
        (row["registry_ref"], row["name"], row["artifact_type"])
        for row in rows
        if row["last_modified"] is not None and row["last_modified"] >= since
    }


def test_report_json_holds_every_figure(loaded_cli):
    env, rows, pushed = loaded_cli

    result = call_cli("report", "--format", "json", "--days", "30", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # loaded without --versions: the version reports are skipped quietly
    document = json.loads(result.stdout)
    now = datetime.fromisoformat(document["generated_at"])
    assert document["days"] == 30 and document["dataset"] == "harness"
    assert datetime.fromisoformat(document["since"]) == now - timedelta(days=30)
    assert abs(datetime.now(UTC) - now) < timedelta(minutes=5)
    expected = expected_reports(rows, now, 30, document["top"])
    assert list(document["reports"]) == REPORT_NAMES
    assert document["skipped"] == ALL_REPORT_NAMES[len(REPORT_NAMES) :]
    for name in REPORT_NAMES:
        report = document["reports"][name]
        assert report["columns"] == COLUMNS[name]
        assert [list(row) for row in report["rows"]] == [COLUMNS[name]] * len(report["rows"])
        assert [parse_times(row) for row in report["rows"]] == expected[name], name
    assert {(ref, name) for ref, name, _ in recent_names(rows, now - timedelta(days=30))} >= set(
        pushed
    )
    assert (
        document["reports"]["recently_modified"]["title"]
        == "Artifacts modified in the last 30 days"
    )


def parse_times(row: dict[str, Any]) -> dict[str, Any]:
    return {
        column: datetime.fromisoformat(value) if column in TIME_COLUMNS and value else value
        for column, value in row.items()
    }


def read_csv_sections(text: str) -> dict[str, tuple[str, list[list[str]]]]:
    """`# name: title` lines start sections; a blank line ends one."""
    sections: dict[str, tuple[str, list[list[str]]]] = {}
    current: list[list[str]] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row:
            current = None
        elif current is None:
            match = re.fullmatch(r"# (\w+): (.+)", row[0])
            assert match and len(row) == 1, row
            current = []
            sections[match.group(1)] = (match.group(2), current)
        else:
            current.append(row)
    return sections


def test_report_csv_has_a_section_per_report(loaded_cli):
    env, rows, pushed = loaded_cli
    before = datetime.now(UTC)

    result = call_cli("report", "--format", "csv", env=env)

    after = datetime.now(UTC)
    assert result.returncode == 0, result.stderr
    sections = read_csv_sections(result.stdout)
    assert list(sections) == REPORT_NAMES
    expected = expected_reports(rows, before, 30, 10)
    for name in ("totals", "inventory", "top_downloads", "quarantined", "label_usage"):
        header, *data = sections[name][1]
        assert header == COLUMNS[name]
        assert [parse_csv_row(header, line) for line in data] == [
            {column: csv_text(value) for column, value in row.items()} for row in expected[name]
        ], name
    # the window moved while the command ran: what was recent all along must be there, nothing older
    header, *data = sections["recently_modified"][1]
    got = {
        tuple(line[header.index(c)] for c in ("registry_ref", "name", "artifact_type"))
        for line in data
    }
    assert (
        recent_names(rows, after - timedelta(days=30))
        <= got
        <= recent_names(rows, before - timedelta(days=30))
    )
    assert {(ref, name) for ref, name, _ in got} >= set(pushed)
    assert sections["top_downloads"][0] == "Top 10 downloads"


def parse_csv_row(header: list[str], line: list[str]) -> dict[str, Any]:
    """CSV cells as text, timestamps parsed (their text form drops zero fractions)."""
    return {
        column: datetime.fromisoformat(cell) if column in TIME_COLUMNS and cell else cell
        for column, cell in zip(header, line, strict=True)
    }


def csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value
    return str(value)


def test_report_table_is_readable_and_names_the_total(loaded_cli):
    env, rows, _ = loaded_cli

    result = call_cli("report", env=env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Reports on duckdb dataset harness at ")
    assert "time window 30 days" in lines[0]
    titles = [
        "Totals",
        "Inventory by registry and package type",
        "Artifacts modified in the last 30 days",
        "Top 10 downloads",
        "Quarantined artifacts",
        "Label usage",
        "Registries with no change in the last 30 days",
    ]
    for title in titles:
        position = lines.index(title)
        assert lines[position + 1] == "-" * len(title)
    assert [line for line in lines if line in titles] == titles
    assert any(re.fullmatch(rf"artifacts +{len(rows)}", line) for line in lines)
    expected = expected_reports(rows, datetime.now(UTC), 30, 10)
    for group in expected["inventory"]:
        pattern = (
            rf"{re.escape(group['registry_ref'])} +{group['package_type']} +{group['artifacts']} +"
            rf"{group['downloads']} +{group['quarantined']} +"
        )
        assert any(re.fullmatch(pattern + r".*", line) for line in lines), pattern
    label_lines = lines[lines.index("Label usage") + 2 :]
    for usage in expected["label_usage"]:
        if len(usage["label"]) <= 60:
            assert any(
                re.fullmatch(
                    rf"{re.escape(usage['label'])} +{usage['artifacts']} +{usage['registries']}",
                    line,
                )
                for line in label_lines
            ), usage


def test_report_before_any_load_exits_2_without_creating_the_database(tmp_path):
    database = tmp_path / "never-loaded.duckdb"
    env = {"DESTINATION__DUCKDB__CREDENTIALS": str(database)}

    result = call_cli("report", env=env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: no artifacts loaded yet in dataset harness: ")
    assert ".venv/bin/harness-registry run` first" in result.stderr
    assert not database.exists()


def test_report_on_another_dataset_exits_2(loaded_cli):
    env, _, _ = loaded_cli

    result = call_cli("report", "--dataset", "not_loaded_here", "--format", "json", env=env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: no artifacts loaded yet in dataset not_loaded_here on duckdb: "
        "run `.venv/bin/harness-registry run` first\n"
    )


def test_report_reads_a_database_named_like_its_dataset(loaded_cli, tmp_path):
    """`harness_registry.duckdb` holding dataset `harness_registry` (the layout the defaults avoid)
    makes `harness_registry.artifacts` ambiguous to DuckDB: the reports name the catalog too."""
    env, rows, _ = loaded_cli
    database = tmp_path / "harness_registry.duckdb"
    # every table `run` loaded (dlt's own included), copied into a dataset named like the file
    with duckdb.connect(str(database)) as db:
        db.execute(f"ATTACH '{env['DESTINATION__DUCKDB__CREDENTIALS']}' AS loaded (READ_ONLY)")
        db.execute("CREATE SCHEMA harness_registry.harness_registry")
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = 'loaded' AND table_schema = 'harness'"
        ).fetchall()
        for (table,) in tables:
            db.execute(
                f'CREATE TABLE harness_registry.harness_registry."{table}" AS '
                f'SELECT * FROM loaded.harness."{table}"'
            )
    assert ("artifacts",) in tables

    result = call_cli(
        "report",
        "--dataset",
        "harness_registry",
        "--format",
        "json",
        env={"DESTINATION__DUCKDB__CREDENTIALS": str(database)},
    )

    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)["reports"]["totals"]["rows"]
    assert totals[0]["artifacts"] == len(rows)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--top", "0"], "error: --top must be at least 1 (got 0)\n"),
        (["--days", "-1"], "error: --days must be 0 or more (got -1)\n"),
        (["--cleanup-days", "-1"], "error: --cleanup-days must be 0 or more (got -1)\n"),
    ],
)
def test_out_of_range_flags_exit_2_naming_the_flag(tmp_path, flags, message):
    env = {"DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "never-loaded.duckdb")}

    result = call_cli("report", *flags, env=env)

    assert (result.returncode, result.stdout, result.stderr) == (2, "", message)


def test_report_on_versions_prints_the_version_reports(tmp_path):
    """A dataset with versions (the fixture's tables): every report, no note; the cleanup
    candidates at the command's own time and --cleanup-days."""
    database = tmp_path / "with-versions.duckdb"
    with duckdb.connect(str(database)) as connection:
        load_rows(connection, "harness", ROWS, versions=VERSIONS)
    env = {"DESTINATION__DUCKDB__CREDENTIALS": str(database)}

    result = call_cli("report", "--format", "json", "--cleanup-days", "200", env=env)

    assert (result.returncode, result.stderr) == (0, "")
    document = json.loads(result.stdout)
    assert list(document["reports"]) == ALL_REPORT_NAMES
    assert (document["cleanup_days"], document["skipped"]) == (200, [])
    now = datetime.fromisoformat(document["generated_at"])
    with duckdb.connect(str(database), read_only=True) as connection:
        queries = ArtifactQueries(DuckDBEngine(connection), "harness")
        expected = run_queries(
            queries, destination="duckdb", dataset="harness", now=now, cleanup_days=200
        )
    for name, columns in VERSION_COLUMNS.items():
        report = document["reports"][name]
        assert report["columns"] == columns
        assert [parse_times(row) for row in report["rows"]] == expected[name].records(), name
    for name in ("storage", "storage_by_month", "quarantined_versions"):  # not relative to now
        assert expected[name].records() == FIXTURE_VERSION_REPORTS[name], name
    candidates = document["reports"]["cleanup_candidates"]
    assert candidates["title"] == (
        "Cleanup candidates: versions older than 200 days, never downloaded"
    )
    assert candidates["rows"], "the fixture's 2025 version is 200 days old"

    table = call_cli("report", "--report", "storage", env=env)

    assert (table.returncode, table.stderr) == (0, "")
    assert table.stdout.splitlines()[2:] == [
        "Storage by registry and package type",
        "------------------------------------",
        "registry_ref         package_type  artifacts  versions     size_bytes  size",
        "acme/empty-times     RAW                   1         1  1099511627776  1.00TB",
        "acme/hf              HUGGINGFACE           2         3     7623566950  7.10GB",
        "acme/platform/maven  MAVEN                 2         5       28836864  27.50MB",
        "acme/docker-prod     DOCKER                3         7        7343332  7.00MB",
    ]


def test_a_version_report_asked_for_by_name_says_versions_are_not_loaded(loaded_cli):
    env, _, _ = loaded_cli

    result = call_cli("report", "--report", "storage", "--report", "totals", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == "note: versions not loaded: run with --versions (skipped: storage)\n"
    assert "\nTotals\n" in result.stdout and "Storage" not in result.stdout
    assert "storage" not in result.stdout.lower()
