"""Every command the console can send, for the palette and ``:`` command mode.

One catalogue: the registry's commands (built-in and the ``-A`` app's own),
plus the console's own (``retry``, ``purge`` and the view commands). A command
line is read the way ``tuiq control`` reads one (positional words, ``--name
value``, ``-d NODES``, ``-t SECONDS``) and refused with the same one-line
errors, through :func:`tuiq.control.arguments.shape_arguments`. The palette's
provider is context-aware: what is tagged or under the cursor pre-fills the
task ids, task name, queue or destination of the command chosen.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tuiq.control.arguments import CommandError, convert, shape_arguments
from tuiq.control.registry import Argument, Command, commands, lookup

#: Commands that need a confirmation whatever the registry says.
DESTRUCTIVE = frozenset({"terminate", "shutdown", "pool_restart", "purge"})
#: Commands the console implements itself (they are not sent to workers as such).
CONSOLE_COMMANDS: dict[str, Command] = {
    spec.name: spec for spec in (
        Command("retry", handler=lambda *a, **k: None, kind="console",
                args=(Argument("task_id", required=True, variadic=True, help="task ids"),),
                help="Send failed tasks again: same name, args and kwargs, new ids."),
        Command("purge", handler=lambda *a, **k: None, kind="console",
                args=(Argument("queue", required=True, variadic=True, help="queue names"),),
                help="Delete every message waiting in queues (cannot be undone).",
                destructive=True),
    )
}
#: ``:`` words that drive the console itself, with the action they run.
VIEW_COMMANDS = {
    "nodes": "show_view('nodes')", "1": "show_view('nodes')",
    "tasks": "show_view('tasks')", "2": "show_view('tasks')",
    "pause": "toggle_pause", "help": "help", "quit": "quit", "q": "quit",
}
#: Commands whose arguments are asked for even when a key gave enough to send them.
ALWAYS_PROMPT = frozenset({"terminate", "rate_limit", "time_limit", "add_consumer",
                           "cancel_consumer", "purge"})
#: Commands whose queue is pre-filled with the selected nodes' queues (adding one they
#: already consume would do nothing).
QUEUE_PREFILLED = frozenset({"cancel_consumer", "purge"})
#: Signals offered by the terminate picker, most useful first.
SIGNALS = ("TERM", "KILL", "INT", "QUIT", "HUP", "USR1", "USR2")


@dataclass(frozen=True)
class CommandContext:
    """What the user is looking at: the targets a command is pre-filled with."""

    nodes: tuple[str, ...] = ()
    task_ids: tuple[str, ...] = ()
    task_names: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    scope: str = "global"


@dataclass
class Invocation:
    """A command ready to run: what, with which arguments, to which nodes."""

    spec: Command
    arguments: dict[str, Any] = field(default_factory=dict)
    destination: list[str] | None = None
    timeout: float = 1.0

    @property
    def name(self) -> str:
        """The command's name."""
        return self.spec.name

    @property
    def console(self) -> bool:
        """True for the console's own commands (retry, purge)."""
        return self.spec.kind == "console"

    @property
    def destructive(self) -> bool:
        """True when it needs a confirmation (and is refused in read-only mode)."""
        return is_destructive(self.spec, self.arguments)

    def refusal(self) -> str:
        """Why read-only mode refuses it, naming the argument that made it destructive."""
        if self.spec.name == "revoke" and self.arguments.get("terminate"):
            return "revoke --terminate is not allowed in read-only mode (a plain revoke is)"
        return f"{self.name} is not allowed in read-only mode"

    def describe(self) -> str:
        """One line saying what will happen, for the confirmation."""
        words = [self.name, *(_show(name, value) for name, value in self.arguments.items())]
        target = ", ".join(self.destination) if self.destination else "all nodes"
        if self.console and self.name == "purge":
            return " ".join(words)
        return f"{' '.join(words)}  →  {target}"


def is_destructive(spec: Command, arguments: dict[str, Any] | None = None) -> bool:
    """Whether running ``spec`` with ``arguments`` kills, stops or deletes something."""
    if spec.destructive or spec.name in DESTRUCTIVE:
        return True
    return bool((arguments or {}).get("terminate"))


def catalogue(read_only: bool = False) -> list[Command]:
    """Every command the console offers: the registry's and its own, by name."""
    from tuiq.control import builtin  # noqa: F401  (registers the built-in commands)

    found = [spec for spec in commands() if spec.visible]
    found += CONSOLE_COMMANDS.values()
    if read_only:
        found = [spec for spec in found if not is_destructive(spec)]
    return sorted(found, key=lambda spec: spec.name)


def find(name: str) -> Command | None:
    """The command called ``name`` (an alias works too), console commands included."""
    from tuiq.control import builtin  # noqa: F401

    return CONSOLE_COMMANDS.get(name) or lookup(name)


# -- reading a command line ------------------------------------------------------------------
def parse_line(text: str, *, read_only: bool = False) -> Invocation | str:
    """Read a ``:`` command line: an :class:`Invocation`, or the console action it names.

    Raises :class:`CommandError` with a one-line message for anything that
    cannot be sent.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise CommandError(f"cannot read the command: {exc}") from None
    if not words:
        raise CommandError("type a command, e.g. ping or rate_limit proj.add 10/s")
    name, rest = words[0], words[1:]
    if name in VIEW_COMMANDS and not rest:
        return VIEW_COMMANDS[name]
    spec = find(name)
    if spec is None:
        raise CommandError(f"unknown command: {name!r} (ctrl+p lists them)")
    positionals, options, destination, timeout = split_options(spec, rest)
    arguments = shape_arguments(spec, positionals, options)
    invocation = Invocation(spec, arguments, destination, timeout or spec.default_timeout)
    if read_only and invocation.destructive:
        raise CommandError(invocation.refusal())
    if invocation.console and destination:
        raise CommandError(f"{spec.name} does not take -d/--destination")
    return invocation


def split_options(spec: Command, words: Sequence[str]
                  ) -> tuple[list[str], dict[str, Any], list[str] | None, float | None]:
    """Positional words, ``--name`` options, ``-d`` nodes and ``-t`` timeout of a line."""
    by_flag = {"--" + arg.name.replace("_", "-"): arg for arg in spec.args if not arg.variadic}
    by_flag.update({"--" + arg.name: arg for arg in spec.args if not arg.variadic})
    positionals: list[str] = []
    options: dict[str, Any] = {}
    nodes: list[str] = []
    timeout: float | None = None
    queue = list(words)
    while queue:
        word = queue.pop(0)
        flag, equals, inline = word.partition("=")
        if flag in ("-d", "--destination", "-t", "--timeout"):
            value = inline if equals else _next_value(spec, flag, queue)
            if flag in ("-d", "--destination"):
                nodes += [node.strip() for node in value.split(",") if node.strip()]
            else:
                timeout = _timeout(spec, value)
        elif flag in by_flag:
            arg = by_flag[flag]
            if equals:
                options[arg.name] = inline
            elif _is_flag(arg):
                options[arg.name] = True
            else:
                options[arg.name] = _next_value(spec, flag, queue)
        elif word.startswith("-") and len(word) > 1 and not _is_number(word):
            raise CommandError(f"{spec.name}: unknown option {flag}")
        else:
            positionals.append(word)
    return positionals, options, list(dict.fromkeys(nodes)) or None, timeout


def shape_fields(spec: Command, values: dict[str, str]) -> dict[str, Any]:
    """Wire arguments from a prompt's fields (``{argument: typed text}``)."""
    options: dict[str, Any] = {}
    for arg in spec.args:
        text = (values.get(arg.name) or "").strip()
        if not text:
            continue
        if arg.variadic:
            options[arg.name] = [convert(spec.name, arg, word)
                                 for word in text.replace(",", " ").split()]
        else:
            options[arg.name] = text
    return shape_arguments(spec, [], options)


def parse_nodes(text: str) -> list[str] | None:
    """``"a, b c"`` → ``["a", "b", "c"]``; None (every node) when empty."""
    nodes = [part for part in text.replace(",", " ").split() if part]
    return list(dict.fromkeys(nodes)) or None


def _next_value(spec: Command, flag: str, queue: list[str]) -> str:
    if not queue:
        raise CommandError(f"{spec.name}: {flag} needs a value")
    return queue.pop(0)


def _timeout(spec: Command, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise CommandError(f"{spec.name}: invalid timeout: {value!r} (seconds, e.g. 2.5)")
    return seconds


def _is_flag(arg: Argument) -> bool:
    return arg.type is bool or getattr(arg.type, "__name__", "") == "to_bool"


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _show(name: str, value: Any) -> str:
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if value is True:
        return f"--{name}"
    return f"{name}={value}"


# -- pre-filling from what is selected -------------------------------------------------------
def prefill(spec: Command, context: CommandContext) -> tuple[dict[str, str], str]:
    """Field values and destination text for ``spec`` from what the user has selected."""
    values: dict[str, str] = {}
    for arg in spec.args:
        if arg.name in ("task_id", "ids") and context.task_ids:
            values[arg.name] = " ".join(context.task_ids)
        elif arg.name == "task_name" and context.task_names:
            values[arg.name] = context.task_names[0]
        elif arg.name == "queue" and context.queues and spec.name in QUEUE_PREFILLED:
            values[arg.name] = " ".join(context.queues) if arg.variadic else context.queues[0]
        elif arg.name == "signal" and arg.required:
            values[arg.name] = "TERM"
    # Task-level commands go to every node: a revoke must reach the node that has not
    # received the task yet too.
    task_level = any(arg.name in ("task_id", "ids") for arg in spec.args)
    destination = "" if spec.kind == "console" or (task_level and context.task_ids) \
        else ", ".join(context.nodes)
    return values, destination


def needs_prompt(spec: Command, values: dict[str, str], from_key: bool) -> bool:
    """Whether to ask for arguments before sending ``spec``."""
    if spec.name in ALWAYS_PROMPT:
        return True
    missing = any(arg.required and not values.get(arg.name) for arg in spec.args)
    if from_key:
        return missing
    return bool(spec.args) or missing


def command_line(spec: Command, values: dict[str, str], destination: str) -> str:
    """The ``:`` line that runs ``spec`` with these values (what a user would type)."""
    words = [spec.name]
    for arg in spec.args:
        value = values.get(arg.name, "").strip()
        if not value:
            continue
        if arg.variadic or arg.required:
            words += value.split() if arg.variadic else [shlex.quote(value)]
        else:
            words += [f"--{arg.name.replace('_', '-')}", shlex.quote(value)]
    if destination.strip():
        words += ["-d", ",".join(parse_nodes(destination) or [])]
    return " ".join(words)


# -- the palette ---------------------------------------------------------------------------
Chooser = Callable[[str], None]


class ConsoleCommands(Provider):
    """The palette's one source: every command, and the console's key actions.

    Choosing a command calls ``app.begin_command(name, from_key=False)``, which
    pre-fills it from the current selection and prompts for its arguments.
    """

    def _entries(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app: Any = self.app
        read_only = bool(getattr(app, "read_only", False))
        context = app.command_context() if hasattr(app, "command_context") \
            else CommandContext()
        entries: list[tuple[str, str, Callable[[], Any]]] = []
        for spec in catalogue(read_only):
            label = spec.name + (f" {spec.signature}" if spec.signature else "")
            entries.append((label, spec.help + selection_hint(spec, context),
                            _chooser(app.begin_command, spec.name)))
        from tuiq.tui.keys import KEYS, keys_for

        seen: set[str] = set()
        for key in KEYS:
            if key.scope != "global" or key.id in seen or key.id == "command_palette":
                continue
            seen.add(key.id)
            entries.append((key.explanation, f"key {key.label}",
                            _chooser(app.run_key_action, key.action)))
        if context.scope != "global":
            # The keys of the view or screen in front, but those sending a command: that
            # command is listed above already, pre-filled the same way.
            for key in keys_for(context.scope, read_only):
                if key.command or key.app_action in CONSOLE_COMMANDS:
                    continue
                entries.append((key.explanation, f"key {key.label}",
                                _chooser(partial(app.run_key_action, scope=key.scope),
                                         key.action)))
        return entries

    async def discover(self) -> Hits:
        """Every command, by name, before anything is typed."""
        for label, help_text, run in self._entries():
            yield DiscoveryHit(label, run, text=label, help=help_text)

    async def search(self, query: str) -> Hits:
        """Commands whose name or help matches ``query``, best first."""
        matcher = self.matcher(query)
        for label, help_text, run in self._entries():
            score = max(matcher.match(label), matcher.match(help_text) * 0.5)
            if score > 0:
                yield Hit(score, matcher.highlight(label), run, text=label, help=help_text)


def selection_hint(spec: Command, context: CommandContext) -> str:
    """What choosing ``spec`` now would be pre-filled with (`` · 2 tasks, to w1@h``)."""
    values, destination = prefill(spec, context)
    parts = []
    ids = next((values[name] for name in ("task_id", "ids") if values.get(name)), "")
    if ids:
        count = len(ids.split())
        parts.append(f"{count} selected task{'s' if count != 1 else ''}")
    elif values.get("task_name"):
        parts.append(values["task_name"])
    if destination:
        parts.append(f"to {destination}")
    return f"  ·  {', '.join(parts)}" if parts else ""


def _chooser(target: Callable[..., Any], value: str) -> Callable[[], Any]:
    def choose() -> Any:
        return target(value)

    return choose
