"""`harness_registry_pipelines.runner`: the public way to run the pipeline from Python, which the
CLI, the Airflow DAG and the bench share."""

import dlt
import duckdb
import pytest

from conftest import expected_artifacts, readable_registries
from harness_registry_pipelines.runlock import RunLock, RunLockHeld
from harness_registry_pipelines.runner import (
    DEFAULTS,
    check_destination,
    destination_kind,
    duckdb_database,
    loader_file_format,
    pipeline_settings,
    run_pipeline,
)


def test_pipeline_settings_take_the_given_value_else_config_else_the_default(monkeypatch):
    assert pipeline_settings() == DEFAULTS
    monkeypatch.setenv("HARNESS_REGISTRY_PIPELINE__DATASET_NAME", "from_config")
    monkeypatch.setenv("HARNESS_REGISTRY_PIPELINE__DESTINATION", "postgres")
    assert pipeline_settings(destination="filesystem") == {
        "pipeline_name": "harness_registry",
        "destination": "filesystem",
        "dataset_name": "from_config",
    }


def test_loader_file_format_is_parquet_for_duckdb_else_dlts_default():
    assert loader_file_format("duckdb") == "parquet"
    assert loader_file_format("postgres") is None


def test_a_named_destination_is_known_by_its_type_not_its_name(tmp_path, monkeypatch):
    database = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("DESTINATION__WAREHOUSE__DESTINATION_TYPE", "duckdb")
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS", str(database))
    destination = check_destination("warehouse")
    assert destination.destination_name == "warehouse"
    assert destination_kind(destination) == "duckdb"
    assert destination_kind(check_destination("filesystem")) == "filesystem"
    assert destination_kind(None) == ""
    pipeline = dlt.pipeline(
        pipeline_name="named_destination", destination=destination, dataset_name="harness"
    )
    assert duckdb_database(pipeline) == str(database)


def test_duckdb_database_is_none_for_any_other_destination(monkeypatch):
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://u:p@localhost:5432/db")
    pipeline = dlt.pipeline(
        pipeline_name="not_duckdb", destination="postgres", dataset_name="harness"
    )
    assert duckdb_database(pipeline) is None


def test_run_pipeline_loads_and_returns_the_report_and_load_info(emulator, tmp_path, monkeypatch):
    database = tmp_path / "runner.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))
    refs = readable_registries(emulator)[:2]
    run = run_pipeline(
        pipeline_settings(pipeline_name="runner_test"),
        {
            "registries": refs,
            "base_url": emulator.base_url,
            "api_key": emulator.api_key,
            "requests_per_minute": 0,
        },
        lock_timeout=0,
    )
    expected = expected_artifacts(emulator, refs)
    assert run.settings["pipeline_name"] == "runner_test"
    assert run.report.rows_loaded == len(expected)
    assert sorted(run.report.registries) == sorted(refs)
    assert not run.report.failures
    assert run.load_info.loads_ids and not run.load_info.has_failed_jobs
    with duckdb.connect(str(database), read_only=True) as db:
        assert db.sql("SELECT count(*) FROM harness.artifacts").fetchall() == [(len(expected),)]
    with RunLock("runner_test"):  # released when the run ended
        pass


def test_run_pipeline_leaves_a_locked_pipeline_alone(emulator):
    options = {"registries": ["acme/shared-docker"], "base_url": emulator.base_url}
    with RunLock("harness_registry"), pytest.raises(RunLockHeld) as held:
        run_pipeline(source_options={**options, "api_key": emulator.api_key}, lock_timeout=0)
    assert held.value.waited == 0
    assert emulator.requests_log() == []
