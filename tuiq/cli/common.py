"""Pieces shared by every subcommand: app loading, errors and logging."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from tuiq.app import App
from tuiq.exceptions import TuiqError


class CliError(click.ClickException):
    """A user-facing error: printed as one line, exit status 1."""

    def show(self, file: Any = None) -> None:
        """Print ``Error: <message>`` in red."""
        click.secho(f"Error: {self.format_message()}", err=True, fg="red")


class CliUsageError(CliError):
    """A wrong command line, as one line (click's usage errors print the usage too): exit 2."""

    exit_code = 2


def load_app(ctx: click.Context, app_spec: str | None = None, broker: str | None = None,
             backend: str | None = None) -> App:
    """The app from ``-A`` (subcommand or group), with ``--broker``/``--result-backend``."""
    from tuiq.cli.appload import find_app

    root = ctx.find_root().params
    spec = app_spec or root.get("app")
    if spec:
        app = find_app(spec)
        if not isinstance(app, App):
            raise CliError(f"{spec} is a Celery app; point tuiq at a tuiq app or use "
                           "--broker to talk to a Celery cluster")
    else:
        app = App("tuiq")
    app.override_broker(broker or root.get("broker"))
    app.override_backend(backend or root.get("result_backend"))
    return app


def run_guarded(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; turn tuiq and broker errors into one-line CLI errors."""
    from kombu.exceptions import OperationalError

    try:
        return fn()
    except click.ClickException:
        raise
    except TuiqError as exc:
        raise CliError(str(exc)) from None
    except OperationalError as exc:
        raise CliError(f"broker error: {str(exc).splitlines()[0]}") from None
    except (ConnectionError, OSError) as exc:
        raise CliError(f"connection failed: {exc}") from None


LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"


def setup_logging(level: str, logfile: str | None = None) -> None:
    """Log to ``logfile`` (plain) or to stderr (rich on a terminal)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    numeric = getattr(logging, level.upper(), None)
    if not isinstance(numeric, int):
        raise CliError(f"unknown log level: {level!r} (use DEBUG, INFO, WARNING, ERROR, CRITICAL)")
    if logfile:
        try:
            handler: logging.Handler = logging.FileHandler(logfile)
        except OSError as exc:
            raise CliError(f"cannot open log file {logfile}: {exc.strerror}") from None
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    elif sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False,
                              log_time_format="[%X]")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(numeric)
    for noisy in ("kombu", "amqp", "billiard"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
