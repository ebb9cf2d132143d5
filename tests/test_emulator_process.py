"""The emulator as a process: its command line, start-up and shutdown, keep-alive connections,
its API key, and the data its seeds and scenarios generate."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from emulator_client import (
    PYPI,
    REPO_ROOT,
    artifacts_url,
    get,
    list_artifacts,
    list_registries,
)
from harness_emulator import DEFAULT_API_KEY, EmulatorError, EmulatorProcess

# -- the process ------------------------------------------------------------------------------


def test_cli_prints_listening_line_first_and_exits_zero_on_sigterm_and_sigint() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        process = subprocess.Popen(
            [sys.executable, "-m", "harness_emulator", "--port", "0"],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = process.stdout.readline()
            assert re.fullmatch(r"harness-emulator listening on http://127\.0\.0\.1:\d+\n", line)
            port = int(line.rsplit(":", 1)[1])
            health = requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=5)
            assert health.json() == {"ok": True}
            process.send_signal(signum)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_cli_refuses_non_loopback_hosts(host: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "harness_emulator", "--host", host],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert host in result.stderr


def test_emulator_process_is_a_real_subprocess_and_stops() -> None:
    emulator = EmulatorProcess(port=0)
    with emulator:
        assert emulator.pid != os.getpid()
        os.kill(emulator.pid, 0)  # the process exists
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emulator.base_url)
        assert emulator.api_key == DEFAULT_API_KEY
    assert emulator.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(emulator.pid, 0)


def test_emulator_process_reports_startup_failure_with_stderr() -> None:
    with pytest.raises(EmulatorError, match="invalid choice"):
        EmulatorProcess(scenario="no-such-scenario").start()


def test_connections_are_kept_alive(emulator: EmulatorProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    sockets = []
    for path in (f"/har/api/v1/registry/{PYPI}/+/artifacts", "/nowhere", "/_emulator/stats"):
        connection.request("GET", path, headers={"x-api-key": DEFAULT_API_KEY})
        response = connection.getresponse()
        body = response.read()
        assert int(response.headers["Content-Length"]) == len(body)
        sockets.append(connection.sock)
    connection.close()
    assert sockets[0] is not None and all(sock is sockets[0] for sock in sockets)


def test_custom_api_key_is_the_only_key_accepted() -> None:
    with EmulatorProcess(api_key="secret-123") as emulator:
        assert emulator.api_key == "secret-123"
        assert get(artifacts_url(emulator, PYPI), key="secret-123").status_code == 200
        assert get(artifacts_url(emulator, PYPI)).status_code == 401


# -- determinism and bench --------------------------------------------------------------------


def test_same_seed_gives_the_same_data_and_another_seed_does_not(emulator: EmulatorProcess) -> None:
    with EmulatorProcess(seed=42) as again, EmulatorProcess(seed=7) as other:
        assert again.dataset() == emulator.dataset()
        assert list_artifacts(again, PYPI, page=1, size=20) == list_artifacts(
            emulator, PYPI, page=1, size=20
        )
        assert other.dataset() != emulator.dataset()
        assert [r["path"] for r in other.dataset()["registries"]] == [
            r["path"] for r in emulator.dataset()["registries"]
        ]


def test_bench_scenario_spreads_artifacts_evenly() -> None:
    with EmulatorProcess(scenario="bench", bench_registries=3, bench_artifacts=1000) as emulator:
        registries = emulator.dataset()["registries"]
        assert [r["artifactCount"] for r in registries] == [334, 333, 333]
        types = {r["packageType"] for r in registries}
        assert "DOCKER" in types and len(types) == 3
        for registry in registries:
            data = list_artifacts(emulator, registry["path"], page=0, size=1)
            assert data["itemCount"] == registry["itemCount"]
        docker = next(r for r in registries if r["packageType"] == "DOCKER")
        assert docker["itemCount"] == docker["artifactCount"]
        python = next(r for r in registries if r["packageType"] == "PYTHON")
        assert python["itemCount"] > python["artifactCount"]  # versions are counted


def test_bench_with_100k_artifacts_starts_fast() -> None:
    started = time.monotonic()
    with EmulatorProcess(scenario="bench", bench_artifacts=100_000) as emulator:
        startup = time.monotonic() - started
        listed = list_registries(emulator, "bench", size=100)["registries"]
        assert len(listed) == 8
        assert sum(row["artifactsCount"] for row in listed) == 100_000
        assert len({row["packageType"] for row in listed}) == 8
        last_page = list_artifacts(emulator, listed[1]["path"], page=124, size=100)
        assert len(last_page["artifacts"]) == 100
    assert startup < 5
