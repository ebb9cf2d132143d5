"""One stream of rows for several tables, split into one generator per table for dlt's resources.

The `artifacts` and `artifact_versions` resources are read by one `ArtifactReader` (one scheduler,
one rate limit, cursors that wait for versions). Each resource's generator pulls the shared stream
until an item of its own table comes, holding the other table's items for that table's generator.

dlt pulls its resources in turn (`round_robin`, its default), and the reader sends every artifact
before the first version. So that the `artifact_versions` generator does not hold every artifact
meanwhile, a generator yields an empty list, giving its turn away, while another started generator
has items waiting. (With dlt's `fifo` mode the first resource reads the whole stream, and the
other table's rows wait in memory.)
"""

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

Chunk = list[dict[str, Any]]


class TableStreams:
    """Splits a stream of `(table, rows)` items into `rows(table)` generators.

    Example:
        streams = TableStreams(lambda: reader.items())
        artifacts = dlt.resource(streams.rows("artifacts"), name="artifacts")
        versions = dlt.resource(streams.rows("artifact_versions"), name="artifact_versions")

    Args:
        open_items: makes the shared stream; called on the first pull, so that nothing is read
            until dlt extracts.
    """

    def __init__(self, open_items: Callable[[], Iterator[tuple[str, Chunk]]]) -> None:
        self._open_items = open_items
        self._items: Iterator[tuple[str, Chunk]] | None = None
        self._held: dict[str, deque[Chunk]] = {}
        self._pulling: set[str] = set()  # tables whose generator has started and not ended
        self._ended = False

    def rows(self, table: str) -> Iterator[Chunk]:
        """The chunks of `table`, in the order the stream has them."""
        held = self._held.setdefault(table, deque())
        self._pulling.add(table)
        finished = False
        waiting_before: int | None = None  # what others had held when this one last gave way
        try:
            while True:
                waiting = self._held_for_others(table)
                if held:
                    yield held.popleft()
                elif waiting and (waiting_before is None or waiting < waiting_before):
                    # their turn first, which keeps what is held small; given away again only
                    # if they took something meanwhile (a consumer may not pull them at all)
                    waiting_before = waiting
                    yield []
                    continue
                elif not self._pull():
                    finished = True
                    return
                waiting_before = None
        finally:
            self._pulling.discard(table)
            if not finished:
                # dlt closed this resource early (an error, a limit): stop reading for all.
                self.close()

    def close(self) -> None:
        """Ends the shared stream (its reader cancels what it has not sent) and drops what is held."""
        self._ended = True
        if self._items is not None and hasattr(self._items, "close"):
            self._items.close()
        self._held.clear()

    def _held_for_others(self, table: str) -> int:
        """Items held for the other started generators."""
        return sum(len(self._held.get(other, ())) for other in self._pulling if other != table)

    def _pull(self) -> bool:
        """Reads one more item into its table's queue; False once the stream has ended."""
        if self._ended:
            return False
        if self._items is None:
            self._items = self._open_items()
        item = next(self._items, None)
        if item is None:
            self._ended = True
            return False
        table, chunk = item
        self._held.setdefault(table, deque()).append(chunk)
        return True
