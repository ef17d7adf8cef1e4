"""``tuiq broker``: show, start and stop the embedded broker."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from tuiq.broker import EmbeddedServer
from tuiq.exceptions import BrokerUnavailable

_TIMEOUT = click.option(
    "--timeout",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds to wait for the server.",
)


@click.group(name="broker")
def broker() -> None:
    """Show, start and stop the embedded broker (a private Valkey server).

    With no broker configured, tuiq uses this server as broker and result
    store. It runs in the background, shared by every tuiq process of the
    user, and keeps its data across restarts. Its files live in
    $TUIQ_HOME/valkey (default ~/.local/share/tuiq/valkey).
    """


def _format_keys(keys: dict[str, int]) -> str:
    if not keys:
        return "0"
    return ", ".join(f"{db}={count}" for db, count in keys.items())


def _format_uptime(seconds: Any) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


@broker.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Show whether the embedded broker runs, where, and what it holds."""
    info = EmbeddedServer().status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    console = Console(highlight=False)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    if info["running"]:
        table.add_row("status", "[green]running[/green]")
        table.add_row("pid", str(info["pid"]))
        table.add_row("url", info["url"])
        table.add_row("version", f"valkey {info['version']}" if info["version"] else "-")
        table.add_row("uptime", _format_uptime(info["uptime_seconds"]))
        table.add_row("memory", info["used_memory_human"] or "-")
        table.add_row("keys", _format_keys(info["keys"]))
        table.add_row("persistence", "append-only file" if info["aof_enabled"] else "off")
    else:
        table.add_row("status", "[yellow]not running[/yellow]")
        table.add_row("url", info["url"])
    table.add_row("data", info["data_dir"])
    console.print(table)


@broker.command()
@_TIMEOUT
def start(timeout: float) -> None:
    """Start the embedded broker if it is not running, and print its URL."""
    try:
        url = EmbeddedServer().ensure_running(timeout=timeout)
    except BrokerUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(url)


@broker.command()
@_TIMEOUT
def stop(timeout: float) -> None:
    """Stop the embedded broker; queued messages are kept for the next start."""
    try:
        stopped = EmbeddedServer().stop(timeout=timeout)
    except BrokerUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("embedded broker stopped" if stopped else "embedded broker was not running")


@broker.command()
@_TIMEOUT
def url(timeout: float) -> None:
    """Print the embedded broker's URL, starting it if needed."""
    try:
        value = EmbeddedServer().ensure_running(timeout=timeout)
    except BrokerUnavailable as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(value)
