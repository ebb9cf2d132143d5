"""Injected misbehaviour: fault rules, and the server-side rate limiter.

Rules describe what goes wrong; the HTTP handler in server.py carries them out, because some
kinds (a reset connection, a truncated body) only exist at the socket level.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

FAULT_KINDS = frozenset(
    {
        "status",  # answer with `status` (5xx or 429) and an HTML error page or the given body
        "reset",  # close the connection without answering
        "timeout",  # sleep `seconds`, then answer normally
        "truncate",  # 200 whose Content-Length promises more than the body, then close
        "not_json",  # 200 with an HTML body
        "bad_json",  # 200 with the JSON cut in half, Content-Length consistent
        "failure_status",  # 200 with "status": "FAILURE" and `data` (null by default)
        "forbidden",  # 403 JSON
        "unauthorized",  # 401 JSON
    }
)


class FaultRuleError(ValueError):
    """A fault rule could not be understood."""


@dataclass
class FaultRule:
    """One rule. It applies to requests whose raw path contains `match`, whose `page` query
    parameter equals `page` and, with `artifact`, that list the versions of the artifact of that
    (decoded) name, however the client encoded it (each only when set): it lets the first
    `skip` of them through, then hits the next `times` (None: every one)."""

    kind: str
    match: str | None = None
    artifact: str | None = None
    page: int | None = None
    times: int | None = 1
    skip: int = 0
    status: int | None = None
    body: Any = None
    content_type: str | None = None
    seconds: float = 5.0
    data: Any = None
    hits: int = field(default=0)
    skipped: int = field(default=0)

    @classmethod
    def from_json(cls, raw: Any) -> FaultRule:
        """Validate and build a rule from its JSON form."""
        if not isinstance(raw, dict):
            raise FaultRuleError(f"a fault rule must be an object, got {raw!r}")
        unknown = set(raw) - {f for f in cls.__dataclass_fields__ if f not in ("hits", "skipped")}
        if unknown:
            raise FaultRuleError(f"unknown fault rule fields: {sorted(unknown)}")
        rule = cls(**raw)
        if rule.kind not in FAULT_KINDS:
            raise FaultRuleError(f"unknown fault kind {rule.kind!r}; known: {sorted(FAULT_KINDS)}")
        if rule.kind == "status" and not (
            isinstance(rule.status, int) and 400 <= rule.status <= 599
        ):
            raise FaultRuleError("a 'status' fault needs a 4xx/5xx 'status'")
        if rule.times is not None and (not isinstance(rule.times, int) or rule.times < 1):
            raise FaultRuleError("'times' must be a positive integer or null (always)")
        if not isinstance(rule.skip, int) or rule.skip < 0:
            raise FaultRuleError("'skip' must be a non-negative integer")
        if rule.artifact is not None and not isinstance(rule.artifact, str):
            raise FaultRuleError("'artifact' must be an artifact name")
        if not isinstance(rule.seconds, (int, float)) or rule.seconds < 0:
            raise FaultRuleError("'seconds' must be a non-negative number")
        return rule

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(
        self, raw_path: str, query: dict[str, list[str]], artifact: str | None = None
    ) -> bool:
        if self.match is not None and self.match not in raw_path:
            return False
        if self.artifact is not None and self.artifact != artifact:
            return False
        if self.page is not None:
            pages = query.get("page")
            if not pages or pages[0].strip() != str(self.page):
                return False
        return True


class FaultBook:
    """The active fault rules, in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, raw_rules: Any) -> list[FaultRule]:
        """Validate all rules first, so a bad batch adds nothing."""
        if not isinstance(raw_rules, list):
            raise FaultRuleError("'faults' must be a list of rules")
        rules = [FaultRule.from_json(raw) for raw in raw_rules]
        with self._lock:
            self._rules.extend(rules)
        return rules

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json() for rule in self._rules]

    def take(
        self, raw_path: str, query: dict[str, list[str]], artifact: str | None = None
    ) -> FaultRule | None:
        """The rule that hits this request, if any; counts the hit or the skip. `artifact` is
        the decoded artifact of a versions request.

        The first matching rule with hits left decides: while it still has requests to let
        through, this request is served normally.
        """
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(raw_path, query, artifact):
                    continue
                if rule.skipped < rule.skip:
                    rule.skipped += 1
                    return None
                rule.hits += 1
                return rule
        return None


class RateLimiter:
    """A token bucket refilled at `per_minute / 60` tokens a second and holding at most one
    second's worth (never less than one token), like an API gateway's per-key limit."""

    def __init__(
        self, per_minute: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(per_minute)

    def configure(self, per_minute: int | None) -> None:
        """Set the limit (None or 0: unlimited) and refill the bucket."""
        if per_minute is not None and (not isinstance(per_minute, int) or per_minute < 0):
            raise ValueError("rate_limit_per_minute must be a non-negative integer or null")
        with self._lock:
            self.per_minute = per_minute or None
            rate = (self.per_minute or 0) / 60.0
            self._refill_per_second = rate
            self._capacity = max(1.0, rate)
            self._tokens = self._capacity
            self._last = self._clock()

    def allow(self) -> bool:
        """Take a token if there is one; False means answer 429."""
        with self._lock:
            if self.per_minute is None:
                return True
            now = self._clock()
            elapsed = now - self._last
            self._last = now
            self._tokens = min(self._capacity, self._tokens + elapsed * self._refill_per_second)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
