"""What the shell's commands look like: their arguments, options, and what each word completes to.

The table is built from the control registry (every inspect and control
command, with the CLI's positional arguments and ``--name`` options) plus the
shell's own commands. It is plain data: the parser, the completer and
``help`` all read it, so they can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tuiq.control.registry import Argument, Command


class Kind(StrEnum):
    """What a word stands for, hence what completes it."""

    NONE = "none"
    COMMAND = "command"
    OPTION = "option"
    NODE = "node"
    NODES_OR_ALL = "nodes-or-all"
    TASK = "task"
    QUEUE = "queue"
    SIGNAL = "signal"
    TASK_ID = "task-id"
    BOOL = "bool"
    SWITCH = "switch"


@dataclass(frozen=True)
class ArgSpec:
    """A positional argument."""

    name: str
    kind: Kind = Kind.NONE
    required: bool = False
    variadic: bool = False
    help: str = ""


@dataclass(frozen=True)
class OptionSpec:
    """An option: its flags (``-d``, ``--destination``), where its value goes, what it takes."""

    flags: tuple[str, ...]
    dest: str
    takes_value: bool = True
    kind: Kind = Kind.NONE
    help: str = ""
    multiple: bool = False
    metavar: str = "VALUE"

    @property
    def long(self) -> str:
        """The longest flag, used in messages and completion."""
        return max(self.flags, key=len)

    @property
    def label(self) -> str:
        """``-d/--destination NODES`` as help shows it."""
        flags = "/".join(self.flags)
        return f"{flags} {self.metavar}" if self.takes_value else flags


@dataclass(frozen=True)
class CommandSpec:
    """A command the shell runs: a shell command, a registry command, or a group of them."""

    name: str
    help: str = ""
    args: tuple[ArgSpec, ...] = ()
    options: tuple[OptionSpec, ...] = ()
    #: "shell" for the shell's own commands, "inspect"/"control" for the registry's,
    #: "group" for ``inspect`` and ``control`` themselves.
    kind: str = "shell"
    aliases: tuple[str, ...] = ()
    visible: bool = True
    subcommands: Mapping[str, CommandSpec] = field(default_factory=dict)
    command: Command | None = None

    def option(self, flag: str) -> OptionSpec | None:
        """The option spelled ``flag``, or None."""
        for option in self.options:
            if flag in option.flags:
                return option
        return None

    @property
    def usage(self) -> str:
        """A one-line usage, e.g. ``revoke <task_id...> [--terminate] [--signal SIGNAL]``."""
        prefix = f"{self.kind} " if self.kind in ("inspect", "control") else ""
        if self.kind == "group":
            return f"{self.name} COMMAND [ARGUMENTS...] [OPTIONS]"
        if self.command is not None and self.command.signature:
            positional = self.command.signature
        else:
            positional = " ".join(arg_label(arg) for arg in self.args)
        options = "[OPTIONS]" if self.options else ""
        return " ".join(part for part in (f"{prefix}{self.name}", positional, options) if part)

    def visible_subcommands(self) -> list[CommandSpec]:
        """The group's commands that completion and help list (not aliases, not hidden)."""
        return [spec for name, spec in sorted(self.subcommands.items())
                if name == spec.name and spec.visible]


def arg_label(arg: ArgSpec) -> str:
    """``<name>`` for a required argument, ``[name...]`` for an optional variadic one."""
    label = f"{arg.name}..." if arg.variadic else arg.name
    return f"<{label}>" if arg.required else f"[{label}]"


@dataclass(frozen=True)
class CommandTable:
    """Every command the shell knows, by the name typed first."""

    commands: Mapping[str, CommandSpec]

    def lookup(self, name: str) -> CommandSpec | None:
        """The top-level command (or alias) ``name``."""
        return self.commands.get(name)

    def listed(self) -> list[CommandSpec]:
        """Top-level commands to offer: no aliases, nothing hidden."""
        return [spec for name, spec in sorted(self.commands.items())
                if name == spec.name and spec.visible]

    def group(self, kind: str) -> CommandSpec:
        """The ``inspect`` or ``control`` group."""
        return self.commands[kind]


# -- options shared by every registry command (the CLI's -d, -t, --limit, -j) -------------------
JSON_OPTION = OptionSpec(("-j", "--json"), "json", takes_value=False,
                         help="print the replies as JSON")
TIMEOUT_OPTION = OptionSpec(("-t", "--timeout"), "timeout", metavar="SECONDS",
                            help="seconds to wait for nodes that stay silent")
REMOTE_OPTIONS = (
    OptionSpec(("-d", "--destination"), "destination", kind=Kind.NODE, multiple=True,
               metavar="NODES", help="only these nodes (repeat, or comma-separate)"),
    TIMEOUT_OPTION,
    OptionSpec(("--limit",), "limit", metavar="N", help="stop after this many replies"),
    JSON_OPTION,
)

#: Registry argument names whose values are names the cluster knows.
ARGUMENT_KINDS = {
    "task_id": Kind.TASK_ID,
    "ids": Kind.TASK_ID,
    "task_name": Kind.TASK,
    "queue": Kind.QUEUE,
    "signal": Kind.SIGNAL,
}


def is_flag(arg: Argument) -> bool:
    """Whether the CLI makes ``arg`` a flag (``--terminate``) rather than ``--name VALUE``."""
    return arg.type is bool or getattr(arg.type, "__name__", "") == "to_bool"


def argument_kind(arg: Argument) -> Kind:
    """What completes a value of ``arg``."""
    if is_flag(arg):
        return Kind.BOOL
    return ARGUMENT_KINDS.get(arg.name, Kind.NONE)


def remote_spec(command: Command) -> CommandSpec:
    """The spec of a registry command, with the same arguments and options as the CLI's."""
    args = tuple(ArgSpec(a.name, argument_kind(a), a.required, a.variadic, a.help)
                 for a in command.args)
    options = tuple(
        OptionSpec(("--" + a.name.replace("_", "-"),), a.name, takes_value=not is_flag(a),
                   kind=argument_kind(a), help=a.help, metavar=a.name.upper())
        for a in command.args if not (a.variadic or a.required)
    )
    return CommandSpec(command.name, command.help, args, options + REMOTE_OPTIONS,
                       kind=command.kind, aliases=command.aliases, visible=command.visible,
                       command=command)


# -- the shell's own commands -------------------------------------------------------------------
SHELL_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "call", "Send a task by name and print its id.",
        args=(ArgSpec("name", Kind.TASK, required=True, help="registered task name"),
              ArgSpec("args", variadic=True,
                      help="positional arguments (JSON or text); key=value for keyword ones")),
        options=(
            OptionSpec(("--countdown",), "countdown", metavar="SECONDS",
                       help="run no earlier than this many seconds from now"),
            OptionSpec(("--eta",), "eta", metavar="ISO-8601",
                       help="run no earlier than this time"),
            OptionSpec(("-Q", "--queue"), "queue", kind=Kind.QUEUE, metavar="QUEUE",
                       help="queue to send to"),
            OptionSpec(("--expires",), "expires", metavar="SECONDS|ISO-8601",
                       help="discard if not started by then"),
            OptionSpec(("--priority",), "priority", metavar="0-255", help="message priority"),
            OptionSpec(("-f", "--force"), "force", takes_value=False,
                       help="send it even though the app given with -A does not register it"),
            OptionSpec(("-a", "--args"), "args_json", metavar="JSON",
                       help='positional arguments as a JSON array, e.g. "[2, 3]"'),
            OptionSpec(("-k", "--kwargs"), "kwargs_json", metavar="JSON",
                       help='keyword arguments as a JSON object, e.g. {"x": 1}'),
            JSON_OPTION,
        )),
    CommandSpec(
        "result", "Show a task's state and result.",
        args=(ArgSpec("task_id", Kind.TASK_ID, required=True, help="the task's id"),),
        options=(
            OptionSpec(("-w", "--wait"), "wait", takes_value=False,
                       help="wait until the task is ready (ctrl+c stops waiting)"),
            OptionSpec(("-t", "--timeout"), "timeout", metavar="SECONDS",
                       help="seconds to wait at most (implies --wait)"),
            OptionSpec(("--traceback",), "traceback", takes_value=False,
                       help="show the traceback of a failure"),
            OptionSpec(("-j", "--json"), "json", takes_value=False,
                       help="print the stored meta as JSON"),
        )),
    CommandSpec(
        "purge", "Delete every message waiting in task queues (asks first).",
        args=(ArgSpec("queues", Kind.QUEUE, variadic=True,
                      help="queues to purge (default: the app's task queues)"),),
        options=(OptionSpec(("-f", "--force"), "force", takes_value=False,
                            help="do not ask for confirmation"),)),
    CommandSpec(
        "nodes", "Who answers a ping now, and nodes seen before that did not.",
        options=(TIMEOUT_OPTION, JSON_OPTION)),
    CommandSpec(
        "use", "Send commands to these nodes by default; 'use all' for every node.",
        args=(ArgSpec("nodes", Kind.NODES_OR_ALL, variadic=True,
                      help="node names, or 'all'"),)),
    CommandSpec(
        "events", "Tail the live event stream until ctrl+c.",
        options=(OptionSpec(("-n", "--count"), "count", metavar="N",
                            help="stop after this many events"),
                 OptionSpec(("-t", "--timeout"), "timeout", metavar="SECONDS",
                            help="stop after this many seconds"),
                 OptionSpec(("-j", "--json"), "json", takes_value=False,
                            help="print each event as a JSON line"))),
    CommandSpec(
        "json", "Switch JSON output on or off (no argument: toggle).",
        args=(ArgSpec("state", Kind.SWITCH, help="on or off"),)),
    CommandSpec(
        "python", "Python mode with the app, its tasks and the canvas (or one line: !EXPR).",
        args=(ArgSpec("code", variadic=True, help="one expression or statement to run"),)),
    CommandSpec(
        "help", "Help on every command, or on one.",
        args=(ArgSpec("command", Kind.COMMAND, variadic=True, help="a command name"),)),
    CommandSpec("clear", "Clear the screen (also: ctrl+l at the prompt).", aliases=("cls",)),
    CommandSpec("exit", "Leave the shell (also: quit, ctrl+d).", aliases=("quit",)),
)

GROUP_HELP = {
    "inspect": "Ask workers about themselves (no side effects).",
    "control": "Change workers at run time (revoke, rate limits, consumers, pool).",
}


def build_table(registry_commands: Iterable[Command] | None = None) -> CommandTable:
    """The table from the shell's commands and the registry's (built-in and user-defined).

    A registry command is reachable as ``inspect NAME``/``control NAME`` and, unless
    a shell command has that name, as plain ``NAME``.
    """
    if registry_commands is None:
        from tuiq.control import builtin  # noqa: F401  (registers the built-in commands)
        from tuiq.control.registry import commands

        registry_commands = commands()
    groups: dict[str, dict[str, CommandSpec]] = {"inspect": {}, "control": {}}
    bare: dict[str, CommandSpec] = {}
    for command in registry_commands:
        spec = remote_spec(command)
        for name in (command.name, *command.aliases):
            groups[command.kind][name] = spec
            bare.setdefault(name, spec)
    table: dict[str, CommandSpec] = dict(bare)
    for kind, members in groups.items():
        table[kind] = CommandSpec(kind, GROUP_HELP[kind], kind="group", subcommands=members)
    for spec in SHELL_COMMANDS:
        for name in (spec.name, *spec.aliases):
            table[name] = spec
    return CommandTable(table)
