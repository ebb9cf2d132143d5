"""The record of API requests the emulator received, for tests to assert on.

API keys are never stored, only whether one was sent.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Status recorded for a request whose connection was closed without an answer.
NO_RESPONSE = 0


@dataclass
class LoggedRequest:
    path: str
    query: dict[str, list[str]]
    has_api_key: bool
    status: int | None = None  # None while the request is still being answered
    throttled: bool = False
    # For a versions request: the registry ref and the artifact, decoded.
    registry: str | None = None
    artifact: str | None = None
    # Epoch seconds when the request arrived and when its answer was decided (latency included).
    received_at: float = field(default_factory=time.time)
    answered_at: float | None = None

    def to_json(self, timing: bool = False) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "has_api_key": self.has_api_key,
        }
        if self.artifact is not None:
            entry["registry"] = self.registry
            entry["artifact"] = self.artifact
        if timing:
            entry["received_at"] = self.received_at
            entry["answered_at"] = self.answered_at
        return entry


class RequestLog:
    """API requests in arrival order, with their final status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    def start(
        self,
        path: str,
        query: dict[str, list[str]],
        has_api_key: bool,
        *,
        registry: str | None = None,
        artifact: str | None = None,
    ) -> LoggedRequest:
        entry = LoggedRequest(path, query, has_api_key, registry=registry, artifact=artifact)
        with self._lock:
            self._entries.append(entry)
        return entry

    def finish(self, entry: LoggedRequest, status: int, throttled: bool = False) -> None:
        with self._lock:
            entry.status = status
            entry.throttled = throttled
            entry.answered_at = time.time()

    def entries(self, timing: bool = False) -> list[dict[str, Any]]:
        """Every request; with `timing`, also when it arrived and when it was answered."""
        with self._lock:
            return [entry.to_json(timing) for entry in self._entries]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            statuses = Counter(
                str(entry.status) for entry in self._entries if entry.status is not None
            )
            return {
                "requests": len(self._entries),
                "by_status": dict(sorted(statuses.items())),
                "throttled": sum(entry.throttled for entry in self._entries),
            }

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
