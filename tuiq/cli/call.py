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
@click.option("-f", "--force", is_flag=True,
              help="Send NAME even though the app given with -A does not register it.")
@click.pass_context
def call(ctx: click.Context, name, args_json, kwargs_json, countdown, eta, expires, queue,
         priority, app_spec, broker, force) -> None:
    """Send task NAME and print its id.

    With -A, NAME must be a task the app registers (its own modules and the
    ``imports``/``include`` ones), unless --force: a worker would otherwise
    only fail it with NotRegistered.
    """
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
    from tuiq.broker import check_reachable

    app = load_app(ctx, app_spec, broker)
    if (app_spec or ctx.find_root().params.get("app")) and not force:
        problem = app.unknown_task(name)
        if problem:
            raise CliError(f"{problem} (--force sends it anyway)")
    check_reachable(app.broker_url, transport_options=app.conf.broker_transport_options)
    result = app.send_task(name, args, kwargs, countdown=countdown, eta=eta_value,
                           expires=expires_value, queue=queue, priority=priority)
    click.echo(result.id)
