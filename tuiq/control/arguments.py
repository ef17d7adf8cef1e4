"""Turning typed words into a command's wire arguments, with one-line errors.

The CLI, the console's command mode and the shell all read a command line the
same way: positional words in the registry's order, optional ``--name``
values, a variadic argument taking the rest. Values the worker would refuse
(malformed task ids, rate limits, signal names) are refused here first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tuiq.control.builtin.replies import positive_int, signal_number, to_bool
from tuiq.control.registry import Argument, Command
from tuiq.exceptions import TuiqError

TASK_ID_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
#: Arguments checked before anything is sent, by name.
TASK_ID_ARGUMENTS = frozenset({"task_id", "ids"})
#: Commands that never reply (PROTOCOL.md §2.5): sent as casts.
NO_REPLY_COMMANDS = frozenset({"shutdown"})


#: How a value's expected kind is named in an error.
KIND_NAMES = {int: "a whole number", float: "a number", bool: "yes or no",
              positive_int: "a positive whole number"}


class CommandError(TuiqError):
    """A command line that cannot be sent: the message is one line for the user."""


def validate_task_id(task_id: str) -> str:
    """Return ``task_id`` or raise a one-line error if it cannot be a task id."""
    if not isinstance(task_id, str) or not TASK_ID_RE.match(task_id):
        raise CommandError(f"malformed task id: {task_id!r}")
    return task_id


def convert(command: str, arg: Argument, text: Any) -> Any:
    """Convert one typed value with the argument's type; one-line error if it fails."""
    if not isinstance(text, str):
        return text
    converter = to_bool if arg.type is bool else arg.type
    try:
        return converter(text)
    except (ValueError, TypeError):
        kind = KIND_NAMES.get(arg.type) or getattr(arg.type, "__name__", "value")
        raise CommandError(f"{command}: invalid {arg.name}: {text!r} (expected {kind})") from None


def shape_arguments(command: Command, positionals: Sequence[str],
                    options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The wire ``arguments`` dict from positional words and ``--name`` options.

    Only what was given is sent, so the worker's defaults apply to the rest.
    A variadic argument takes every remaining word as a list.
    """
    options = {k: v for k, v in (options or {}).items() if v is not None}
    rest = list(positionals)
    arguments: dict[str, Any] = {}
    for arg in command.args:
        if arg.variadic:
            if rest:
                arguments[arg.name] = [convert(command.name, arg, word) for word in rest]
                rest = []
        elif rest:
            arguments[arg.name] = convert(command.name, arg, rest.pop(0))
        if arg.name in options:
            if arg.name in arguments:
                raise CommandError(f"{command.name}: {arg.name} given twice")
            arguments[arg.name] = convert(command.name, arg, options[arg.name])
        if arg.required and arg.name not in arguments:
            raise CommandError(f"{command.name}: missing argument {arg.name} "
                               f"(usage: {command.name} {command.signature})")
    if rest:
        most = sum(1 for a in command.args if not a.variadic)
        raise CommandError(f"{command.name} takes at most {most} argument(s), got extra: "
                           f"{' '.join(rest)}")
    validate(command, arguments)
    return arguments


def validate(command: Command, arguments: dict[str, Any]) -> None:
    """Refuse values the worker would reject anyway: task ids, rate limits, signals."""
    for name in TASK_ID_ARGUMENTS & set(arguments):
        values = arguments[name] if isinstance(arguments[name], list) else [arguments[name]]
        for value in values:
            validate_task_id(value)
    if command.name == "rate_limit" and "rate_limit" in arguments:
        validate_rate_limit(arguments["rate_limit"])
    if "signal" in arguments:
        validate_signal(arguments["signal"])


def validate_rate_limit(value: Any) -> str:
    """A rate limit such as ``10/s``, ``100/m``, ``1000/h`` or ``0``."""
    from tuiq.worker.ratelimit import parse_rate

    try:
        parse_rate(value)
    except ValueError:
        raise CommandError(f"malformed rate limit: {value!r} "
                           "(use e.g. 10/s, 100/m, 1000/h, or 0 to disable)") from None
    return str(value)


def validate_signal(name: Any) -> str:
    """A signal name (``TERM``, ``SIGKILL``) or number this system knows."""
    try:
        signal_number(name)
    except ValueError:
        raise CommandError(f"unknown signal: {name!r} (use e.g. TERM, KILL, INT)") from None
    return str(name)
