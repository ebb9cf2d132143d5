"""The `/_emulator/` control endpoints: JSON in, JSON out, no authentication.

They let a test inspect what the client sent, inject faults, change latency, rate limits and the
order of tied rows, mutate the data (and restore the seeded data), and read the ground truth to
compare a load against.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .dataset import TIE_ORDERS
from .faults import FaultRuleError
from .mutations import MutationError, apply_ops
from .responses import Response, json_response
from .state import EmulatorState

CONTROL_PREFIX = "/_emulator/"

Handler = Callable[[dict[str, Any], dict[str, list[str]]], Any]


class ControlEndpoints:
    """Routes `(method, path)` to a handler returning a JSON-serialisable value."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "health"): lambda body, query: {"ok": True},
            ("GET", "stats"): lambda body, query: state.log.stats(),
            ("GET", "requests"): lambda body, query: state.log.entries(
                timing=query.get("timing", ["0"])[0] not in ("", "0", "false")
            ),
            ("POST", "reset-log"): self._reset_log,
            ("GET", "config"): lambda body, query: self._config(),
            ("POST", "config"): self._set_config,
            ("GET", "faults"): lambda body, query: {"faults": state.faults.rules()},
            ("POST", "faults"): self._add_faults,
            ("DELETE", "faults"): self._clear_faults,
            ("POST", "mutate"): self._mutate,
            ("POST", "restore-data"): self._restore_data,
            ("GET", "triggers"): lambda body, query: {"triggers": state.triggers.triggers()},
            ("POST", "triggers"): self._add_trigger,
            ("DELETE", "triggers"): self._clear_triggers,
            ("GET", "dataset"): self._dataset,
        }

    def handle(
        self, method: str, raw_path: str, query: dict[str, list[str]], body: bytes
    ) -> Response:
        name = raw_path[len(CONTROL_PREFIX) :].strip("/")
        handler = self._routes.get((method, name))
        if handler is None:
            known = sorted(f"{m} {CONTROL_PREFIX}{n}" for m, n in self._routes)
            return json_response(
                404, {"error": f"no control endpoint {method} {raw_path}", "known": known}
            )
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            return json_response(400, {"error": f"request body is not JSON: {exc}"})
        if not isinstance(payload, dict):
            return json_response(400, {"error": "request body must be a JSON object"})
        try:
            return json_response(200, handler(payload, query))
        except (MutationError, FaultRuleError, ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})

    def _reset_log(self, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        self.state.log.reset()
        return {"ok": True}

    def _config(self) -> dict[str, Any]:
        return {
            "latency_ms": self.state.latency_ms,
            "rate_limit_per_minute": self.state.limiter.per_minute,
            "tie_order": self.state.dataset.tie_order,
        }

    def _set_config(self, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        """Change only the keys given."""
        unknown = set(body) - {"latency_ms", "rate_limit_per_minute", "tie_order"}
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        tie_order = body.get("tie_order", self.state.dataset.tie_order)
        if tie_order not in TIE_ORDERS:
            raise ValueError(f"tie_order must be one of {', '.join(TIE_ORDERS)}, got {tie_order!r}")
        if "latency_ms" in body:
            latency = body["latency_ms"]
            if isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0:
                raise ValueError("latency_ms must be a non-negative number")
            self.state.latency_ms = float(latency)
        if "rate_limit_per_minute" in body:
            self.state.limiter.configure(body["rate_limit_per_minute"])
        self.state.dataset.tie_order = tie_order
        return self._config()

    def _add_faults(self, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        self.state.faults.add(body.get("faults"))
        return {"faults": self.state.faults.rules()}

    def _clear_faults(self, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        self.state.faults.clear()
        return {"faults": []}

    def _mutate(self, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        return {"applied": apply_ops(self.state.dataset, body.get("ops"))}

    def _restore_data(self, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        self.state.restore_data()
        return {"ok": True}

    def _add_trigger(self, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        trigger = self.state.triggers.add(
            body.get("registry"), body.get("after_page"), body.get("ops")
        )
        return trigger.to_json()

    def _clear_triggers(self, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        self.state.triggers.clear()
        return {"triggers": []}

    def _dataset(self, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        """`?registry=PATH` narrows to one registry; `?versions=1` adds every artifact's versions;
        `?artifacts=0` leaves the artifacts out (registries and their counts only)."""
        registry = query.get("registry", [None])[0]
        versions = query.get("versions", ["0"])[0] not in ("", "0", "false")
        artifacts = query.get("artifacts", ["1"])[0] not in ("", "0", "false")
        return self.state.dataset.ground_truth(registry, versions=versions, artifacts=artifacts)
