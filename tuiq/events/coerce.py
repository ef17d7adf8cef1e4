"""Tolerant conversions of event fields: odd types become the expected one or None.

Senders differ: Celery sends ``signum`` as a string on one path, older releases send
``utcoffset`` as an int, some JSON decoders produce ``Decimal``. None of these may raise
in the monitor, so each helper returns None (or a safe default) for what it cannot read.
"""

from __future__ import annotations

import math
from typing import Any

#: Epoch seconds outside this range are not a time (garbage, or milliseconds).
_MAX_EPOCH = 1e11


def as_float(value: Any) -> float | None:
    """A finite float from a number or numeric string; None otherwise (bools included)."""
    if value.__class__ is float:
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return result if math.isfinite(result) else None


def as_time(value: Any) -> float | None:
    """Epoch seconds as a float, or None if ``value`` cannot be one."""
    result = as_float(value)
    if result is None or not 0.0 <= result < _MAX_EPOCH:
        return None
    return result


def as_int(value: Any) -> int | None:
    """An int from an int, integral float or numeric string; None otherwise."""
    if value.__class__ is int:
        return value
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        number = as_float(value)
        return int(number) if number is not None else None


def as_bool(value: Any) -> bool | None:
    """A bool from a bool, number or ``"true"``/``"false"``-like string; None if unknown."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off", ""):
            return False
    return None


def as_text(value: Any) -> str | None:
    """Strings and None pass through; anything else becomes its repr (as on the wire)."""
    if value is None or value.__class__ is str:
        return value
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ must not break the monitor
        return "<unrepresentable>"


def as_signum(value: Any) -> int | str | None:
    """A signal number as sent: int, or the string Celery sometimes sends; None if neither."""
    if value is None or value.__class__ is int or value.__class__ is str:
        return value
    number = as_int(value)
    return number if number is not None else as_text(value)


def as_float_list(value: Any) -> list[float]:
    """A list of floats (``loadavg``); unreadable items are dropped, a non-list gives []."""
    if not isinstance(value, list | tuple):
        return []
    numbers = []
    for item in value:
        number = as_float(item)
        if number is not None:
            numbers.append(number)
    return numbers
