"""Autoscaling: grow the pool when work waits, shrink it when it idles.

The policy is a small class; the ``worker_autoscaler`` setting names a
replacement (``"proj.scaling:MyAutoscaler"``), which gets the same arguments
and may override :meth:`Autoscaler.wanted`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

logger = logging.getLogger("tuiq.worker")

#: Seconds a grown pool keeps its extra processes after the last scale-up
#: (the worker passes ``worker_autoscale_keepalive``).
KEEPALIVE = 30.0


class Autoscaler:
    """Keeps the pool between ``min_concurrency`` and ``max_concurrency`` processes."""

    #: Seconds between two looks at the queue.
    interval = 1.0

    def __init__(self, worker, max_concurrency: int, min_concurrency: int = 0,
                 keepalive: float = KEEPALIVE) -> None:
        if min_concurrency < 0 or max_concurrency < 1 or min_concurrency > max_concurrency:
            raise ValueError(f"autoscale needs 0 <= min <= max and max >= 1, "
                             f"not max={max_concurrency} min={min_concurrency}")
        self.worker = worker
        self.max_concurrency = max_concurrency
        self.min_concurrency = min_concurrency
        self.keepalive = keepalive
        self._last_scale_up: float | None = None

    @property
    def processes(self) -> int:
        """Pool processes now."""
        return self.worker.pool.concurrency

    @property
    def qty(self) -> int:
        """Tasks running or waiting for a process."""
        consumer = self.worker.consumer
        if consumer is None:
            return 0
        return consumer.running_count() + len(consumer.reserved_requests())

    def wanted(self) -> int:
        """How many processes the pool should have now (the policy)."""
        wanted = min(max(self.qty, self.min_concurrency, 1), self.max_concurrency)
        if wanted < self.processes and self._last_scale_up is not None and \
                time.monotonic() - self._last_scale_up < self.keepalive:
            return self.processes  # keep the processes a burst needed for a while
        return wanted

    def maybe_scale(self) -> None:
        """Grow or shrink the pool towards :meth:`wanted`."""
        wanted, current = self.wanted(), self.processes
        if wanted > current:
            self.scale_up(wanted - current)
        elif wanted < current:
            self.scale_down(current - wanted)

    def scale_up(self, n: int) -> None:
        """Add ``n`` processes."""
        logger.info("Scaling up %d processes.", n)
        self.worker.pool.grow(n)
        self._last_scale_up = time.monotonic()
        if self.worker.consumer is not None:
            self.worker.consumer.dispatch()

    def scale_down(self, n: int) -> None:
        """Remove up to ``n`` idle processes."""
        removed = 0
        for _ in range(n):
            try:
                self.worker.pool.shrink(1)
            except ValueError:  # every process is busy: try again next time
                break
            removed += 1
        if removed:
            logger.info("Scaling down %d processes.", removed)

    def update(self, maximum: int | None = None,
               minimum: int | None = None) -> tuple[int, int]:
        """Change the range (``autoscale`` command); returns ``(max, min)``."""
        new_max = self.max_concurrency if maximum is None else maximum
        new_min = self.min_concurrency if minimum is None else minimum
        if new_min < 0 or new_max < 1 or new_min > new_max:
            raise ValueError(f"needs 0 <= min <= max and max >= 1, not max={new_max} "
                             f"min={new_min}")
        old_max = self.max_concurrency
        self.max_concurrency, self.min_concurrency = new_max, new_min
        consumer = self.worker.consumer
        if consumer is not None and new_max != old_max:
            consumer.adjust_prefetch(new_max - old_max)
        self._last_scale_up = None
        self.maybe_scale()
        return new_max, new_min

    def info(self) -> dict[str, Any]:
        """The ``autoscaler`` section of ``stats``."""
        return {"max": self.max_concurrency, "min": self.min_concurrency,
                "current": self.processes, "qty": self.qty}
