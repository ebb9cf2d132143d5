"""Delta Lake and Iceberg tables on dlt's filesystem destination, on a local file:// bucket: loads
that merge exactly across runs (labels included), read back with the `deltalake` and `pyiceberg`
readers; snapshot mode and the report command refused in one line, before any request."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pytest

from conftest import (
    call_cli,
    cli_env,
    expected_artifacts,
    registry_args,
    run_cli,
)
from harness_emulator import EmulatorProcess
from harness_registry import ConfigError
from harness_registry_pipelines.runner import load_source

deltalake = pytest.importorskip("deltalake", reason="the lakehouse extra is not installed")
pyiceberg_table = pytest.importorskip(
    "pyiceberg.table", reason="the lakehouse extra is not installed"
)

DATASET = "harness"
SPACE = "acme/data"
PYPI = "acme/data/pypi"
HF = "acme/data/ml/hf-models"


def bucket(tmp_path: Path) -> Path:
    return tmp_path / "bucket"


@pytest.fixture
def lake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The filesystem destination on a local bucket in tmp_path."""
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", bucket(tmp_path).as_uri())
    return bucket(tmp_path)


def read_table(root: Path, table_format: str, table: str) -> pa.Table:
    """A table as the open-table readers see it, without dlt."""
    location = root / DATASET / table
    if table_format == "delta":
        return deltalake.DeltaTable(str(location)).to_pyarrow_table()
    metadata = sorted((location / "metadata").glob("*.metadata.json"))[-1]
    return pyiceberg_table.StaticTable.from_metadata(str(metadata)).scan().to_arrow()


def lake_artifacts(root: Path, table_format: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every `artifacts` row by key with its labels from `artifacts__labels`; fails on duplicates."""
    labels: dict[str, list[tuple[int, str]]] = {}
    label_ids = []
    if (root / DATASET / "artifacts__labels").exists():
        for row in read_table(root, table_format, "artifacts__labels").to_pylist():
            labels.setdefault(row["_dlt_parent_id"], []).append(
                (row["_dlt_list_idx"], row["value"])
            )
            label_ids.append(row["_dlt_id"])
    assert len(label_ids) == len(set(label_ids)), "duplicate label rows"
    fields = [
        "registry_ref",
        "name",
        "artifact_type",
        "package_type",
        "latest_version",
        "downloads_count",
        "is_quarantined",
        "uuid",
        "registry_uuid",
        "registry_identifier",
        "last_modified",
        "labels_text",
    ]
    result = {}
    parents = set()
    for row in read_table(root, table_format, "artifacts").to_pylist():
        record = {field: row[field] for field in fields}
        if isinstance(record["last_modified"], datetime):
            record["last_modified"] = record["last_modified"].replace(tzinfo=UTC)
        record["labels"] = [value for _, value in sorted(labels.get(row["_dlt_id"], []))]
        parents.add(row["_dlt_id"])
        key = (record["registry_ref"], record["name"], record["artifact_type"])
        assert key not in result, f"duplicate row for {key}"
        result[key] = record
    assert set(labels) <= parents, "label rows without their artifact"
    return result


def lake_pipeline(tmp_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name="harness_lake_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination="filesystem",
        dataset_name=DATASET,
    )


def source_options(emulator: EmulatorProcess, **options: Any) -> dict[str, Any]:
    return {
        "base_url": emulator.base_url,
        "api_key": emulator.api_key,
        "requests_per_minute": 0,
        **options,
    }


def change_data(emulator: EmulatorProcess) -> None:
    """Labels that shrink, vanish and grow on artifacts that also get a new version (so that
    incremental mode loads them), and a new artifact."""
    rows = emulator.dataset()["artifacts"][PYPI]
    two_labels = [row["name"] for row in rows if len(row.get("labels") or []) >= 2]
    unlabelled = [row["name"] for row in rows if not row.get("labels")]
    shrunk, emptied, grown = two_labels[0], two_labels[1], unlabelled[0]
    ops: list[dict[str, Any]] = [
        {"op": "set_labels", "registry": PYPI, "name": shrunk, "labels": ["only"]},
        {"op": "set_labels", "registry": PYPI, "name": emptied, "labels": None},
        {"op": "set_labels", "registry": PYPI, "name": grown, "labels": ["a", "b", "c"]},
        {"op": "add_artifact", "registry": PYPI, "name": "lake-new", "labels": ["fresh"]},
    ]
    ops += [
        {"op": "add_version", "registry": PYPI, "name": name, "version": "99.0.0"}
        for name in (shrunk, emptied, grown)
    ]
    emulator.mutate(ops)


@pytest.mark.parametrize("table_format", ["delta", "iceberg"])
def test_incremental_loads_merge_exactly_across_runs(
    emulator: EmulatorProcess, tmp_path: Path, lake_env: Path, table_format: str
) -> None:
    pipeline = lake_pipeline(tmp_path)
    options = source_options(emulator, spaces=[SPACE])
    refs = [
        r["path"] for r in emulator.dataset()["registries"] if r["path"].startswith(SPACE + "/")
    ]

    report, _ = load_source(pipeline, options, table_format=table_format)
    assert report.failures == []
    assert lake_artifacts(lake_env, table_format) == expected_artifacts(emulator, refs)
    registries = read_table(lake_env, table_format, "registries").column("path").to_pylist()
    assert sorted(registries) == sorted(refs)

    change_data(emulator)
    report, _ = load_source(pipeline, options, table_format=table_format)
    assert report.failures == []
    assert report.registry(PYPI).rows_loaded == 4
    assert lake_artifacts(lake_env, table_format) == expected_artifacts(emulator, refs)
    registries = read_table(lake_env, table_format, "registries").column("path").to_pylist()
    assert sorted(registries) == sorted(refs)


def test_run_command_loads_delta_tables_and_reruns_without_duplicates(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    env = {
        **cli_env(emulator, tmp_path),
        "DESTINATION__FILESYSTEM__BUCKET_URL": bucket(tmp_path).as_uri(),
    }
    args = ["run", "--destination", "filesystem", "--table-format", "delta"]
    refs = [PYPI, HF]

    first = run_cli(*args, *registry_args(refs), env=env)
    assert first.returncode == 0, first.stderr
    assert lake_artifacts(bucket(tmp_path), "delta") == expected_artifacts(emulator, refs)

    change_data(emulator)
    # the setting instead of the flag this time
    env["HARNESS_REGISTRY_PIPELINE__TABLE_FORMAT"] = "delta"
    second = run_cli("run", "--destination", "filesystem", *registry_args(refs), env=env)
    assert second.returncode == 0, second.stderr
    assert lake_artifacts(bucket(tmp_path), "delta") == expected_artifacts(emulator, refs)


@pytest.mark.parametrize("table_format", ["delta", "iceberg"])
def test_snapshot_mode_is_refused_before_any_request(
    emulator: EmulatorProcess, tmp_path: Path, table_format: str
) -> None:
    env = {
        **cli_env(emulator, tmp_path),
        "DESTINATION__FILESYSTEM__BUCKET_URL": bucket(tmp_path).as_uri(),
    }
    emulator.reset_log()
    result = call_cli(
        "run", "--destination", "filesystem", "--table-format", table_format,
        "--mode", "snapshot", "--registry", PYPI, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: configuration: snapshot mode keeps history with dlt's scd2 merge, which "
        f"{table_format} tables do not support: use --mode incremental, or a warehouse "
        "destination (duckdb, postgres, ...) for snapshots"
    ]
    assert emulator.requests_log() == []
    assert not bucket(tmp_path).exists()


def test_table_format_needs_the_filesystem_destination(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    emulator.reset_log()
    result = call_cli(
        "run", "--table-format", "delta", "--registry", PYPI, env=cli_env(emulator, tmp_path)
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: configuration: table_format delta needs the filesystem destination, not duckdb: "
        "add --destination filesystem, or unset table_format"
    ]
    assert emulator.requests_log() == []


def test_unknown_table_format_setting_is_refused(
    emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_REGISTRY_PIPELINE__TABLE_FORMAT", "hudi")
    with pytest.raises(ConfigError, match="table_format must be one of delta, iceberg, not 'hudi'"):
        load_source(lake_pipeline(tmp_path), source_options(emulator, registries=[PYPI]))
    assert emulator.requests_log() == []


def test_plain_filesystem_still_appends(
    emulator: EmulatorProcess, tmp_path: Path, lake_env: Path
) -> None:
    pipeline = lake_pipeline(tmp_path)
    options = source_options(emulator, registries=[PYPI])
    load_source(pipeline, options)
    change_data(emulator)
    load_source(pipeline, options)
    files = list((lake_env / DATASET / "artifacts").glob("*.jsonl*"))
    rows = sum(1 for path in files for _ in _lines(path))
    # every artifact once, then the four that moved once more: a change log
    assert rows == len(emulator.dataset()["artifacts"][PYPI]) - 1 + 4
    assert not (lake_env / DATASET / "artifacts" / "_delta_log").exists()


def _lines(path: Path) -> list[bytes]:
    import gzip

    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rb") as handle:
        return [line for line in handle.read().splitlines() if line.strip()]


def test_report_refuses_the_filesystem_destination_in_one_line(tmp_path: Path) -> None:
    result = call_cli(
        "report",
        "--destination",
        "filesystem",
        env={"DESTINATION__FILESYSTEM__BUCKET_URL": bucket(tmp_path).as_uri()},
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: report needs a SQL destination (duckdb, postgres, ...), not filesystem: "
        "query Delta or Iceberg tables with DuckDB (delta_scan, iceberg_scan), Spark or Trino"
    ]
