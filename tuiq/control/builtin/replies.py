"""Reply helpers and argument coercions shared by the built-in commands."""

from __future__ import annotations

import signal as signals
from typing import Any


def ok(value: Any) -> dict[str, Any]:
    """A success reply: ``{"ok": value}``."""
    return {"ok": value}


def nok(value: Any) -> dict[str, Any]:
    """A handled-error reply: ``{"error": value}``."""
    return {"error": value}


class NoReply(Exception):
    """Raised by a handler that must not reply (``shutdown``, as in Celery)."""


def task_ids(value: Any) -> list[str]:
    """Task ids from a scalar string or a list (the Python API sends a string)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off", ""}


def to_bool(value: Any) -> bool:
    """A boolean from JSON or from a command-line word (``true``/``no``/``1``...)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return bool(value)


def positive_int(value: Any) -> int:
    """A whole number of at least 1 (a count of processes, say); ValueError otherwise."""
    number = int(value)
    if number < 1:
        raise ValueError(f"not a positive whole number: {value!r}")
    return number


def optional_float(value: Any) -> float | None:
    """A float, or None for ``None``/``""``/``"none"``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    number = float(value)
    if number < 0 or number != number:
        raise ValueError(f"not a non-negative number: {value!r}")
    return number


def signal_number(name: str | int) -> int:
    """A signal number from ``"TERM"``, ``"SIGKILL"``, ``"9"`` or 9; ValueError if unknown."""
    text = str(name).strip().upper()
    if text.isdigit():
        if int(text) in {member.value for member in signals.Signals}:
            return int(text)
    else:
        member = signals.Signals.__members__.get(text if text.startswith("SIG") else f"SIG{text}")
        if member is not None:
            return int(member)
    raise ValueError(f"unknown signal: {name}")
