"""The API key stays out of every output and file; hostile artifact names and labels load byte for
byte."""

from pathlib import Path

import pytest

from conftest import (
    call_cli,
    cli_env,
    expected_artifacts,
    loaded_artifacts,
    normalize_times,
    readable_registries,
    registry_args,
    run_cli,
    run_source,
)
from harness_emulator import EmulatorProcess

SECRET_KEY = "pat.Zx81secret.q7Rt2yUv9.never-print-me"


@pytest.fixture
def keyed_emulator():
    with EmulatorProcess(api_key=SECRET_KEY) as process:
        yield process


def files_containing(root: Path, needle: bytes) -> list[str]:
    return [str(path) for path in root.rglob("*") if path.is_file() and needle in path.read_bytes()]


def test_the_key_never_appears_in_output_logs_errors_state_or_destination(keyed_emulator, tmp_path):
    emulator = keyed_emulator
    refs = readable_registries(emulator)
    env = cli_env(emulator, tmp_path)
    env["RUNTIME__LOG_LEVEL"] = "DEBUG"
    outputs = []

    # the runs with debug logs and with the fatal error's traceback are real processes, end to
    # end; the other two go through the CLI's main in this process, output captured alike
    ok = run_cli("--verbose", "run", *registry_args(refs), env=env)
    assert ok.returncode == 0, ok.stderr
    assert "DEBUG harness_registry.client: GET http" in ok.stderr, "debug logs must be on"
    assert "scalevector" not in ok.stderr, "dlt telemetry must be off"
    outputs.append(ok)

    # a partial failure, a retried fault and a fatal 401 mid-run, each with tracebacks shown
    emulator.add_faults(
        [
            {"kind": "status", "status": 500, "match": refs[0], "times": None},
            {"kind": "forbidden", "match": refs[1], "times": None},
        ]
    )
    outputs.append(call_cli("--verbose", "run", *registry_args(refs), env=env))
    assert outputs[-1].returncode == 3
    emulator.clear_faults()
    emulator.add_faults([{"kind": "unauthorized", "match": refs[2], "times": None}])
    outputs.append(run_cli("--verbose", "run", *registry_args(refs), env=env))
    assert outputs[-1].returncode != 0 and "Traceback" in outputs[-1].stderr
    outputs.append(call_cli("run", *registry_args(refs), env=env))

    for result in outputs:
        assert SECRET_KEY not in result.stdout
        assert SECRET_KEY not in result.stderr
    dlt_data = tmp_path / "dlt_data"
    assert any(dlt_data.rglob("state.json")), "the pipeline folder must be where the test looks"
    assert files_containing(dlt_data, SECRET_KEY.encode()) == []
    assert files_containing(tmp_path, SECRET_KEY.encode()) == []
    assert (tmp_path / "cli.duckdb").stat().st_size > 0
    # the emulator saw the key on every request, so it really was sent
    assert all(r["has_api_key"] for r in emulator.requests_log())


def test_the_key_is_not_in_exception_messages(keyed_emulator, pipeline):
    emulator = keyed_emulator
    emulator.add_faults([{"kind": "status", "status": 503, "times": None}])
    report, _ = run_source(emulator, pipeline, registries=readable_registries(emulator)[:2])
    assert report.failures
    for failure in report.failures:
        assert SECRET_KEY not in failure.error
    emulator.clear_faults()
    emulator.add_faults([{"kind": "unauthorized", "times": None}])
    with pytest.raises(Exception) as error:
        run_source(emulator, pipeline, registries=readable_registries(emulator)[:2])
    chain, current = [], error.value
    while current is not None and len(chain) < 20:
        chain.append(current)
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    assert all(SECRET_KEY not in f"{e!s} {e!r}" for e in chain)


def test_hostile_names_and_labels_load_byte_for_byte(emulator, pipeline):
    hostile = "Robert'); DROP TABLE artifacts;--\"/,é中文\t" + "x" * 150
    labels = ["a,b", "it's", 'q"uote', "semi;colon", "slash/label", "ünï-çødé", "y" * 200]
    refs = readable_registries(emulator)
    generic = next(
        r["path"] for r in emulator.dataset()["registries"] if r["packageType"] == "GENERIC"
    )
    emulator.mutate(
        [{"op": "add_artifact", "registry": generic, "name": hostile, "labels": labels}]
    )
    run_source(emulator, pipeline, registries=refs)
    loaded = normalize_times(loaded_artifacts(pipeline))
    assert loaded == expected_artifacts(emulator, refs)
    row = loaded[(generic, hostile, "")]
    assert row["name"].encode() == hostile.encode()
    assert row["labels"] == labels
    assert row["labels_text"] == ", ".join(labels)
    seeded_hostile = [
        key for key in loaded if any(c in key[1] for c in "'\";,/") or len(key[1]) >= 200
    ]
    assert len(seeded_hostile) >= 6


def test_a_key_that_cannot_be_a_header_is_refused_without_echoing_it(emulator, tmp_path):
    env = cli_env(emulator, tmp_path, api_key="pat.Zx81secret\nsecond-line")
    result = call_cli("run", "--registry", "acme/shared-docker", env=env)
    assert result.returncode == 2
    assert "api_key contains whitespace, control or non-ASCII characters" in result.stderr
    assert "Zx81secret" not in result.stdout + result.stderr
    assert files_containing(tmp_path, b"Zx81secret") == []
    assert emulator.requests_log() == []
