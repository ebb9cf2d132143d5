"""The SQL reports on DuckDB: every figure checked against the emulator's own data, computed here in
Python from `emulator.dataset()`, and the `report` command in its three formats."""

import csv
import io
import json
import math
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from conftest import (
    cli_env,
    expected_artifacts,
    readable_registries,
    registry_args,
    run_cli,
    run_source,
)
from harness_registry_pipelines.reports import (
    REPORTS_DIR,
    compile_sql,
    load_report_queries,
    run_reports,
)

COLUMNS = {
    "totals": [
        "artifacts",
        "registries",
        "package_types",
        "downloads",
        "quarantined",
        "labelled",
        "distinct_labels",
        "unknown_last_modified",
        "newest_change",
    ],
    "inventory": [
        "registry_ref",
        "package_type",
        "artifacts",
        "downloads",
        "quarantined",
        "last_modified",
    ],
    "recently_modified": [
        "last_modified",
        "registry_ref",
        "name",
        "artifact_type",
        "package_type",
        "latest_version",
    ],
    "top_downloads": [
        "download_rank",
        "registry_ref",
        "name",
        "artifact_type",
        "package_type",
        "downloads_count",
    ],
    "quarantined": [
        "registry_ref",
        "name",
        "artifact_type",
        "package_type",
        "latest_version",
        "last_modified",
        "downloads_count",
    ],
    "label_usage": ["label", "artifacts", "registries"],
    "stale_registries": ["registry_ref", "artifacts", "last_change", "days_without_change"],
}
REPORT_NAMES = list(COLUMNS)
TIME_COLUMNS = {"last_modified", "last_change", "newest_change"}
DAY_MS = 86_400_000
ZERO_TIME_MS = -62135596800000


# -- what every report must say, computed from the emulator's rows -------------------------------


def truth_rows(emulator, refs: list[str] | None = None) -> list[dict[str, Any]]:
    """The rows the `artifacts` table must hold (see conftest.expected_artifact)."""
    return list(expected_artifacts(emulator, refs or readable_registries(emulator)).values())


def expected_reports(
    rows: list[dict[str, Any]], now: datetime, days: int, top: int
) -> dict[str, list[dict[str, Any]]]:
    since = now - timedelta(days=days)
    known = [row["last_modified"] for row in rows if row["last_modified"] is not None]
    labels = sorted({label for row in rows for label in row["labels"]})

    inventory: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    by_registry: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        inventory[(row["registry_ref"], row["package_type"])].append(row)
        by_registry[row["registry_ref"]].append(row)

    def key(row):
        return (row["registry_ref"], row["name"], row["artifact_type"])

    def newest(group):
        times = [row["last_modified"] for row in group if row["last_modified"] is not None]
        return max(times) if times else None

    recent = sorted(
        (row for row in rows if row["last_modified"] is not None and row["last_modified"] >= since),
        key=key,
    )
    recent.sort(
        key=lambda row: row["last_modified"], reverse=True
    )  # stable: ties keep the key order

    downloaded = [row for row in rows if row["downloads_count"] > 0]
    ranks = {
        key(row): 1
        + sum(1 for other in downloaded if other["downloads_count"] > row["downloads_count"])
        for row in downloaded
    }
    ranked = sorted(
        (row for row in downloaded if ranks[key(row)] <= top),
        key=lambda row: (ranks[key(row)], key(row)),
    )

    label_usage = [
        {
            "label": label,
            "artifacts": sum(1 for row in rows if label in row["labels"]),
            "registries": len({row["registry_ref"] for row in rows if label in row["labels"]}),
        }
        for label in labels
    ]
    label_usage.sort(key=lambda usage: (-usage["artifacts"], usage["label"]))

    now_ms = round(now.timestamp() * 1000)
    stale = []
    for ref, group in by_registry.items():
        last = newest(group)
        if last is None or last < since:
            stale.append(
                {
                    "registry_ref": ref,
                    "artifacts": len(group),
                    "last_change": last,
                    "days_without_change": None
                    if last is None
                    else math.floor((now_ms - round(last.timestamp() * 1000)) / DAY_MS),
                }
            )
    stale.sort(
        key=lambda r: (r["last_change"] is not None, r["last_change"] or now, r["registry_ref"])
    )

    def pick(row, *columns):
        return {column: row[column] for column in columns}

    return {
        "totals": [
            {
                "artifacts": len(rows),
                "registries": len(by_registry),
                "package_types": len({row["package_type"] for row in rows}),
                "downloads": sum(row["downloads_count"] for row in rows),
                "quarantined": sum(1 for row in rows if row["is_quarantined"]),
                "labelled": sum(1 for row in rows if row["labels"]),
                "distinct_labels": len(labels),
                "unknown_last_modified": len(rows) - len(known),
                "newest_change": max(known) if known else None,
            }
        ],
        "inventory": [
            {
                "registry_ref": ref,
                "package_type": package_type,
                "artifacts": len(group),
                "downloads": sum(row["downloads_count"] for row in group),
                "quarantined": sum(1 for row in group if row["is_quarantined"]),
                "last_modified": newest(group),
            }
            for (ref, package_type), group in sorted(inventory.items())
        ],
        "recently_modified": [
            pick(
                row,
                "last_modified",
                "registry_ref",
                "name",
                "artifact_type",
                "package_type",
                "latest_version",
            )
            for row in recent
        ],
        "top_downloads": [
            {
                "download_rank": ranks[key(row)],
                **pick(
                    row, "registry_ref", "name", "artifact_type", "package_type", "downloads_count"
                ),
            }
            for row in ranked
        ],
        "quarantined": [
            pick(
                row,
                "registry_ref",
                "name",
                "artifact_type",
                "package_type",
                "latest_version",
                "last_modified",
                "downloads_count",
            )
            for row in sorted(rows, key=key)
            if row["is_quarantined"]
        ],
        "label_usage": label_usage,
        "stale_registries": stale,
    }


def at_ms(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


def assert_reports_equal(run, expected: dict[str, list[dict[str, Any]]]) -> None:
    assert [result.name for result in run.results] == REPORT_NAMES
    for name in REPORT_NAMES:
        assert run[name].columns == COLUMNS[name]
        assert run[name].records() == expected[name], name


# -- the reports against the emulator's data -----------------------------------------------------


def test_every_report_equals_figures_computed_from_the_emulator(emulator, pipeline):
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)
    rows = truth_rows(emulator, refs)
    known = sorted(row["last_modified"] for row in rows if row["last_modified"] is not None)
    # a report time and window that split the data: some recent artifacts, some stale registries
    now = known[-1] + timedelta(hours=5)
    days = 45

    run = run_reports(pipeline, days=days, top=10, now=now)

    expected = expected_reports(rows, now, days, 10)
    assert_reports_equal(run, expected)
    # the data makes every report say something, so none of these comparisons is vacuous
    assert all(expected[name] for name in REPORT_NAMES), [
        n for n in REPORT_NAMES if not expected[n]
    ]
    assert run["totals"].records()[0]["artifacts"] == sum(
        len(emulator.dataset()["artifacts"][ref]) for ref in refs
    )
    assert run["totals"].records()[0]["unknown_last_modified"] > 0
    assert any(row["last_change"] is not None for row in expected["stale_registries"])
    assert run.now == now and run.since == now - timedelta(days=days)


def test_top_downloads_lists_every_artifact_tied_with_the_last_rank(emulator, pipeline):
    ref = next(
        ref
        for ref in readable_registries(emulator)
        if len(emulator.dataset()["artifacts"][ref]) >= 6
        and not any(row.get("artifactType") for row in emulator.dataset()["artifacts"][ref])
    )
    names = [row["name"] for row in emulator.dataset()["artifacts"][ref]]
    peak = max(row["downloadsCount"] for row in truth_rows_raw(emulator)) + 1000
    # ranks 1, 2, 2, 2, 5: the top 3 holds four artifacts
    emulator.mutate(
        [{"op": "set_downloads", "registry": ref, "name": names[0], "downloads": peak + 10}]
        + [
            {"op": "set_downloads", "registry": ref, "name": name, "downloads": peak}
            for name in names[1:4]
        ]
        + [{"op": "set_downloads", "registry": ref, "name": names[4], "downloads": peak - 1}]
    )
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)

    run = run_reports(pipeline, top=3)

    top = run["top_downloads"].records()
    tied = sorted((2, name) for name in names[1:4])
    assert [(row["download_rank"], row["name"]) for row in top] == [(1, names[0]), *tied]
    assert (
        top == expected_reports(truth_rows(emulator, refs), run.now, run.days, 3)["top_downloads"]
    )


def truth_rows_raw(emulator) -> list[dict[str, Any]]:
    return [row for rows in emulator.dataset()["artifacts"].values() for row in rows]


def test_time_window_edges_and_registries_with_unknown_times(emulator, pipeline):
    """A row at exactly now - N days is recent, 1 ms earlier it is not; a registry whose artifacts
    all have unknown times has not changed as far as anyone knows."""
    newest_ms = max(
        int(row["lastModified"]) for row in truth_rows_raw(emulator) if int(row["lastModified"]) > 0
    )
    now_ms = newest_ms + 100 * DAY_MS + 12_345
    days = 10
    since_ms = now_ms - days * DAY_MS
    emulator.mutate(
        [
            {"op": "add_registry", "path": "acme/reports-fresh", "package_type": "GENERIC"},
            {"op": "add_registry", "path": "acme/reports-stale", "package_type": "GENERIC"},
            {"op": "add_registry", "path": "acme/reports-unknown", "package_type": "RAW"},
            {"op": "add_artifact", "registry": "acme/reports-fresh", "name": "at-edge", "last_modified_ms": since_ms},
            {"op": "add_artifact", "registry": "acme/reports-fresh", "name": "before-edge", "last_modified_ms": since_ms - 1},
            {"op": "add_artifact", "registry": "acme/reports-stale", "name": "before-edge", "last_modified_ms": since_ms - 1},
            {"op": "add_artifact", "registry": "acme/reports-unknown", "name": "timeless", "last_modified_ms": ZERO_TIME_MS},
        ]
    )  # fmt: skip
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)
    now = at_ms(now_ms)

    run = run_reports(pipeline, days=days, now=now)

    assert [(r["registry_ref"], r["name"]) for r in run["recently_modified"].records()] == [
        ("acme/reports-fresh", "at-edge")
    ]
    stale = {row["registry_ref"]: row for row in run["stale_registries"].records()}
    assert "acme/reports-fresh" not in stale
    assert stale["acme/reports-stale"] == {
        "registry_ref": "acme/reports-stale",
        "artifacts": 1,
        "last_change": at_ms(since_ms - 1),
        "days_without_change": days,
    }
    assert stale["acme/reports-unknown"]["last_change"] is None
    assert stale["acme/reports-unknown"]["days_without_change"] is None
    assert next(iter(stale)) == "acme/reports-unknown", "unknown times come first"
    assert_reports_equal(run, expected_reports(truth_rows(emulator, refs), now, days, run.top))


def test_snapshot_history_rows_are_left_out(emulator, pipeline):
    """With dlt's `_dlt_valid_to` column (snapshot mode), only current rows count: old versions
    of artifacts, and their labels, change no figure."""
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)
    before = run_reports(pipeline, days=400)
    database = pipeline.destination_client().config.credentials.database
    with duckdb.connect(database) as db:
        table = f"{pipeline.dataset_name}.artifacts"
        labels = f"{pipeline.dataset_name}.artifacts__labels"
        catalog = db.sql("SELECT current_database()").fetchall()[0][0]
        table, labels = f"{catalog}.{table}", f"{catalog}.{labels}"
        db.execute(f"ALTER TABLE {table} ADD COLUMN _dlt_valid_from TIMESTAMPTZ")
        db.execute(f"ALTER TABLE {table} ADD COLUMN _dlt_valid_to TIMESTAMPTZ")
        # an old version of every labelled artifact: other numbers, quarantined, recent, relabelled
        db.execute(
            f"""INSERT INTO {labels} BY NAME
                SELECT l.* REPLACE (
                    'retired-label' AS value,
                    l._dlt_parent_id || '-old' AS _dlt_parent_id,
                    l._dlt_root_id || '-old' AS _dlt_root_id,
                    l._dlt_id || '-old' AS _dlt_id
                ) FROM {labels} AS l"""
        )
        db.execute(
            f"""INSERT INTO {table} BY NAME
                SELECT * REPLACE (
                    _dlt_id || '-old' AS _dlt_id,
                    downloads_count + 100000 AS downloads_count,
                    TRUE AS is_quarantined,
                    now() AS last_modified,
                    TIMESTAMPTZ '2020-01-01 00:00:00+00' AS _dlt_valid_to
                ) FROM {table} WHERE labels_text IS NOT NULL"""
        )
        history = db.sql(
            f"SELECT count(*) FROM {table} WHERE _dlt_valid_to IS NOT NULL"
        ).fetchall()[0]
    assert history[0] > 0

    after = run_reports(pipeline, days=400, now=before.now)

    assert [r.records() for r in after.results] == [r.records() for r in before.results]


def test_no_labels_table_means_no_label_usage(emulator, pipeline):
    ref = min(
        readable_registries(emulator),
        key=lambda r: len(emulator.dataset()["artifacts"][r]) or 10**9,
    )
    rows = emulator.dataset()["artifacts"][ref]
    emulator.mutate(
        [
            {"op": "set_labels", "registry": ref, "name": row["name"], "artifact_type": row.get("artifactType"), "labels": []}
            for row in rows
        ]
    )  # fmt: skip
    run_source(emulator, pipeline, registries=[ref])
    database = pipeline.destination_client().config.credentials.database
    with duckdb.connect(database, read_only=True) as db:
        tables = {
            name
            for (name,) in db.sql("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert "artifacts" in tables and "artifacts__labels" not in tables

    run = run_reports(pipeline)

    assert run["label_usage"].rows == []
    assert run["totals"].records()[0]["labelled"] == 0
    assert run["totals"].records()[0]["artifacts"] == len(rows)


# -- the report files themselves -------------------------------------------------------------------


def test_report_files_are_documented_and_portable():
    queries = load_report_queries()
    assert [query.name for query in queries] == REPORT_NAMES
    for query in queries:
        text = query.path.read_text(encoding="utf-8")
        header = text.split("\nSELECT", 1)[0]
        assert re.search(r"^-- title: \S", header, re.MULTILINE), query.path
        assert "-- Answers:" in header and "-- Parameters:" in header, query.path
        for param in set(query.params):
            assert f":{param}" in header, f"{query.path} does not describe :{param}"
        assert query.sql.count("%s") == len(query.params)
        assert "%" not in query.sql.replace("%s", "")
        assert "{artifacts}" in query.sql
    assert {p.name for p in REPORTS_DIR.glob("*.sql")} == {q.path.name for q in queries}


def test_sql_markers_are_read_outside_strings_and_comments():
    sql, params = compile_sql(
        "-- a comment with :ignored and {artifacts__labels}\n"
        "SELECT ':not_a_param', x::BIGINT, \"col:umn\" FROM {artifacts} WHERE a >= :since "
        "AND b < :now AND c >= :since -- :trailing\n"
    )
    assert params == ["since", "now", "since"]
    assert sql == (
        "SELECT ':not_a_param', x::BIGINT, \"col:umn\" FROM {artifacts} WHERE a >= %s "
        "AND b < %s AND c >= %s"
    )
    with pytest.raises(ValueError, match="'%' is not allowed"):
        compile_sql("SELECT name FROM {artifacts} WHERE name LIKE 'a%'")
    with pytest.raises(ValueError, match="unknown relation markers"):
        compile_sql("SELECT 1 FROM {registries}")


# -- the `report` command --------------------------------------------------------------------------


@pytest.fixture
def loaded_cli(emulator, tmp_path):
    """The emulator's readable registries loaded by `run`, with two artifacts pushed a day ago so
    that the default 30-day window is not empty."""
    refs = readable_registries(emulator)
    pushed = [(ref, "pushed-yesterday") for ref in refs[:2]]
    yesterday_ms = round((datetime.now(UTC) - timedelta(days=1)).timestamp() * 1000)
    emulator.mutate(
        [
            {"op": "add_artifact", "registry": ref, "name": name, "last_modified_ms": yesterday_ms, "downloads": 3}
            for ref, name in pushed
        ]
    )  # fmt: skip
    env = cli_env(emulator, tmp_path)
    result = run_cli("run", *registry_args(refs), env=env)
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

    result = run_cli("report", "--format", "json", "--days", "30", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    now = datetime.fromisoformat(document["generated_at"])
    assert document["days"] == 30 and document["dataset"] == "harness"
    assert datetime.fromisoformat(document["since"]) == now - timedelta(days=30)
    assert abs(datetime.now(UTC) - now) < timedelta(minutes=5)
    expected = expected_reports(rows, now, 30, document["top"])
    assert list(document["reports"]) == REPORT_NAMES
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

    result = run_cli("report", "--format", "csv", env=env)

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

    result = run_cli("report", env=env)

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

    result = run_cli("report", env=env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: no artifacts loaded yet in dataset harness: ")
    assert "pipelines/harness_registry_pipeline.py run` first" in result.stderr
    assert not database.exists()


def test_report_on_another_dataset_exits_2(loaded_cli):
    env, _, _ = loaded_cli

    result = run_cli("report", "--dataset", "not_loaded_here", "--format", "json", env=env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: no artifacts loaded yet in dataset not_loaded_here on duckdb: "
        "run `python pipelines/harness_registry_pipeline.py run` first\n"
    )


def test_report_reads_a_database_named_like_its_dataset(emulator, pipeline, tmp_path):
    """`harness_registry.duckdb` holding dataset `harness_registry` (the layout the defaults avoid)
    makes `harness_registry.artifacts` ambiguous to DuckDB: the reports name the catalog too."""
    refs = readable_registries(emulator)
    run_source(emulator, pipeline, registries=refs)
    loaded = Path(pipeline.destination_client().config.credentials.database)
    database = loaded.rename(tmp_path / "harness_registry.duckdb")

    result = run_cli(
        "report",
        "--dataset",
        "harness_registry",
        "--format",
        "json",
        env={"DESTINATION__DUCKDB__CREDENTIALS": str(database)},
    )

    assert result.returncode == 0, result.stderr
    totals = json.loads(result.stdout)["reports"]["totals"]["rows"]
    assert totals[0]["artifacts"] == len(truth_rows(emulator, refs))
