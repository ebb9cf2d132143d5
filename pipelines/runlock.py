"""A lock file per pipeline, so that overlapping cron runs do not collide."""

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from dlt.common.pipeline import get_dlt_pipelines_dir


class RunLockHeld(Exception):
    """Another run of the same pipeline holds the lock."""


class RunLock:
    """An exclusive `flock` on `<dlt pipelines dir>/<pipeline_name>.run.lock`, released when the process
    ends even if it is killed (the kernel drops flocks of dead processes).

    Example:
        with RunLock("harness_registry", timeout=0):
            pipeline.run(...)
    """

    def __init__(self, pipeline_name: str, timeout: float = 0) -> None:
        directory = Path(os.environ.get("HARNESS_REGISTRY_LOCK_DIR") or get_dlt_pipelines_dir())
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{pipeline_name}.run.lock"
        self.timeout = timeout
        self._file = None

    def __enter__(self) -> "RunLock":
        self._file = open(self.path, "a+")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._file.close()
                    raise RunLockHeld(
                        f"another run of this pipeline is in progress (lock {self.path}); "
                        "it was left alone. Use --lock-timeout SECONDS to wait for it"
                    ) from None
                time.sleep(0.2)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
