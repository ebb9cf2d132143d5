"""Everything one running emulator knows, shared by its request-handling threads."""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        self.api = HarApi(self.dataset, self.api_key)
