"""One registry of remote-control commands, declared once with their arguments.

``@inspect_command`` and ``@control_command`` record a handler with its
argument specs and help; the worker's node dispatches from it, and the CLI,
console and shell build their interfaces from the same entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Argument:
    """One argument of a command: its name, type and default."""

    name: str
    type: Callable[[str], Any] = str
    default: Any = None
    required: bool = False
    variadic: bool = False
    help: str = ""


@dataclass
class Command:
    """A remote-control command."""

    name: str
    handler: Callable[..., Any]
    kind: str  # "inspect" or "control"
    args: tuple[Argument, ...] = ()
    help: str = ""
    aliases: tuple[str, ...] = ()
    visible: bool = True
    default_timeout: float = 1.0
    destructive: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def signature(self) -> str:
        """A one-line usage string, e.g. ``<task_id> [signal]``."""
        parts = []
        for arg in self.args:
            label = f"{arg.name}..." if arg.variadic else arg.name
            parts.append(f"<{label}>" if arg.required else f"[{label}]")
        return " ".join(parts)


COMMANDS: dict[str, Command] = {}
ALIASES: dict[str, str] = {}


def _register(kind: str, name: str | None, args: list[Argument] | tuple[Argument, ...],
              help: str | None, aliases: tuple[str, ...], visible: bool,
              default_timeout: float, destructive: bool) -> Callable:
    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        command_name = name or handler.__name__
        doc = (help or (handler.__doc__ or "").strip().splitlines()[0:1] or [""])
        command = Command(
            name=command_name, handler=handler, kind=kind, args=tuple(args),
            help=doc if isinstance(doc, str) else doc[0], aliases=tuple(aliases),
            visible=visible, default_timeout=default_timeout, destructive=destructive,
        )
        COMMANDS[command_name] = command
        for alias in aliases:
            ALIASES[alias] = command_name
        return handler

    return decorator


def inspect_command(name: str | None = None, args: tuple[Argument, ...] = (),
                    help: str | None = None, aliases: tuple[str, ...] = (),
                    visible: bool = True, default_timeout: float = 1.0) -> Callable:
    """Register a read-only command; the handler takes ``(state, **arguments)``."""
    return _register("inspect", name, args, help, aliases, visible, default_timeout, False)


def control_command(name: str | None = None, args: tuple[Argument, ...] = (),
                    help: str | None = None, aliases: tuple[str, ...] = (),
                    visible: bool = True, default_timeout: float = 1.0,
                    destructive: bool = False) -> Callable:
    """Register a command with side effects; the handler takes ``(state, **arguments)``."""
    return _register("control", name, args, help, aliases, visible, default_timeout,
                     destructive)


def lookup(name: str) -> Command | None:
    """The command called ``name`` (or one of its aliases)."""
    return COMMANDS.get(ALIASES.get(name, name))


def commands(kind: str | None = None) -> list[Command]:
    """Registered commands, by name, optionally of one kind."""
    return sorted((c for c in COMMANDS.values() if kind in (None, c.kind)),
                  key=lambda c: c.name)
