"""Typed words to values: seconds, counts, times, node lists and a task's arguments.

Each refuses bad input with a one-line :class:`CommandError` naming the option.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from tuiq.control.arguments import CommandError

#: ``name=value`` words are keyword arguments of ``call``.
_KEYWORD = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def to_seconds(text: Any, default: float | None, option: str) -> float | None:
    """A non-negative number of seconds, or ``default`` when not given."""
    if text is None:
        return default
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise CommandError(f"{option} must be a number of seconds, not {text!r}") from None
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise CommandError(f"{option} must be a non-negative number, not {text!r}")
    return value


def to_int(text: Any, option: str, low: int, high: int | None = None) -> int | None:
    """An integer in ``[low, high]``, or None when not given."""
    if text is None:
        return None
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise CommandError(f"{option} must be a whole number, not {text!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f"at least {low}"
        raise CommandError(f"{option} must be {bounds}, not {value}")
    return value


def to_datetime(text: str | None, option: str) -> datetime | None:
    """An ISO-8601 time, or None."""
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{option} is not an ISO-8601 time: {text!r}") from None


def to_expires(text: str | None) -> float | datetime | None:
    """Seconds from now, or an ISO-8601 time."""
    if text is None:
        return None
    try:
        return to_seconds(text, None, "--expires")
    except CommandError:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise CommandError(f"--expires must be seconds or ISO-8601: {text!r}") from None


def split_nodes(values: Iterable[str]) -> list[str]:
    """``["a", "b,c"]`` → ``["a", "b", "c"]`` without blanks or repeats."""
    nodes = [part.strip() for value in values for part in str(value).split(",")]
    return list(dict.fromkeys(node for node in nodes if node))


def json_or_text(word: str) -> Any:
    """A typed argument: JSON when it parses (``2``, ``[1, 2]``, ``null``), else the text."""
    try:
        return json.loads(word)
    except ValueError:
        return word


def json_value(text: str | None, kind: type, option: str) -> Any:
    """A JSON array or object given to ``option``; empty when not given."""
    if text is None:
        return kind()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{option} is not valid JSON: {exc.msg} (at column {exc.colno})") \
            from None
    if not isinstance(value, kind):
        raise CommandError(f"{option} must be a JSON {'array' if kind is list else 'object'}")
    return value


def call_arguments(words: Iterable[str], args_json: str | None = None,
                   kwargs_json: str | None = None) -> tuple[list[Any], dict[str, Any]]:
    """A task's ``args`` and ``kwargs``: words as JSON-or-text, ``name=value`` as keywords.

    ``--args``/``--kwargs`` JSON come first; words add to them. As in Python, a
    positional word after a typed keyword is refused.
    """
    args: list[Any] = json_value(args_json, list, "--args")
    kwargs: dict[str, Any] = json_value(kwargs_json, dict, "--kwargs")
    typed_keyword = False
    for word in words:
        keyword = _KEYWORD.match(word)
        if keyword:
            name, value = keyword.groups()
            if name in kwargs:
                raise CommandError(f"call: keyword argument {name} given twice")
            kwargs[name] = json_or_text(value)
            typed_keyword = True
        elif typed_keyword:
            raise CommandError(f"call: positional argument {word!r} after keyword arguments")
        else:
            args.append(json_or_text(word))
    return args, kwargs
