"""Everything one running emulator knows, shared by its request-handling threads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .api import HarApi
from .dataset import Dataset
from .faults import FaultBook, RateLimiter
from .request_log import RequestLog
from .triggers import TriggerBook

DEFAULT_API_KEY = "har-emulator-key"


@dataclass
class EmulatorState:
    dataset: Dataset
    api_key: str = DEFAULT_API_KEY
    # Sleep before answering each API request; a float read and written whole, so no lock.
    latency_ms: float = 0.0
    limiter: RateLimiter = field(default_factory=RateLimiter)
    faults: FaultBook = field(default_factory=FaultBook)
    triggers: TriggerBook = field(default_factory=TriggerBook)
    log: RequestLog = field(default_factory=RequestLog)
    # Builds the data this process started with again, for `restore_data`; None: it cannot.
    seeded_data: Callable[[], Dataset] | None = None

    def __post_init__(self) -> None:
        self.api = HarApi(self.dataset, self.api_key)

    def restore_data(self) -> None:
        """The data as the process started with it: every mutation and fired trigger undone, as
        in a new process with the same options. The settings (latency, rate limit, tie order),
        faults, triggers and the request log stay as they are."""
        if self.seeded_data is None:
            raise ValueError("this emulator was started without a way to rebuild its data")
        dataset = self.seeded_data()
        dataset.tie_order = self.dataset.tie_order
        self.dataset, self.api = dataset, HarApi(dataset, self.api_key)
