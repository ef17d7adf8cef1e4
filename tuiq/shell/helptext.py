"""``help``: the command list and each command's usage, generated from the command table."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuiq.control.arguments import CommandError
from tuiq.shell.specs import CommandSpec, CommandTable

KEYS = ("Tab completes (fuzzy), ctrl+r searches the history, → accepts a suggestion, "
        "ctrl+c cancels the line or the running command, ctrl+d exits. "
        "!EXPR runs one line of Python.")


def render_help(table: CommandTable, topic: list[str]) -> RenderableType:
    """Help on everything (no topic), on a group (``inspect``), or on one command."""
    if not topic:
        shell = [spec for spec in table.listed() if spec.kind in ("shell", "group")]
        return Group(_section("Shell commands", shell),
                     _section("inspect commands (also without the word inspect)",
                              table.group("inspect").visible_subcommands()),
                     _section("control commands (also without the word control)",
                              table.group("control").visible_subcommands()),
                     Text(KEYS), Text("help COMMAND shows a command's arguments and options."))
    spec = table.lookup(topic[0])
    if spec is not None and spec.kind == "group" and len(topic) > 1:
        spec = spec.subcommands.get(topic[1])
    elif len(topic) > 1:
        spec = None
    if spec is None:
        raise CommandError(f"help: no such command: {' '.join(topic)!r}")
    if spec.kind == "group":
        return _section(f"{spec.name} commands: {spec.help}", spec.visible_subcommands())
    return command_help(spec)


def command_help(spec: CommandSpec) -> RenderableType:
    """One command: usage, description, arguments, options."""
    parts: list[RenderableType] = [Text(f"usage: {spec.usage}", style="bold"), Text(spec.help)]
    if spec.aliases:
        parts.append(Text(f"also: {', '.join(spec.aliases)}"))
    described = [arg for arg in spec.args if arg.help]
    if described:
        parts.append(_rows("arguments", [(arg.name, arg.help) for arg in described]))
    if spec.options:
        parts.append(_rows("options", [(option.label, option.help) for option in spec.options]))
    return Group(*parts)


def _section(title: str, specs: list[CommandSpec]) -> RenderableType:
    # Names only: ``help NAME`` gives the arguments, and long signatures would squeeze the help.
    return _rows(title, [(spec.name, spec.help) for spec in specs])


def _rows(title: str, rows: list[tuple[str, str]]) -> RenderableType:
    table = Table(show_edge=False, show_header=False, box=None, padding=(0, 2, 0, 2))
    table.add_column(style="cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for left, right in rows:
        table.add_row(Text(left), Text(right))
    return Group(Text(title, style="bold"), table, Text(""))
