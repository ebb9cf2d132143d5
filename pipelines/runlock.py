"""A lock file per pipeline, so that overlapping cron runs do not collide."""

import os
from pathlib import Path
from types import TracebackType

from dlt.common.pipeline import get_dlt_pipelines_dir
from filelock import FileLock, Timeout


class RunLockHeld(Exception):
    """Another run of the same pipeline holds the lock; `waited` is how long this one waited (s)."""

    def __init__(self, path: Path, waited: float) -> None:
        self.path = path
        self.waited = waited
        held = f"another run of this pipeline is in progress (lock {path})"
        if waited > 0:
            super().__init__(f"{held}; waited {waited:g} s for it to finish, and left it alone")
        else:
            super().__init__(f"{held}; it was left alone")


class RunLock:
    """An exclusive lock on `<dlt pipelines dir>/<pipeline_name>.run.lock`, taken with `filelock`
    (`flock` on POSIX, `msvcrt` locking on Windows), so the operating system drops it when the
    process ends, even if it is killed. `HARNESS_REGISTRY_LOCK_DIR` puts the lock files elsewhere.

    Example:
        with RunLock("harness_registry", timeout=0):
            pipeline.run(...)

    Raises:
        RunLockHeld: on entering, when another run still holds the lock after `timeout` seconds.
    """

    def __init__(self, pipeline_name: str, timeout: float = 0) -> None:
        directory = Path(os.environ.get("HARNESS_REGISTRY_LOCK_DIR") or get_dlt_pipelines_dir())
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{pipeline_name}.run.lock"
        self.timeout = timeout
        # not thread-local: whoever holds the RunLock may release it from another thread
        self._lock = FileLock(self.path, thread_local=False)

    def __enter__(self) -> "RunLock":
        try:
            self._lock.acquire(timeout=self.timeout)
        except Timeout:
            raise RunLockHeld(self.path, waited=self.timeout) from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._lock.release()
