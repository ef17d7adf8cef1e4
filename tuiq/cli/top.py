"""``tuiq top``: the live console over a cluster (nodes, tasks, and keys to act on them)."""

from __future__ import annotations

import click

from tuiq.cli.common import load_app
from tuiq.cli.remote import load_user_commands


@click.command()
@click.option("-A", "--app", "app_spec", metavar="APP",
              help="The app: its settings, and the commands its modules add.")
@click.option("-b", "--broker", metavar="URL", help="Broker URL (default: embedded Valkey).")
@click.option("--read-only", is_flag=True,
              help="Hide destructive actions (terminate, shutdown, pool restart, purge).")
@click.option("--refresh", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              metavar="SECONDS", help="Pause between two inspect polls of the nodes.")
@click.pass_context
def top(ctx: click.Context, app_spec: str | None, broker: str | None, read_only: bool,
        refresh: float) -> None:
    """The live console: every node and task of the cluster, and keys to act on them.

    Press ? inside for the keys, ctrl+p for the command palette, : for command mode.
    """
    from tuiq.broker import check_reachable, mask_url

    app = load_app(ctx, app_spec, broker)
    load_user_commands(app_spec or ctx.find_root().params.get("app"))
    check_reachable(app.broker_url, transport_options=app.conf.broker_transport_options)
    from tuiq.tui.app import TopApp

    TopApp(app, read_only=read_only, refresh=refresh,
           broker_label=mask_url(app.broker_url)).run()
