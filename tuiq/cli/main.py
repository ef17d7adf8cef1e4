"""The ``tuiq`` click group: global options and the subcommands."""

from __future__ import annotations

import importlib

import click

import tuiq
from tuiq.cli.common import CliError, run_guarded

#: Subcommands, imported only when used so ``tuiq worker`` starts fast.
SUBCOMMANDS = {
    "worker": "tuiq.cli.worker:worker",
    "call": "tuiq.cli.call:call",
    "result": "tuiq.cli.result:result",
    "broker": "tuiq.cli.broker:broker",
    "inspect": "tuiq.cli.inspect:inspect",
    "control": "tuiq.cli.control:control",
    "status": "tuiq.cli.status:status",
    "purge": "tuiq.cli.purge:purge",
    "top": "tuiq.cli.top:top",
    "shell": "tuiq.cli.shell:shell",
    "events": "tuiq.cli.events:events",
}


class TuiqGroup(click.Group):
    """A group with lazily loaded subcommands and one-line errors."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every subcommand name."""
        return sorted({*SUBCOMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Import the subcommand on first use."""
        if name in self.commands:
            return self.commands[name]
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        self.commands[name] = command
        return command

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


def main() -> None:
    """Entry point of the ``tuiq`` script."""
    cli(prog_name="tuiq")


__all__ = ["cli", "main", "CliError"]


if __name__ == "__main__":
    main()
