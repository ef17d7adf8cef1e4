"""Packing Redis commands (RESP arrays of bulk strings) for the worker's hot paths.

redis-py's packer checks every argument against every type it accepts and
splits multi-word command names; the worker sends a few commands per task with
known argument types, and this costs about half as much.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def _bulk(arg: Any) -> bytes:
    if isinstance(arg, str):
        arg = arg.encode()
    elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
        arg = repr(arg).encode()
    elif not isinstance(arg, (bytes, bytearray)):
        raise TypeError(f"cannot send a {type(arg).__name__} to Redis")
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


def pack_command(args: Sequence[Any]) -> bytes:
    """One command as the bytes Redis reads: ``*N`` then each argument as a bulk string."""
    return b"*%d\r\n" % len(args) + b"".join([_bulk(arg) for arg in args])


def pack_commands(commands: Iterable[Sequence[Any]]) -> bytes:
    """Several commands in one buffer, to be sent with a single write."""
    return b"".join([pack_command(command) for command in commands])
