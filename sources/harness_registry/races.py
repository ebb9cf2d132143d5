"""Reading a list again when it changed while it was read.

Offset pages of a list that changes under them may skip or repeat rows; an `itemCount` that moves
between pages says so (`ListScan.raced`). A registry's artifacts in snapshot mode, a space's
registry list and an artifact's version list (in either mode) cannot load a list that may miss rows,
so they read it again, `RACED_READ_ATTEMPTS` times in all. (A registry's artifacts in incremental
mode are not read again: the registry keeps its cursor and the next run heals.)
"""

from .settings import RACED_READ_ATTEMPTS


class RacedReads:
    """Counts, per list, the complete reads in a row that raced a change, and says when to stop.

    Example:
        races = RacedReads("listed", "some of its registries may be missing from this run")
        if scan.complete and scan.raced:
            if races.read_again(space):
                queue.append(scan_of(space))
            else:
                result.error = races.reason(space)
    """

    def __init__(self, verb: str, consequence: str, attempts: int = RACED_READ_ATTEMPTS) -> None:
        """
        Args:
            verb: what was done to the list, for the message: `listed`, `read`.
            consequence: what giving up means for this run, for the message.
            attempts: reads in all, the first one included.
        """
        self._verb = verb
        self._consequence = consequence
        self._attempts = attempts
        self._raced: dict[str, int] = {}

    def read_again(self, ref: str) -> bool:
        """Counts one more raced read of `ref`; True while it may be read again."""
        self._raced[ref] = self._raced.get(ref, 0) + 1
        return self._raced[ref] < self._attempts

    def reason(self, ref: str) -> str:
        """The one-line error of a list that raced on every attempt."""
        return (
            f"changed while it was {self._verb}, {self._raced.get(ref, 0)} times in a row: "
            f"{self._consequence}; run again later"
        )
