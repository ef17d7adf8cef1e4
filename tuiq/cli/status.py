"""``tuiq status``: the nodes that answer a ping."""

from __future__ import annotations

import click

from tuiq.cli.common import CliError, load_app


@click.command()
@click.option("-t", "--timeout", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Seconds to wait for the first reply.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print the replies as JSON.")
@click.option("-A", "--app", "app_spec", metavar="APP", help="The app to load.")
@click.option("-b", "--broker", metavar="URL", help="Broker URL.")
@click.pass_context
def status(ctx: click.Context, timeout: float, as_json: bool, app_spec: str | None,
           broker: str | None) -> None:
    """List the nodes that answer a ping; exit 1 if none does."""
    from tuiq.control.client import ControlClient

    app = load_app(ctx, app_spec, broker)
    with ControlClient(app) as client:
        replies = client.broadcast("ping", reply=True, timeout=timeout)
    assert replies is not None
    if as_json:
        from tuiq.control.render import to_json

        click.echo(to_json(replies))
    else:
        for node in sorted(replies):
            reply = replies[node]
            state = "OK" if reply == {"ok": "pong"} else f"answered {reply!r}"
            click.echo(f"{node}: {state}")
    if not replies:
        raise CliError(f"no node replied within {timeout:g}s")
    if not as_json:
        click.echo(f"\n{len(replies)} node{'s' if len(replies) != 1 else ''} online.")
