"""Per-second event counts in a fixed ring of buckets: O(1) to add, O(window) to read.

Rates are read from these buckets rather than by scanning tasks, so the cost of a
throughput figure does not grow with the number of tasks kept.
"""

from __future__ import annotations


class RateRing:
    """Counts per whole second for the last ``size`` seconds.

    Bucket ``s % size`` holds second ``s``; a bucket still holding an older second is
    reset when reused, so reads check which second each bucket holds. Counts for a second
    older than what its bucket holds are dropped (they fell out of the ring).
    """

    __slots__ = ("size", "_seconds", "_counts")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a rate ring needs at least one bucket")
        self.size = size
        self._seconds = [-1] * size
        self._counts = [0] * size

    def add(self, when: float, count: int = 1) -> None:
        """Count ``count`` events at epoch time ``when``."""
        second = int(when)
        index = second % self.size
        held = self._seconds[index]
        if held == second:
            self._counts[index] += count
        elif held < second:
            self._seconds[index] = second
            self._counts[index] = count

    def count(self, second: int) -> int:
        """Events counted in whole second ``second`` (0 if none, or no longer held)."""
        index = second % self.size
        return self._counts[index] if self._seconds[index] == second else 0

    def history(self, end: int, seconds: int) -> list[int]:
        """Counts for the ``seconds`` whole seconds before ``end`` (exclusive), oldest first."""
        return [self.count(second) for second in range(end - seconds, end)]

    def total(self, end: int, seconds: int) -> int:
        """Sum of the counts for the ``seconds`` whole seconds before ``end`` (exclusive)."""
        return sum(self.history(end, seconds))

    def clear(self) -> None:
        """Forget every count."""
        self._seconds = [-1] * self.size
        self._counts = [0] * self.size
