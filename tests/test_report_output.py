"""How reports are printed (report_output.py) and the demo's figures, from literal runs: no
emulator, no network."""

import io
import json

import duckdb

from harness_registry_pipelines.demo_figures import print_demo_figures
from harness_registry_pipelines.report_output import (
    display_width,
    format_table,
    plural,
    write_csv,
    write_json,
    write_tables,
)
from harness_registry_pipelines.reports import ReportResult, ReportRun
from report_fixtures import NOW, ROWS, VERSIONS, WIDE_NAME, at, load_rows


def literal_run() -> ReportRun:
    return ReportRun(
        destination="duckdb",
        dataset="harness",
        now=NOW,
        days=1,
        top=3,
        results=[
            ReportResult("totals", "Totals", ["artifacts", "newest_change"], [(8, at(2026, 11, 19, 8))]),
            ReportResult(
                "label_usage",
                "Label usage",
                ["label", "artifacts", "registries"],
                [(WIDE_NAME, 12, 1), ("prod", 2, None), ("a,b", 1, 1)],
            ),
        ],
    )  # fmt: skip


def test_wide_characters_count_two_columns():
    assert display_width("中文") == 4
    assert display_width(WIDE_NAME) == len(WIDE_NAME) + 2
    assert display_width("e\u0301") == 1  # e and a combining accent


def test_table_columns_line_up_by_display_width():
    text = format_table([("label", "n"), (WIDE_NAME, "12"), ("prod", "2")], [False, True])

    assert text == ("label            n\ndonnées-é-中文  12\nprod             2\n")
    assert len({display_width(line) for line in text.splitlines()}) == 1


def test_tables_text():
    out = io.StringIO()

    write_tables(literal_run(), out)

    assert out.getvalue() == (
        "Reports on duckdb dataset harness at 2026-11-20 12:00:00 UTC; time window 1 day, "
        "since 2026-11-19 12:00:00 UTC\n"
        "\nTotals\n------\n"
        "figure         value\n"
        "artifacts      8\n"
        "newest_change  2026-11-19 08:00:00 UTC\n"
        "\nLabel usage\n-----------\n"
        "label           artifacts  registries\n"
        "données-é-中文         12           1\n"
        "prod                    2\n"
        "a,b                     1           1\n"
    )


def test_csv_text():
    out = io.StringIO()

    write_csv(literal_run(), out)

    assert out.getvalue() == (
        "# totals: Totals\n"
        "artifacts,newest_change\n"
        "8,2026-11-19T08:00:00+00:00\n"
        "\n# label_usage: Label usage\n"
        "label,artifacts,registries\n"
        f"{WIDE_NAME},12,1\n"
        "prod,2,\n"
        '"a,b",1,1\n'
    )


def test_json_document():
    out = io.StringIO()

    write_json(literal_run(), out)

    assert json.loads(out.getvalue()) == {
        "destination": "duckdb",
        "dataset": "harness",
        "generated_at": "2026-11-20T12:00:00+00:00",
        "days": 1,
        "since": "2026-11-19T12:00:00+00:00",
        "top": 3,
        "cleanup_days": 90,
        "skipped": [],
        "reports": {
            "totals": {
                "title": "Totals",
                "columns": ["artifacts", "newest_change"],
                "rows": [{"artifacts": 8, "newest_change": "2026-11-19T08:00:00+00:00"}],
            },
            "label_usage": {
                "title": "Label usage",
                "columns": ["label", "artifacts", "registries"],
                "rows": [
                    {"label": WIDE_NAME, "artifacts": 12, "registries": 1},
                    {"label": "prod", "artifacts": 2, "registries": None},
                    {"label": "a,b", "artifacts": 1, "registries": 1},
                ],
            },
        },
    }
    assert WIDE_NAME in out.getvalue()  # not \u-escaped


def test_plural():
    assert [plural(n, "registry", "registries") for n in (0, 1, 2)] == [
        "0 registries",
        "1 registry",
        "2 registries",
    ]
    assert plural(1, "day") == "1 day" and plural(30, "day") == "30 days"


def test_demo_figures_read_the_current_rows_of_a_file_named_like_its_dataset(tmp_path, capsys):
    database = tmp_path / "harness_registry.duckdb"
    retired = [{**ROWS[0], "name": "deleted", "downloads_count": 10**6, "labels": ["gone"]}]
    with duckdb.connect(str(database)) as connection:
        load_rows(connection, "harness_registry", ROWS, snapshot=True, retired=retired)

    print_demo_figures(str(database), "harness_registry")

    out = capsys.readouterr().out
    figures, next_lines = out.split("\nNext, from this directory:\n")
    assert figures == (
        f"\nIn {database}, dataset harness_registry:\n"
        "8 artifacts in 4 registries, 4 package types\n"
        "\nartifacts by package type:\n"
        "package_type  artifacts  downloads\n"
        "DOCKER                3        740\n"
        "HUGGINGFACE           2          7\n"
        "MAVEN                 2        120\n"
        "RAW                   1          3\n"
        "\nmost downloaded:\n"
        "registry_ref         name            downloads_count\n"
        "acme/docker-prod     api                         500\n"
        "acme/platform/maven  com.acme:core               120\n"
        "acme/docker-prod     legacy                      120\n"
        "acme/docker-prod     worker                      120\n"
        f"acme/hf              {WIDE_NAME}                7\n"
        "\nmost used labels:\n"
        "label   artifacts\n"
        "prod            2\n"
        "team-a          2\n"
        "中文            1\n"
    )
    # the commands themselves are run as printed by tests/test_readme_commands.py
    commands = [line.split("  # ")[0].strip() for line in next_lines.splitlines()]
    tool = commands[1].split()[0]
    assert tool.endswith("bin/harness-registry")
    assert commands[0] == f"DESTINATION__DUCKDB__CREDENTIALS={database} {tool} report"
    assert commands[1].startswith(f"{tool} sql --duckdb {database} ")
    assert all(str(database) in command for command in commands)


def test_json_names_the_skipped_reports_and_the_cleanup_age():
    run = literal_run()
    run.cleanup_days, run.skipped = 7, ["storage", "cleanup_candidates"]
    out = io.StringIO()

    write_json(run, out)

    document = json.loads(out.getvalue())
    assert (document["cleanup_days"], document["skipped"]) == (7, ["storage", "cleanup_candidates"])
    assert list(document["reports"]) == ["totals", "label_usage"]
    assert run.note == (
        "note: versions not loaded: run with --versions (skipped: storage, cleanup_candidates)"
    )


def test_demo_figures_add_storage_by_package_type_when_versions_are_loaded(tmp_path, capsys):
    database = tmp_path / "loaded.duckdb"
    retired = [{**VERSIONS[0], "version": "deleted", "size_bytes": 10**15}]
    with duckdb.connect(str(database)) as connection:
        load_rows(
            connection, "harness", ROWS, snapshot=True, versions=VERSIONS, retired_versions=retired
        )

    print_demo_figures(str(database), "harness")

    out = capsys.readouterr().out
    assert out.split("\nmost used labels:\n")[1].split("\nNext, from this directory:")[0] == (
        "label   artifacts\n"
        "prod            2\n"
        "team-a          2\n"
        "中文            1\n"
        "\nstorage by package type:\n"
        "package_type  versions     size_bytes\n"
        "RAW                  1  1099511627776\n"
        "HUGGINGFACE          3     7623566950\n"
        "MAVEN                5       28836864\n"
        "DOCKER               7        7343332\n"
    )
