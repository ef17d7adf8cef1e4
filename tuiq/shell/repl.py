"""The interactive shell: prompt, completion, history, toolbar, and Python mode.

A prompt-toolkit session reads lines and hands them to :class:`~tuiq.shell.commands.Shell`.
The prompt shows the default destination; the bottom toolbar the broker, the
destination and how many nodes answer. History lives in ``$TUIQ_HOME`` and
feeds ctrl+r search and the grey suggestions. Node, task, queue names and task
ids come from a background refresher and a background event feed, so a
keystroke never waits for the network.
"""

from __future__ import annotations

import logging
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import DynamicCompleter
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory
from prompt_toolkit.styles import Style

from tuiq.shell.commands import Shell
from tuiq.shell.completer import ShellCompleter
from tuiq.shell.errors import ExitShell
from tuiq.shell.events import EventFeed
from tuiq.shell.names import NameRefresher
from tuiq.shell.python import PythonCompleter

HISTORY_FILE = "shell_history"
STYLE = Style.from_dict({
    "prompt": "bold",
    "destination": "ansicyan",
    "python": "ansiyellow bold",
    "bottom-toolbar": "noreverse bg:#303030 #d0d0d0",
    "bottom-toolbar.bad": "noreverse bg:#303030 ansired",
})


def history_path() -> Path:
    """Where the shell's history is kept: ``$TUIQ_HOME/shell_history``."""
    from tuiq.broker import tuiq_home

    return tuiq_home() / HISTORY_FILE


def prompt_text(shell: Shell) -> FormattedText:
    """``tuiq [all]> ``, ``tuiq [w1@host]> ``, ``tuiq [w1@host +2]> `` or ``py> ``."""
    if shell.python_mode:
        return FormattedText([("class:python", "py> ")])
    destination = shell.destination
    if not destination:
        target = "all"
    elif len(destination) == 1:
        target = destination[0]
    else:
        target = f"{destination[0]} +{len(destination) - 1}"
    return FormattedText([("class:prompt", "tuiq ["), ("class:destination", target),
                          ("class:prompt", "]> ")])


def toolbar_text(shell: Shell, broker: str) -> FormattedText:
    """``broker URL │ destination ... │ N nodes │ json off`` (and why names are stale)."""
    names = shell.names.snapshot
    online = len(names.online())
    destination = ", ".join(shell.destination) if shell.destination else "all nodes"
    if names.error:
        # The count is from before the error: show the error in its place, not a stale figure.
        return FormattedText([
            ("class:bottom-toolbar", f" broker {broker} │ "),
            ("class:bottom-toolbar.bad", names.error),
            ("class:bottom-toolbar", f" │ destination {destination} │ "
                                     f"json {'on' if shell.json_mode else 'off'}")])
    return FormattedText([("class:bottom-toolbar",
                           f" broker {broker} │ destination {destination} │ "
                           f"{online} node{'s' if online != 1 else ''} online │ "
                           f"json {'on' if shell.json_mode else 'off'}")])


class Repl:
    """The read-run loop around one :class:`Shell`."""

    def __init__(self, shell: Shell, history: Path | None = None,
                 background: bool = True) -> None:
        from tuiq.broker import mask_url

        self.shell = shell
        self.broker = mask_url(shell.app.broker_url)
        self.background = background
        python_completer = PythonCompleter(shell.python.names)
        shell_completer = ShellCompleter(shell.table, lambda: shell.names.snapshot,
                                         python_completer)
        self.session: PromptSession = PromptSession(
            history=FileHistory(str(history or history_path())),
            auto_suggest=AutoSuggestFromHistory(),
            completer=DynamicCompleter(
                lambda: python_completer if shell.python_mode else shell_completer),
            complete_while_typing=True,
            bottom_toolbar=lambda: toolbar_text(shell, self.broker),
            style=STYLE,
            search_ignore_case=True,
        )
        shell.confirm = self.confirm
        shell.names.on_change = self._redraw
        self.refresher = NameRefresher(shell.names, self._new_client)
        self.feed = EventFeed(shell.app, shell.names)

    def _new_client(self):
        from tuiq.control.client import ControlClient

        return ControlClient(self.shell.app)

    def _redraw(self) -> None:
        # Called from the refresher's and the feed's threads: invalidate() is thread-safe.
        self.session.app.invalidate()

    def confirm(self, question: str) -> bool:
        """Ask yes or no; ctrl+c or ctrl+d mean no."""
        from prompt_toolkit.shortcuts import confirm

        try:
            return confirm(question)
        except (KeyboardInterrupt, EOFError):
            return False

    def run(self) -> int:
        """Read and run lines until ``exit`` or ctrl+d; returns the exit status (0)."""
        root = logging.getLogger()
        if not root.handlers:
            # Background threads must never print over the prompt; they report through
            # the toolbar and the events command instead.
            root.addHandler(logging.NullHandler())
        if self.background:
            self.refresher.start()
            self.feed.start()
            self.shell.event_feed = self.feed
        try:
            self._loop()
        finally:
            self.shell.event_feed = None
            self.refresher.stop()
            self.feed.stop()
            self.shell.reset_connection()
        return 0

    def _loop(self) -> None:
        shell = self.shell
        while True:
            try:
                line = self.session.prompt(lambda: prompt_text(shell))
            except KeyboardInterrupt:
                continue
            except EOFError:
                if shell.python_mode:
                    shell.python_mode = False
                    continue
                return
            try:
                shell.run_line(line)
            except KeyboardInterrupt:
                shell.note("cancelled")
                shell.reset_connection()
            except ExitShell:
                return
