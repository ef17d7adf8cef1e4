"""How the console writes values: durations, times, sizes, load, and the colours of states.

Pure functions of their inputs (no clock of their own), so the same value always reads the
same way and snapshots stay stable.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from tuiq import states

#: Celery's colours: successes green, running yellow, revoked magenta, failures red.
STATE_STYLES: dict[str, str] = {
    states.SUCCESS: "green",
    states.STARTED: "yellow",
    states.REVOKED: "magenta",
    states.FAILURE: "bold red",
    states.RETRY: "red",
    states.REJECTED: "red",
    states.RECEIVED: "cyan",
    states.PENDING: "dim",
}

#: Node liveness colours: a late heartbeat is a warning, offline is an error.
STATUS_STYLES: dict[str, str] = {"online": "green", "late": "yellow", "offline": "red"}

#: What a missing value looks like in every table.
MISSING = "-"


def state_text(state: str | None) -> Text:
    """A task state in its colour (custom states are plain)."""
    state = state or MISSING
    return Text(state, style=STATE_STYLES.get(state, ""))


def status_text(status: str) -> Text:
    """A node status (``online`` / ``late`` / ``offline``) in its colour."""
    return Text(status, style=STATUS_STYLES.get(status, ""))


def duration(seconds: float | None) -> str:
    """A run time: ``0.012s``, ``4.25s``, ``2m03s``, ``1h05m``, ``3d04h``."""
    if seconds is None:
        return MISSING
    if seconds < 0:
        seconds = 0.0
    if seconds < 10:
        return f"{seconds:.3f}s" if seconds < 1 else f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def uptime(seconds: float | None) -> str:
    """A node's uptime: ``45s``, ``12m30s``, ``2h05m``, ``3d04h``."""
    if seconds is None:
        return MISSING
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    return duration(whole)


def clock_time(timestamp: float | None) -> str:
    """Local wall-clock time of an epoch timestamp: ``14:03:27``."""
    if timestamp is None:
        return MISSING
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


def precise_time(timestamp: float | None) -> str:
    """Local date and time to the millisecond: ``2026-11-21 14:03:27.412``."""
    if timestamp is None:
        return MISSING
    millis = int(round((timestamp % 1) * 1000)) % 1000
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) + f".{millis:03d}"


def kilobytes(value: Any) -> str:
    """A size given in KiB (``maxrss`` on Linux) as ``512K``, ``59.0M``, ``1.25G``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return MISSING
    if value < 1024:
        return f"{int(value)}K"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f}M"
    return f"{value / (1024 * 1024):.2f}G"


def seconds_pair(first: Any, second: Any) -> str:
    """Two CPU times (``utime``/``stime``) as ``0.60/0.15``."""
    if not isinstance(first, int | float) or not isinstance(second, int | float):
        return MISSING
    return f"{_cpu(first)}/{_cpu(second)}"


def load_average(values: Iterable[Any] | None) -> str:
    """A load average triple as ``0.29 0.27 0.12``."""
    numbers = [v for v in (values or ()) if isinstance(v, int | float)]
    if not numbers:
        return MISSING
    return " ".join(f"{v:.2f}" for v in numbers[:3])


def count(value: int | None) -> str:
    """A counter, or the missing mark when the figure is unknown."""
    return MISSING if value is None else str(value)


def thousands(value: int) -> str:
    """A large counter with thousands separators: ``12,345``."""
    return f"{value:,}"


def rate(per_second: float) -> str:
    """A rate: ``0.4/s``, ``12.5/s``, ``1,250/s``."""
    if per_second >= 1000:
        return f"{per_second:,.0f}/s"
    return f"{per_second:.1f}/s"


def short(value: Any, width: int = 60) -> str:
    """One line of at most ``width`` characters (``…`` marks the cut)."""
    text = MISSING if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _cpu(seconds: float) -> str:
    if seconds < 100:
        return f"{seconds:.2f}"
    if seconds < 6000:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def parse_iso(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time as the wire carries ETAs (None if unreadable)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def eta(value: Any, now: float) -> str:
    """An ETA or expiry: ``08:30:00 (in 30m00s)``; the raw value when it is not ISO 8601."""
    when = parse_iso(value)
    if when is None:
        return MISSING if value in (None, "") else str(value)
    delta = when - now
    relative = f"in {uptime(delta)}" if delta >= 0 else f"{uptime(-delta)} ago"
    return f"{clock_time(when)} ({relative})"
