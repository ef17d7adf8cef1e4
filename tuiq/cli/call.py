"""``tuiq call``: send a task by name and print its id."""

from __future__ import annotations

from datetime import datetime

import click

from tuiq.cli.common import CliError, load_app
from tuiq.shell.values import json_value


@click.command()
@click.argument("name")
@click.option("-a", "--args", "args_json", metavar="JSON", help='Positional args, e.g. "[2, 3]".')
@click.option("-k", "--kwargs", "kwargs_json", metavar="JSON", help='Keyword args, e.g. {"x": 1}.')
@click.option("--countdown", type=click.FloatRange(min=0),
              help="Run no earlier than this many seconds from now.")
@click.option("--eta", metavar="ISO-8601", help="Run no earlier than this time.")
@click.option("--expires", metavar="SECONDS|ISO-8601", help="Discard if not started by then.")
@click.option("-Q", "--queue", help="Queue to send to.")
@click.option("--priority", type=click.IntRange(0, 255), help="Message priority.")
@click.option("-A", "--app", "app_spec", metavar="APP", help="The app to load.")
@click.option("-b", "--broker", metavar="URL", help="Broker URL.")
@click.pass_context
def call(ctx: click.Context, name, args_json, kwargs_json, countdown, eta, expires, queue,
         priority, app_spec, broker) -> None:
    """Send task NAME and print its id."""
    args = json_value(args_json, list, "--args")
    kwargs = json_value(kwargs_json, dict, "--kwargs")
    eta_value = None
    if eta:
        try:
            eta_value = datetime.fromisoformat(eta)
        except ValueError:
            raise CliError(f"--eta is not an ISO-8601 time: {eta!r}") from None
    expires_value: float | datetime | None = None
    if expires:
        try:
            expires_value = float(expires)
        except ValueError:
            try:
                expires_value = datetime.fromisoformat(expires)
            except ValueError:
                raise CliError(f"--expires must be seconds or ISO-8601: {expires!r}") from None
    app = load_app(ctx, app_spec, broker)
    result = app.send_task(name, args, kwargs, countdown=countdown, eta=eta_value,
                           expires=expires_value, queue=queue, priority=priority)
    click.echo(result.id)
