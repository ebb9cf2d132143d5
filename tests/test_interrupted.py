"""A run killed with SIGKILL at any point, then run again, ends with exactly the right rows. The
killed run is a real process; the rerun, which only has to find what it left behind, goes through
the CLI's `main` in this process."""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO_ROOT, call_cli, cli_env, expected_artifacts, readable_registries

KILLED_RUN = REPO_ROOT / "tests" / "helpers" / "killed_run.py"


def loaded_rows(db_path):
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as db:
        keys = db.sql(
            "SELECT registry_ref, name, artifact_type, latest_version FROM harness.artifacts"
        ).fetchall()
        labels = db.sql("SELECT count(*) FROM harness.artifacts__labels").fetchall()[0][0]
    return keys, labels


def assert_exact(emulator, db_path, refs):
    keys, label_count = loaded_rows(db_path)
    expected = expected_artifacts(emulator, refs)
    assert len(keys) == len(set(k[:3] for k in keys)), "duplicate rows"
    assert {k[:3]: k[3] for k in keys} == {k: v["latest_version"] for k, v in expected.items()}
    assert label_count == sum(len(v["labels"]) for v in expected.values())


def env_for(emulator, tmp_path, refs):
    env = cli_env(emulator, tmp_path)
    env["SOURCES__HARNESS_REGISTRY__REGISTRIES"] = ",".join(refs)
    env["SOURCES__HARNESS_REGISTRY__PAGE_SIZE"] = "10"
    return env


@pytest.mark.parametrize(
    "stage", ["after-extract", "during-normalize", "after-normalize", "during-load"]
)
def test_killed_between_or_inside_dlt_steps_then_rerun(emulator, tmp_path, stage):
    refs = readable_registries(emulator)
    env = env_for(emulator, tmp_path, refs)
    killed = subprocess.run(
        [sys.executable, str(KILLED_RUN), stage],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    # something moves between the crash and the rerun, so the rerun also has new work
    moved = sorted(row["name"] for row in emulator.dataset()["artifacts"][refs[0]])[0]
    emulator.mutate([{"op": "add_version", "registry": refs[0], "name": moved, "version": "42.0"}])
    rerun = call_cli("run", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert_exact(emulator, tmp_path / "cli.duckdb", refs)


def test_killed_during_extraction_then_rerun(emulator, tmp_path):
    refs = readable_registries(emulator)
    env = env_for(emulator, tmp_path, refs)
    env["SOURCES__HARNESS_REGISTRY__CONCURRENCY"] = "1"
    emulator.set_config(latency_ms=100)
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "pipelines" / "harness_registry_pipeline.py"), "run"],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while emulator.stats()["requests"] < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    assert 8 <= emulator.stats()["requests"] < 40, "killed in the middle of reading"

    emulator.set_config(latency_ms=0)
    rerun = call_cli("run", env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert_exact(emulator, tmp_path / "cli.duckdb", refs)
