"""One-shot triggers: mutations applied right after a given page of a registry is served.

They let a test make a paging scan race a concurrent change at an exact, repeatable point.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Trigger:
    """Apply `ops` once, when page `after_page` of `registry` (or of a space's registry listing,
    keyed by the space ref) has been served."""

    registry: str
    after_page: int
    ops: list[dict[str, Any]]
    fired: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class TriggerBook:
    """The registered triggers, fired ones included (they show whether their ops failed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._triggers: list[Trigger] = []

    def add(self, registry: Any, after_page: Any, ops: Any) -> Trigger:
        if not isinstance(registry, str) or not registry:
            raise ValueError("'registry' must be a registry path such as 'acme/data/pypi'")
        if not isinstance(after_page, int) or isinstance(after_page, bool) or after_page < 0:
            raise ValueError("'after_page' must be a non-negative integer")
        if not isinstance(ops, list):
            raise ValueError("'ops' must be a list of mutation ops")
        trigger = Trigger(registry, after_page, ops)
        with self._lock:
            self._triggers.append(trigger)
        return trigger

    def clear(self) -> None:
        with self._lock:
            self._triggers.clear()

    def triggers(self) -> list[dict[str, Any]]:
        with self._lock:
            return [trigger.to_json() for trigger in self._triggers]

    def due(self, registry_path: str, page: int) -> list[Trigger]:
        """Triggers for this page, marked fired so that each fires exactly once."""
        with self._lock:
            due = [
                trigger
                for trigger in self._triggers
                if not trigger.fired
                and trigger.registry == registry_path
                and trigger.after_page == page
            ]
            for trigger in due:
                trigger.fired = True
            return due
