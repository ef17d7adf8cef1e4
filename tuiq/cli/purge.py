"""``tuiq purge``: delete every waiting message from task queues."""

from __future__ import annotations

import click

from tuiq.cli.common import CliError, load_app
from tuiq.purge import purge_lines, purge_queues, purge_total


def queue_names(values: tuple[str, ...], app) -> list[str]:
    """``-Q a -Q b,c`` → ``[a, b, c]``; the app's task queues when none are given."""
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if values and not names:
        raise CliError("-Q/--queues needs at least one queue name")
    return list(dict.fromkeys(names or app.queues()))


@click.command()
@click.option("-Q", "--queues", multiple=True, metavar="NAMES",
              help="Queues to purge (repeat, or comma-separate). Default: the app's task queues.")
@click.option("-f", "--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("-A", "--app", "app_spec", metavar="APP", help="The app to load.")
@click.option("-b", "--broker", metavar="URL", help="Broker URL.")
@click.pass_context
def purge(ctx: click.Context, queues: tuple[str, ...], force: bool, app_spec: str | None,
          broker: str | None) -> None:
    """Delete all messages waiting in the task queues (they cannot be recovered)."""
    from tuiq.broker import check_reachable

    app = load_app(ctx, app_spec, broker)
    names = queue_names(queues, app)
    if not force:
        click.confirm(f"Delete every message waiting in {len(names)} queue(s): "
                      f"{', '.join(names)}?", abort=True)
    check_reachable(app.broker_url, transport_options=app.conf.broker_transport_options)
    with app.connection() as connection:
        counts = purge_queues(connection, names)
    for line in purge_lines(counts):
        click.echo(line)
    click.echo(purge_total(counts))
