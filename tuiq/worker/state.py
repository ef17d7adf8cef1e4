"""What a worker knows about its tasks: revoked ids, counters and requests."""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterable

REVOKES_MAX = int(os.environ.get("CELERY_WORKER_REVOKES_MAX", 50000))
REVOKE_EXPIRES = float(os.environ.get("CELERY_WORKER_REVOKE_EXPIRES", 10800))


class LimitedSet:
    """A set of ids that keeps at most ``maxlen`` items, each for ``expires`` seconds.

    Insertion order is kept, so eviction of the oldest item is O(1).
    """

    def __init__(self, maxlen: int = REVOKES_MAX, expires: float = REVOKE_EXPIRES) -> None:
        self.maxlen = maxlen
        self.expires = expires
        self._data: OrderedDict[str, float] = OrderedDict()

    def add(self, item: str, now: float | None = None) -> None:
        """Add (or refresh) ``item``."""
        now = time.monotonic() if now is None else now
        self._data.pop(item, None)
        self._data[item] = now
        self.purge(now)

    def update(self, items: Iterable[str]) -> None:
        """Add many items, stamped now."""
        now = time.monotonic()
        for item in items:
            self._data.pop(item, None)
            self._data[item] = now
        self.purge(now)

    def discard(self, item: str) -> None:
        """Remove ``item`` if present."""
        self._data.pop(item, None)

    def purge(self, now: float | None = None) -> None:
        """Drop expired items and those beyond ``maxlen``, oldest first."""
        now = time.monotonic() if now is None else now
        data = self._data
        while len(data) > self.maxlen:
            data.popitem(last=False)
        if self.expires:
            limit = now - self.expires
            while data:
                oldest = next(iter(data))
                if data[oldest] >= limit:
                    break
                data.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self):
        return iter(self._data)

    def as_list(self) -> list[str]:
        """Items, oldest first."""
        return list(self._data)


class WorkerStats:
    """Counters a worker reports: accepted tasks per name, processed total."""

    def __init__(self) -> None:
        self.total: dict[str, int] = {}
        self.processed = 0
        self.started_at = time.time()

    def task_accepted(self, name: str) -> None:
        """Count a task a pool process has taken."""
        self.total[name] = self.total.get(name, 0) + 1
        self.processed += 1
