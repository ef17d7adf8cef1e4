"""The machinery behind ``tuiq inspect`` and ``tuiq control``: one click group per kind.

Subcommands are generated from the control registry, so commands added to it
(built-in, or user-defined in the app's modules) appear by themselves.
Arguments are positional in the registry's order, as ``celery inspect|control``
takes them; each optional one is also an option (``--terminate``, ``--signal
KILL``), which is the only way to give those that follow a variadic one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from click.core import ParameterSource

from tuiq.cli.common import CliError, load_app
from tuiq.control.arguments import NO_REPLY_COMMANDS, shape_arguments
from tuiq.control.registry import Command


def parse_destination(values: Sequence[str]) -> list[str] | None:
    """``-d a -d b,c`` → ``["a", "b", "c"]``; None when not given."""
    nodes = [part.strip() for value in values for part in value.split(",")]
    nodes = [node for node in nodes if node]
    if values and not nodes:
        raise CliError("-d/--destination needs at least one node name")
    return list(dict.fromkeys(nodes)) or None


def load_user_commands(spec: str | None) -> None:
    """Import the ``-A`` app and its ``imports`` so their commands join the registry."""
    if not spec:
        return
    from tuiq.cli.appload import find_app
    from tuiq.exceptions import TuiqError

    try:
        app = find_app(spec)
        importer = getattr(app, "import_modules", None)
        if importer is not None:
            importer()
    except TuiqError as exc:
        raise CliError(str(exc)) from None


class RemoteCommand(click.Command):
    """One registry command: raw positional words plus an option per optional argument."""

    def __init__(self, kind: str, spec: Command) -> None:
        self.spec = spec
        params: list[click.Parameter] = [click.Argument(["words"], nargs=-1)]
        for arg in spec.args:
            if arg.variadic or arg.required:
                continue
            flag = "--" + arg.name.replace("_", "-")
            if arg.type is bool or getattr(arg.type, "__name__", "") == "to_bool":
                params.append(click.Option([flag, arg.name], is_flag=True, default=None,
                                           help=arg.help))
            else:
                params.append(click.Option([flag, arg.name], metavar=arg.name.upper(),
                                           help=arg.help))
        params += common_options()
        epilog = "\n".join(f"{a.name}: {a.help}" for a in spec.args if a.help)
        super().__init__(spec.name, params=params, callback=self._run, help=spec.help,
                         short_help=spec.help, hidden=not spec.visible,
                         epilog=f"\b\nArguments:\n{epilog}" if epilog else None)
        self.kind = kind

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        """Show the command's own signature instead of ``[WORDS]...``."""
        return ["[OPTIONS]", self.spec.signature] if self.spec.signature else ["[OPTIONS]"]

    def _run(self, words: tuple[str, ...], destination: tuple[str, ...], timeout: float,
             limit: int | None, as_json: bool, **options: Any) -> None:
        ctx = click.get_current_context()
        # The same options may come before the subcommand (``tuiq inspect -j ping``);
        # given in both places, the subcommand's win and the destinations add up.
        group = ctx.parent.params if ctx.parent is not None else {}
        destination = (*(group.get("destination") or ()), *destination)
        if ctx.get_parameter_source("timeout") is ParameterSource.DEFAULT \
                and group.get("timeout") is not None:
            timeout = group["timeout"]
        limit = limit if limit is not None else group.get("limit")
        as_json = as_json or bool(group.get("as_json"))
        arguments = shape_arguments(self.spec, words, options)
        run_command(ctx, self.kind, self.spec, arguments, parse_destination(destination),
                    timeout, limit, as_json)


def common_options(timeout_default: float | None = 1.0) -> list[click.Option]:
    """``-d``, ``-t``, ``--limit`` and ``-j``: on every generated subcommand, and on the group."""
    return [
        click.Option(["-d", "--destination"], multiple=True, metavar="NODES",
                     help="Only these nodes (repeat, or comma-separate)."),
        click.Option(["-t", "--timeout"], type=click.FloatRange(min=0), default=timeout_default,
                     show_default=timeout_default is not None,
                     help="Seconds to wait for nodes that stay silent."),
        click.Option(["--limit"], type=click.IntRange(min=1),
                     help="Stop after this many replies."),
        click.Option(["-j", "--json", "as_json"], is_flag=True,
                     help="Print the replies as JSON."),
    ]


def run_command(ctx: click.Context, kind: str, spec: Command, arguments: dict[str, Any],
                destination: list[str] | None, timeout: float, limit: int | None,
                as_json: bool) -> None:
    """Broadcast, print the replies, and exit 1 when a node failed or stayed silent."""
    from tuiq.control.client import ControlClient

    group = ctx.parent.params if ctx.parent is not None else {}
    app = load_app(ctx, group.get("app"), group.get("broker"))
    client = ControlClient(app)
    try:
        if spec.name in NO_REPLY_COMMANDS:
            cast(client, spec, arguments, destination, timeout)
            return
        replies = client.broadcast(spec.name, arguments, destination=destination, reply=True,
                                   timeout=timeout, limit=limit)
    finally:
        client.close()
    assert replies is not None
    show(spec.name, replies, replies.missing, as_json, as_list=kind == "control")
    problem = replies.problem(timeout)
    if problem:
        raise CliError(problem)


def cast(client, spec: Command, arguments: dict[str, Any], destination: list[str] | None,
         timeout: float) -> None:
    """Send a command that has no reply to the nodes that answer a ping."""
    pings = client.broadcast("ping", destination=destination, reply=True, timeout=timeout)
    if pings:
        client.broadcast(spec.name, arguments, destination=sorted(pings))
        click.echo(f"{spec.name} sent to {', '.join(sorted(pings))}")
    problem = pings.problem(timeout)
    if problem:
        raise CliError(problem)


def show(command: str, replies: dict[str, Any], missing: list[str], as_json: bool,
         as_list: bool = False) -> None:
    """Print replies as JSON (Celery's shapes) or as rich tables."""
    from tuiq.control.render import output_console, print_replies, to_json

    if as_json:
        click.echo(to_json(replies, as_list=as_list))
        return
    print_replies(output_console(), command, replies, missing)


class RemoteGroup(click.Group):
    """``tuiq inspect`` / ``tuiq control``: subcommands made from the registry."""

    def __init__(self, kind: str, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.kind = kind

    def _specs(self, ctx: click.Context) -> dict[str, Command]:
        from tuiq.control import builtin  # noqa: F401  (registers the built-in commands)
        from tuiq.control.registry import commands

        load_user_commands(ctx.params.get("app") or ctx.find_root().params.get("app"))
        return {c.name: c for c in commands(self.kind)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every registered command of this kind."""
        return sorted(self._specs(ctx))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """The generated subcommand for ``name`` (or an alias of it)."""
        from tuiq.control.registry import lookup

        specs = self._specs(ctx)
        spec = lookup(name)
        if spec is None or spec.name not in specs:
            return None
        return RemoteCommand(self.kind, spec)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        """Unknown names are a one-line error that says where the command lives."""
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None:
            from tuiq.control.registry import lookup

            other = lookup(name)
            if other is not None and other.kind != self.kind:
                raise CliError(f"{name} is a{'n' if other.kind == 'inspect' else ''} "
                               f"{other.kind} command: use tuiq {other.kind} {name}")
            raise CliError(f"unknown {self.kind} command: {name!r} "
                           f"(see tuiq {self.kind} --help)")
        return command.name, command, args[1:]


def _remember_app(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Eager, so ``-A proj --help`` lists the app's own commands.
    if value:
        ctx.params["app"] = value
    return value


def remote_group(kind: str, help_text: str) -> click.Group:
    """The click group of one kind (``inspect`` or ``control``)."""
    group = RemoteGroup(kind, name=kind, help=help_text, params=[
        click.Option(["-A", "--app"], metavar="APP", is_eager=True, callback=_remember_app,
                     help="The app: its modules may add commands."),
        click.Option(["-b", "--broker"], metavar="URL", help="Broker URL."),
        *common_options(timeout_default=None),
    ], context_settings={"help_option_names": ["-h", "--help"]})
    return group
