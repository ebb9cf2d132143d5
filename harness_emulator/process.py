"""Run the emulator as a real subprocess and drive its control endpoints over HTTP."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

from .state import DEFAULT_API_KEY

LISTENING_PREFIX = "harness-emulator listening on "
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


class EmulatorError(RuntimeError):
    """The emulator did not start, or a control call failed."""


class EmulatorProcess:
    """`python -m harness_emulator` in a subprocess; a context manager that stops it on exit.

    Options mirror the command line flags (`bench_registries` is `--bench-registries`...).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 42,
        api_key: str = DEFAULT_API_KEY,
        scenario: str = "default",
        bench_registries: int | None = None,
        bench_artifacts: int | None = None,
        bench_versions: int | None = None,
        bench_zero_time: bool = False,
        bench_deep_every: int | None = None,
        bench_deep_versions: int | None = None,
        latency_ms: float | None = None,
        rate_limit_per_minute: int | None = None,
        tie_order: str | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self.api_key = api_key
        self.startup_timeout = startup_timeout
        options = {
            "--host": host,
            "--port": port,
            "--seed": seed,
            "--api-key": api_key,
            "--scenario": scenario,
            "--bench-registries": bench_registries,
            "--bench-artifacts": bench_artifacts,
            "--bench-versions": bench_versions,
            "--bench-deep-every": bench_deep_every,
            "--bench-deep-versions": bench_deep_versions,
            "--latency-ms": latency_ms,
            "--rate-limit-per-minute": rate_limit_per_minute,
            "--tie-order": tie_order,
        }
        # The emulator needs only the standard library (and PYTHONPATH, set in start(), finds
        # it): -S skips `site`, the virtualenv's .pth files and editable-install finders, which
        # is a good part of the start-up time of a process that tests start many times.
        self.command = [sys.executable, "-S", "-m", "harness_emulator"]
        for flag, value in options.items():
            if value is not None:
                self.command += [flag, str(value)]
        if bench_zero_time:
            self.command.append("--bench-zero-time")
        self.base_url = ""
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._stderr_text = ""

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> EmulatorProcess:
        """Spawn the process and wait for its listening line."""
        if self._process is not None:
            raise EmulatorError("the emulator is already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_PARENT, env.get("PYTHONPATH")]))
        # stderr goes to a file rather than a pipe, which nobody reads while the process runs;
        # stop() closes it.
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            env=env,
        )
        # Never leave an orphan server behind if the owner forgets stop() or exits early.
        weakref.finalize(self, _terminate, self._process)
        first_line = self._first_stdout_line()
        if first_line is None or not first_line.startswith(LISTENING_PREFIX):
            self.stop()
            raise EmulatorError(
                f"emulator did not start within {self.startup_timeout}s "
                f"(command: {' '.join(self.command)}; first stdout line: {first_line!r}); "
                f"stderr:\n{self.stderr_output()}"
            )
        self.base_url = first_line[len(LISTENING_PREFIX) :].strip()
        return self

    def _first_stdout_line(self) -> str | None:
        """Read the first line in a thread (readline has no timeout), then keep draining
        stdout so that the child can never block on a full pipe."""
        assert self._process is not None and self._process.stdout is not None
        stdout = self._process.stdout
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            with stdout:
                lines.put(stdout.readline())
                for _ in stdout:
                    pass

        threading.Thread(target=read, name="emulator-stdout", daemon=True).start()
        try:
            return lines.get(timeout=self.startup_timeout) or None
        except queue.Empty:
            return None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, SIGKILL if needed. Returns the exit code (None if never started)."""
        process = self._process
        if process is None:
            return None
        _terminate(process, timeout)
        if self._stderr is not None:
            self._stderr_text = self.stderr_output()
            self._stderr.close()
            self._stderr = None
        return process.returncode

    def stderr_output(self) -> str:
        """What the process wrote to stderr so far (all of it once stopped)."""
        if self._stderr is None:
            return self._stderr_text
        self._stderr.seek(0)
        return self._stderr.read()

    @property
    def pid(self) -> int:
        if self._process is None:
            raise EmulatorError("the emulator is not started")
        return self._process.pid

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def __enter__(self) -> EmulatorProcess:
        return self if self._process is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- control endpoints ------------------------------------------------------------------

    def control(self, method: str, endpoint: str, payload: Any = None, **query: str) -> Any:
        """Call `/_emulator/<endpoint>` and return its decoded JSON answer."""
        url = f"{self.base_url}/_emulator/{endpoint}"
        if query:
            url += "?" + urlencode(query)
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise EmulatorError(
                f"{method} {url} failed with {exc.code}: {exc.read().decode('utf-8', 'replace')}"
            ) from None

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")

    def requests_log(self, timing: bool = False) -> list[dict[str, Any]]:
        """Every API request received; with `timing`, each also has `received_at` and
        `answered_at` (epoch seconds, the configured latency included)."""
        if timing:
            return self.control("GET", "requests", timing="1")
        return self.control("GET", "requests")

    def reset_log(self) -> None:
        self.control("POST", "reset-log", {})

    def config(self) -> dict[str, Any]:
        return self.control("GET", "config")

    def set_config(self, **settings: Any) -> dict[str, Any]:
        """E.g. `set_config(latency_ms=50, rate_limit_per_minute=None, tie_order="adversarial")`."""
        return self.control("POST", "config", settings)

    def faults(self) -> list[dict[str, Any]]:
        return self.control("GET", "faults")["faults"]

    def add_faults(self, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.control("POST", "faults", {"faults": rules})["faults"]

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def mutate(self, ops: list[dict[str, Any]]) -> int:
        return self.control("POST", "mutate", {"ops": ops})["applied"]

    def restore_data(self) -> None:
        """The seeded data again, as a new process with the same options serves it: every
        mutation and fired trigger undone (settings, faults, triggers and the log stay)."""
        self.control("POST", "restore-data", {})

    def triggers(self) -> list[dict[str, Any]]:
        return self.control("GET", "triggers")["triggers"]

    def add_trigger(
        self, registry: str, after_page: int, ops: list[dict[str, Any]]
    ) -> dict[str, Any]:
        payload = {"registry": registry, "after_page": after_page, "ops": ops}
        return self.control("POST", "triggers", payload)

    def clear_triggers(self) -> None:
        self.control("DELETE", "triggers")

    def dataset(
        self, registry: str | None = None, *, versions: bool = False, artifacts: bool = True
    ) -> dict[str, Any]:
        """The ground truth; `registry` narrows it to one registry path.

        With `artifacts=False` it holds only the registries (with their counts), which is
        what a caller of a million-artifact bench dataset wants.

        With `versions=True` it also holds `versions[registry path]`: per listed artifact
        (`name`, `artifactType`) its versions in creation order, each with the exact
        `size_bytes` behind the rounded `size` string, its `quarantine_reasons` and `row`.
        """
        query = {} if registry is None else {"registry": registry}
        if versions:
            query["versions"] = "1"
        if not artifacts:
            query["artifacts"] = "0"
        return self.control("GET", "dataset", **query)

    def artifact_versions(
        self, registry: str, name: str, artifact_type: str | None = None
    ) -> list[dict[str, Any]]:
        """The ground truth of one artifact's versions (see `dataset`)."""
        found = [
            entry
            for entry in self.dataset(registry, versions=True)["versions"][registry]
            if entry["name"] == name and artifact_type in (None, entry["artifactType"])
        ]
        if len(found) != 1:
            raise EmulatorError(f"{len(found)} artifacts named {name!r} in {registry!r}")
        return found[0]["versions"]


def _terminate(process: subprocess.Popen[str], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


def start_emulator(**options: Any) -> EmulatorProcess:
    """Start an emulator with `EmulatorProcess` options; the caller stops it."""
    return EmulatorProcess(**options).start()
