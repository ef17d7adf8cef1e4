"""``tuiq shell``: the operator's REPL, or commands from ``-c`` and standard input for scripts."""

from __future__ import annotations

import sys
from collections.abc import Iterable

import click

from tuiq.cli.common import CliError, load_app


def run_lines(shell, lines: Iterable[str]) -> bool:
    """Run each line in turn (``exit`` stops); True if every one succeeded."""
    from tuiq.shell.errors import ExitShell

    succeeded = True
    for line in lines:
        try:
            succeeded = shell.run_line(line) and succeeded
        except ExitShell:
            break
    return succeeded


@click.command()
@click.option("-c", "--command", "commands", multiple=True, metavar="COMMAND",
              help="Run this command and exit (repeat for several).")
@click.option("-j", "--json", "as_json", is_flag=True,
              help="Start with JSON output on (toggle with: json on|off).")
@click.option("-A", "--app", "app_spec", metavar="APP",
              help="The app: its broker, tasks and user commands.")
@click.option("-b", "--broker", metavar="URL", help="Broker URL.")
@click.option("--result-backend", metavar="URL", help="Result backend URL.")
@click.pass_context
def shell(ctx: click.Context, commands: tuple[str, ...], as_json: bool, app_spec: str | None,
          broker: str | None, result_backend: str | None) -> None:
    """Operate the cluster from a prompt: inspect, control, call, result, with completion.

    With -c, or with commands piped on standard input, each runs in turn and the
    exit status is 1 if any failed.
    """
    from tuiq.cli.remote import load_user_commands
    from tuiq.shell.commands import Shell

    app = load_app(ctx, app_spec, broker, result_backend)
    given = app_spec or ctx.find_root().params.get("app")
    load_user_commands(given)
    session = Shell(app, json_mode=as_json, check_tasks=bool(given))
    try:
        if commands:
            ok = run_lines(session, commands)
        elif not sys.stdin.isatty():
            ok = run_lines(session, sys.stdin)
        else:
            from tuiq.shell.repl import Repl

            ok = Repl(session).run() == 0
    except KeyboardInterrupt:
        raise CliError("interrupted") from None
    finally:
        app.close()
    if not ok:
        ctx.exit(1)
