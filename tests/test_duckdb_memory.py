"""DuckDB loads with bounded memory unless the user chose DuckDB's memory or threads themselves
(`harness_registry_pipelines.duckdb_memory`, applied by the runner's `load_source`)."""

import dlt
import duckdb
import pytest
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from conftest import expected_artifacts, query, readable_registries
from harness_registry_pipelines.duckdb_memory import DUCKDB_LOAD_SETTINGS, user_memory_settings
from harness_registry_pipelines.runner import load_source


def duckdb_renders(memory_limit: str) -> str:
    """`current_setting('memory_limit')` as DuckDB shows a given limit, e.g. `91.5 MiB`."""
    with duckdb.connect() as db:
        db.execute(f"SET memory_limit = '{memory_limit}'")
        return db.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def settings_after_load(pipeline: dlt.Pipeline) -> tuple[str, int]:
    """Memory limit and threads on a connection of the destination the pipeline loaded with."""
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        )
    return rows[0][0], int(rows[0][1])


def load(emulator, pipeline: dlt.Pipeline) -> list[str]:
    refs = readable_registries(emulator)[:2]
    options = {
        "registries": refs,
        "base_url": emulator.base_url,
        "api_key": emulator.api_key,
        "requests_per_minute": 0,
    }
    report, info = load_source(pipeline, options)
    assert not report.failures and not info.has_failed_jobs
    return refs


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        (DuckDbCredentials("a.duckdb"), set()),
        (DuckDbCredentials("a.duckdb", global_config={"enable_progress_bar": False}), set()),
        (DuckDbCredentials("a.duckdb", global_config={"Memory_Limit": "1GB"}), {"memory_limit"}),
        (DuckDbCredentials("a.duckdb", global_config={"worker_threads": 4}), {"worker_threads"}),
        (DuckDbCredentials("a.duckdb", local_config={"threads": 2}), {"threads"}),
        (DuckDbCredentials("a.duckdb", pragmas=["max_memory='1GB'"]), {"max_memory"}),
        (DuckDbCredentials("a.duckdb", statements=["SET threads = 8"]), {"threads"}),
        (DuckDbCredentials("a.duckdb", statements=["ATTACH 'x.duckdb'"]), set()),
    ],
)
def test_user_memory_settings_are_found_in_every_duckdb_credentials_field(credentials, expected):
    assert user_memory_settings(credentials) == expected


def test_a_load_into_duckdb_runs_with_the_bounded_settings_in_the_given_file(
    emulator, tmp_path, monkeypatch
):
    database = tmp_path / "given.duckdb"
    # another global setting of the user's stays, next to the bounded ones
    monkeypatch.setenv(
        "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"checkpoint_threshold": "16MB"}'
    )
    pipeline = dlt.pipeline(
        pipeline_name="bounded",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="harness_registry",
    )
    refs = load(emulator, pipeline)

    assert settings_after_load(pipeline) == (
        duckdb_renders(DUCKDB_LOAD_SETTINGS["memory_limit"]),
        DUCKDB_LOAD_SETTINGS["threads"],
    )
    credentials = pipeline.destination_client().config.credentials
    assert credentials.database == str(database)
    assert credentials.global_config == {"checkpoint_threshold": "16MB", **DUCKDB_LOAD_SETTINGS}
    assert query(pipeline, "SELECT count(*) FROM {ds}.artifacts") == [
        (len(expected_artifacts(emulator, refs)),)
    ]


def test_a_memory_limit_the_user_configured_wins(emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "own.duckdb"))
    monkeypatch.setenv(
        "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "300MB"}'
    )
    pipeline = dlt.pipeline(
        pipeline_name="own_limit",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination="duckdb",
        dataset_name="harness_registry",
    )
    given = pipeline.destination
    load(emulator, pipeline)

    assert pipeline.destination is given
    memory_limit, threads = settings_after_load(pipeline)
    assert memory_limit == duckdb_renders("300MB")
    with duckdb.connect() as db:  # DuckDB's own default: one thread per core
        assert threads == int(db.execute("SELECT current_setting('threads')").fetchone()[0])


def test_threads_the_user_configured_leave_the_memory_limit_to_duckdb(
    emulator, tmp_path, monkeypatch
):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"threads": 2}')
    pipeline = dlt.pipeline(
        pipeline_name="own_threads",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "threads.duckdb")),
        dataset_name="harness_registry",
    )
    load(emulator, pipeline)

    with duckdb.connect() as db:
        default_limit = db.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert settings_after_load(pipeline) == (default_limit, 2)


def test_a_connection_given_to_dlt_is_left_as_it_is(emulator, tmp_path):
    connection = duckdb.connect(str(tmp_path / "connection.duckdb"))
    connection.execute("SET memory_limit = '500MB'")
    pipeline = dlt.pipeline(
        pipeline_name="own_connection",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(connection),
        dataset_name="harness_registry",
    )
    given = pipeline.destination
    load(emulator, pipeline)

    assert pipeline.destination is given
    assert connection.execute("SELECT current_setting('memory_limit')").fetchone()[0] == (
        duckdb_renders("500MB")
    )
    connection.close()
