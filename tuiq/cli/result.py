"""``tuiq result``: show a task's state and result."""

from __future__ import annotations

import json

import click

from tuiq import states
from tuiq.cli.common import CliError, load_app
from tuiq.control.arguments import validate_task_id
from tuiq.exceptions import TimeoutError


@click.command()
@click.argument("task_id")
@click.option("-w", "--wait", is_flag=True, help="Wait until the task is ready.")
@click.option("-t", "--timeout", type=click.FloatRange(min=0), default=None,
              help="Seconds to wait at most (implies --wait).")
@click.option("--traceback", "show_traceback", is_flag=True, help="Show the traceback.")
@click.option("-j", "--json", "as_json", is_flag=True, help="Print the stored meta as JSON.")
@click.option("-A", "--app", "app_spec", metavar="APP", help="The app to load.")
@click.option("-b", "--broker", metavar="URL",
              help="Broker URL (the result store defaults to it when it is Redis).")
@click.option("--result-backend", metavar="URL", help="Result backend URL.")
@click.pass_context
def result(ctx: click.Context, task_id, wait, timeout, show_traceback, as_json, app_spec,
           broker, result_backend) -> None:
    """Print the result of TASK_ID (its state with --json or when not ready)."""
    validate_task_id(task_id)
    app = load_app(ctx, app_spec, broker, result_backend)
    backend = app.backend
    if wait or timeout is not None:
        try:
            meta = backend.wait_for(task_id, timeout=timeout)
        except TimeoutError:
            raise CliError(f"task {task_id} not ready after {timeout}s") from None
    else:
        meta = backend.get_task_meta(task_id)
    if as_json:
        from kombu.utils.json import dumps

        click.echo(dumps(meta))
        if meta.get("status") == states.FAILURE:
            ctx.exit(1)
        return
    status = meta.get("status")
    if status == states.SUCCESS:
        value = meta.get("result")
        click.echo(json.dumps(value) if not isinstance(value, str) else value)
    elif status in states.EXCEPTION_STATES:
        exc = meta.get("result") or {}
        if isinstance(exc, dict):
            message = ", ".join(map(str, exc.get("exc_message") or []))
            click.secho(f"{status}: {exc.get('exc_type')}: {message}", fg="red")
        else:
            click.secho(f"{status}: {exc}", fg="red")
        if show_traceback and meta.get("traceback"):
            click.echo(meta["traceback"].rstrip())
        if status == states.FAILURE:
            ctx.exit(1)
    else:
        click.echo(status)
