"""``tuiq events``: the live console, or (``--dump``) every event as one JSON line."""

from __future__ import annotations

import fnmatch
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence

import click

from tuiq.cli.common import CliError, CliUsageError, load_app


def type_matcher(patterns: Sequence[str]) -> Callable[[str], bool]:
    """A test of event types against shell-style globs (any of them); all pass if none."""
    if not patterns:
        return lambda event_type: True
    regex = re.compile("|".join(fnmatch.translate(pattern) for pattern in patterns))
    return lambda event_type: regex.match(event_type) is not None


def _json_line(event: dict) -> str:
    # default=str: a custom event may carry a datetime decoded from kombu's JSON.
    return json.dumps(event, default=str)


def dump_events(app, types: Sequence[str], limit: int | None, timeout: float | None) -> int:
    """Print matching events as JSON lines until ``limit`` or ``timeout``; the count printed."""
    from tuiq.broker import check_reachable
    from tuiq.events.receiver import EventReceiver

    check_reachable(app.broker_url, timeout=app.conf.broker_connection_timeout)
    wanted = type_matcher(types)
    stop = threading.Event()
    printed = 0
    out = sys.stdout

    def on_event(event: dict) -> None:
        nonlocal printed
        if stop.is_set() or not wanted(event["type"]):
            return
        try:
            out.write(_json_line(event) + "\n")
            out.flush()
        except BrokenPipeError:  # the reader went away (| head): nothing more to say
            stop.set()
            return
        printed += 1
        if limit is not None and printed >= limit:
            stop.set()

    lost = False

    def on_status(status: str, detail: str | None) -> None:
        # Once per outage (the receiver reports each failed attempt), and once back.
        nonlocal lost
        if status == "disconnected" and not lost:
            lost = True
            click.echo(f"events: broker connection lost ({detail}); reconnecting...", err=True)
        elif status == "connected" and lost:
            lost = False
            click.echo("events: reconnected", err=True)

    receiver = EventReceiver(app, on_event, on_status=on_status)
    thread = threading.Thread(target=receiver.run, args=(stop,), name="tuiq-events",
                              daemon=True)
    thread.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while not stop.wait(0.1):
            if deadline is not None and time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:
        pass
    stop.set()
    thread.join(timeout=2.0)
    return printed


def _open_console(ctx: click.Context, app_spec: str | None, broker: str | None) -> None:
    """Run ``tuiq top`` with the options both commands share."""
    try:
        from tuiq.cli.top import top
    except ImportError as exc:
        raise CliError(f"the console is not available: {exc}") from None
    given = {"-A": app_spec, "--app": app_spec, "-b": broker, "--broker": broker}
    forwarded = {}
    for param in top.params:
        for opt in getattr(param, "opts", ()):
            if given.get(opt) is not None:
                forwarded[param.name] = given[opt]
    ctx.invoke(top, **forwarded)


@click.command()
@click.option("--dump", is_flag=True,
              help="Print every event as one JSON line instead of opening the console.")
@click.option("--type", "types", multiple=True, metavar="GLOB",
              help="Only events of these types (repeatable; globs such as 'task-*').")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Stop after printing N events.")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Stop after SECONDS (exit status 0).")
@click.option("-A", "--app", "app_spec", metavar="APP", help="The app to load.")
@click.option("-b", "--broker", metavar="URL", help="Broker URL.")
@click.pass_context
def events(ctx: click.Context, dump: bool, types: tuple[str, ...], limit: int | None,
           timeout: float | None, app_spec: str | None, broker: str | None) -> None:
    """Watch the cluster's monitoring events: the console, or a JSON stream with --dump.

    Workers always send worker-online/heartbeat/offline; task events come from
    workers started with -E (or after `tuiq control enable_events`).
    """
    if not dump:
        if types or limit is not None or timeout is not None:
            raise CliUsageError("--type, --limit and --timeout go with --dump")
        _open_console(ctx, app_spec, broker)
        return
    app = load_app(ctx, app_spec, broker)
    try:
        dump_events(app, types, limit, timeout)
    finally:
        app.close()
