"""Task rate limits: parsing Celery's ``"N/unit"`` strings and a token bucket to enforce them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

_SECONDS_PER_UNIT = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0}


def _unit_seconds(unit: str) -> float | None:
    """Return the length of ``unit`` in seconds, or ``None`` when it is not a time unit.

    Any prefix of second(s)/minute(s)/hour(s) is accepted, so ``s``, ``sec``, ``min``,
    ``minute`` and ``hours`` all work; Celery itself only knows ``s``, ``m`` and ``h``.
    """
    unit = unit.strip().lower()
    if not unit:
        return 1.0
    for word, seconds in _SECONDS_PER_UNIT.items():
        if word.startswith(unit):
            return seconds
    return None


def _invalid(rate: object) -> ValueError:
    """Build the error Celery's ``rate_limit`` control command reports."""
    return ValueError(f"Invalid rate limit string: {rate!r}")


def parse_rate(rate: str | int | float | None) -> float | None:
    """Return ``rate`` in tasks per second, or ``None`` for "no limit".

    Accepts ``"10/s"``, ``"100/m"``, ``"1000/h"``, unit words such as ``"5/min"``, and a
    bare number or numeric string (per second).  ``None``, ``""`` and zero mean no limit.

    Raises:
        ValueError: ``"Invalid rate limit string: '<rate>'"`` for anything else,
            including negative, NaN and infinite rates.
    """
    if rate is None:
        return None
    # bool is an int subclass, but rate_limit=True is a mistake, not "1/s".
    if isinstance(rate, bool) or not isinstance(rate, str | int | float):
        raise _invalid(rate)
    if isinstance(rate, str):
        text = rate.strip()
        if not text:
            return None
        amount, _, unit = text.partition("/")
        seconds = _unit_seconds(unit)
        try:
            value = float(amount)
        except ValueError:
            raise _invalid(rate) from None
        if seconds is None:
            raise _invalid(rate)
        value /= seconds
    else:
        value = float(rate)
    if not math.isfinite(value) or value < 0:
        raise _invalid(rate)
    return value or None


class TokenBucket:
    """A token bucket: ``fill_rate`` tokens per second, holding at most ``capacity``.

    The bucket starts full.  It never sleeps or starts threads: the caller asks
    :meth:`can_consume` and, on ``False``, waits :meth:`expected_time` seconds.
    """

    def __init__(
        self,
        fill_rate: float,
        capacity: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not fill_rate > 0 or not math.isfinite(fill_rate):
            raise ValueError(f"fill_rate must be a positive number, got {fill_rate!r}")
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity!r}")
        self.fill_rate = float(fill_rate)
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._last = clock()

    def _refill(self) -> float:
        """Add the tokens earned since the last call and return the current level."""
        now = self._clock()
        # max() guards against a clock that is injected for tests and goes backwards.
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(float(self.capacity), self._tokens + elapsed * self.fill_rate)
        return self._tokens

    def can_consume(self, tokens: int = 1) -> bool:
        """Take ``tokens`` from the bucket if it holds that many; return whether it did."""
        if tokens <= self._refill():
            self._tokens -= tokens
            return True
        return False

    def expected_time(self, tokens: int = 1) -> float:
        """Return the seconds until ``tokens`` can be consumed (0.0 if they can now).

        Returns ``math.inf`` when ``tokens`` exceeds the capacity, since that never happens.
        """
        if tokens > self.capacity:
            return math.inf
        missing = tokens - self._refill()
        return max(0.0, missing / self.fill_rate)
