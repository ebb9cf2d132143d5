"""A temporary file of rows, so that holding a registry's rows until its read completes costs disk,
not memory."""

import pickle
import tempfile
from collections.abc import Iterator
from typing import Any


class RowSpool:
    """Appends lists of rows to an anonymous temporary file and reads them back in order.

    Example:
        spool = RowSpool()
        spool.write(rows)
        for row in spool.read(): ...
        spool.close()
    """

    def __init__(self) -> None:
        # closed by `close()`, which the snapshot sink calls once the rows are handed out
        self._file = tempfile.TemporaryFile(prefix="harness-registry-")  # noqa: SIM115

    def write(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            pickle.dump(rows, self._file, protocol=pickle.HIGHEST_PROTOCOL)

    def read(self) -> Iterator[dict[str, Any]]:
        self._file.seek(0)
        while True:
            try:
                yield from pickle.load(self._file)
            except EOFError:
                return

    def close(self) -> None:
        self._file.close()


class SpooledRows:
    """A spool's rows to hand out once: iterating reads them and then closes the spool; `peek` reads
    them without closing it (to note which artifacts they are before they go out).

    Example:
        rows = SpooledRows(spool)
        names = [row["name"] for row in rows.peek()]
        load(rows)  # the spool is closed after the last row
    """

    def __init__(self, spool: RowSpool) -> None:
        self._spool = spool

    def peek(self) -> Iterator[dict[str, Any]]:
        return self._spool.read()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            yield from self._spool.read()
        finally:
            self._spool.close()
