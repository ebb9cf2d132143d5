"""A client-side rate limiter shared by every request of a run."""

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Spaces requests evenly so that no more than `requests_per_minute` start in any minute.

    It is a token bucket holding one token: each request waits until `60 / requests_per_minute`
    seconds have passed since the previous one was allowed. Harness answers 429 past 400 calls a minute
    per key and sends no `Retry-After`, so staying under the limit is far cheaper than backing off.
    Thread-safe; `None` or `0` disables it (self-managed servers have no limit).
    See docs/harness-api.md#rate-limits.

    Example:
        limiter = RateLimiter(400)
        limiter.acquire()  # returns at once, then at most every 0.15 s
    """

    def __init__(
        self,
        requests_per_minute: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next_allowed = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> float:
        """Blocks until the next request may start; returns the seconds it waited."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._clock()
            start = max(now, self._next_allowed)
            self._next_allowed = start + self.interval
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return wait
