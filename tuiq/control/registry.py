"""One registry of remote-control commands, declared once with their arguments.

``@inspect_command`` and ``@control_command`` record a handler with its
argument specs and help; the worker's node dispatches from it, and the CLI,
console and shell build their interfaces from the same entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
        if self.extra.get("signature"):
            return str(self.extra["signature"])
        parts = []
        for arg in self.args:
            label = f"{arg.name}..." if arg.variadic else arg.name
            parts.append(f"<{label}>" if arg.required else f"[{label}]")
        return " ".join(parts)


COMMANDS: dict[str, Command] = {}
ALIASES: dict[str, str] = {}


ArgumentSpec = Argument | tuple[str, Callable[[str], Any]] | tuple[str]


def _argument(spec: ArgumentSpec, variadic: str | None) -> Argument:
    """An :class:`Argument` from ours or from Celery's ``(name, type)`` pairs."""
    if isinstance(spec, Argument):
        return spec
    name = spec[0]
    kind = spec[1] if len(spec) > 1 else str
    return Argument(name, type=kind, variadic=name == variadic)


def _register(kind: str, name: str | None, args: Sequence[ArgumentSpec],
              help: str | None, aliases: Sequence[str], visible: bool,
              default_timeout: float, destructive: bool, signature: str | None = None,
              variadic: str | None = None) -> Callable:
    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        command_name = name or handler.__name__
        doc = (handler.__doc__ or "").strip().splitlines()
        arguments = [_argument(spec, variadic) for spec in args]
        if variadic and variadic not in {a.name for a in arguments}:
            # Celery names the variadic argument separately from ``args``.
            arguments.append(Argument(variadic, variadic=True))
        command = Command(
            name=command_name, handler=handler, kind=kind, args=tuple(arguments),
            help=help or (doc[0] if doc else ""), aliases=tuple(aliases),
            visible=visible, default_timeout=default_timeout, destructive=destructive,
            extra={"signature": signature} if signature else {},
        )
        COMMANDS[command_name] = command
        for alias in aliases:
            ALIASES[alias] = command_name
        return handler

    return decorator


def _aliases(aliases: Sequence[str], alias: str | None) -> tuple[str, ...]:
    return (*aliases, alias) if alias else tuple(aliases)


def inspect_command(name: str | Callable | None = None, args: Sequence[ArgumentSpec] = (),
                    help: str | None = None, aliases: Sequence[str] = (),
                    visible: bool = True, default_timeout: float = 1.0,
                    signature: str | None = None, alias: str | None = None,
                    variadic: str | None = None, **_: Any) -> Callable:
    """Register a read-only command; the handler takes ``(state, **arguments)``.

    Celery's form works too: ``args=[("n", int)]``, ``signature="[N=1]"``,
    ``alias=...``, ``variadic=...``, and the bare ``@inspect_command``.
    """
    if callable(name):
        return _register("inspect", None, (), None, (), True, 1.0, False)(name)
    return _register("inspect", name, args, help, _aliases(aliases, alias), visible,
                     default_timeout, False, signature, variadic)


def control_command(name: str | Callable | None = None, args: Sequence[ArgumentSpec] = (),
                    help: str | None = None, aliases: Sequence[str] = (),
                    visible: bool = True, default_timeout: float = 1.0,
                    destructive: bool = False, signature: str | None = None,
                    alias: str | None = None, variadic: str | None = None,
                    **_: Any) -> Callable:
    """Register a command with side effects; the handler takes ``(state, **arguments)``.

    Accepts Celery's form as :func:`inspect_command` does.
    """
    if callable(name):
        return _register("control", None, (), None, (), True, 1.0, False)(name)
    return _register("control", name, args, help, _aliases(aliases, alias), visible,
                     default_timeout, destructive, signature, variadic)


def lookup(name: str) -> Command | None:
    """The command called ``name`` (or one of its aliases)."""
    return COMMANDS.get(ALIASES.get(name, name))


def commands(kind: str | None = None) -> list[Command]:
    """Registered commands, by name, optionally of one kind."""
    return sorted((c for c in COMMANDS.values() if kind in (None, c.kind)),
                  key=lambda c: c.name)
