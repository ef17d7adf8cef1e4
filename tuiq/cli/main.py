"""The ``tuiq`` click group: global options and the subcommands."""

from __future__ import annotations

import click

import tuiq
from tuiq.cli.common import CliError, run_guarded


class TuiqGroup(click.Group):
    """A group that turns any tuiq error into one line and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        """Run the subcommand with errors made readable."""
        return run_guarded(lambda: super(TuiqGroup, self).invoke(ctx))


@click.group(cls=TuiqGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(tuiq.__version__, "--version", prog_name="tuiq")
@click.option("-A", "--app", metavar="APP", help="The app: module, module:attr or package.")
@click.option("-b", "--broker", metavar="URL", help="Broker URL (default: embedded Valkey).")
@click.option("--result-backend", metavar="URL", help="Result backend URL.")
def cli(app: str | None, broker: str | None, result_backend: str | None) -> None:
    """tuiq: run task workers and operate a Celery-compatible cluster from the terminal."""


def _register() -> None:
    from tuiq.cli.broker import broker
    from tuiq.cli.call import call
    from tuiq.cli.result import result
    from tuiq.cli.worker import worker

    cli.add_command(worker)
    cli.add_command(call)
    cli.add_command(result)
    cli.add_command(broker)


_register()


def main() -> None:
    """Entry point of the ``tuiq`` script."""
    cli(prog_name="tuiq")


__all__ = ["cli", "main", "CliError"]


if __name__ == "__main__":
    main()
