"""What a run read, per registry: the figures the CLI prints and the failures it exits non-zero on."""

from dataclasses import dataclass, field


@dataclass
class RegistryResult:
    """How the reading of one registry (or one space's registry list) went."""

    ref: str
    rows_read: int = 0
    rows_loaded: int = 0
    pages: int = 0
    requests: int = 0
    wasted_requests: int = 0
    error: str | None = None
    raced: bool = False
    cursor_kept: bool = False  # the cursor was not advanced: the next run re-reads from the old one

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RunReport:
    """Filled in by the source while it runs; read by the CLI after `pipeline.run`."""

    registries: dict[str, RegistryResult] = field(default_factory=dict)
    spaces: dict[str, RegistryResult] = field(default_factory=dict)
    requests: int = 0
    throttled: int = 0

    def registry(self, ref: str) -> RegistryResult:
        return self.registries.setdefault(ref, RegistryResult(ref))

    def space(self, ref: str) -> RegistryResult:
        return self.spaces.setdefault(ref, RegistryResult(ref))

    @property
    def failures(self) -> list[RegistryResult]:
        """Registries and spaces that could not be read."""
        return [r for r in [*self.spaces.values(), *self.registries.values()] if not r.ok]

    @property
    def rows_loaded(self) -> int:
        return sum(r.rows_loaded for r in self.registries.values())
