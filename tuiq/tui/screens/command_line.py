"""``:`` command mode: a command line at the bottom, read like ``tuiq control``'s arguments.

The line names any command of the catalogue (``revoke ID``, ``rate_limit proj.add
10/s -d w1@host``, ``purge QUEUE``, ``quit``...). A line that cannot be sent keeps
the prompt open with the one-line reason; a good one closes it with the
invocation (or the console action) for the app to run.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Static

from tuiq.control.arguments import CommandError
from tuiq.tui.commands import VIEW_COMMANDS, Invocation, catalogue, find, parse_line
from tuiq.tui.type_ahead import type_ahead


class CommandSuggester(Suggester):
    """Completes the command name (the first word); right arrow accepts."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.names = names

    async def get_suggestion(self, value: str) -> str | None:
        """The first command name that starts with what is typed."""
        return complete(self.names, value)


def complete(names: list[str], value: str) -> str | None:
    """The first of ``names`` that ``value`` (a command name being typed) starts."""
    if not value or " " in value:
        return None
    for name in names:
        if name.startswith(value) and name != value:
            return name
    return None


class CommandLineScreen(ModalScreen[Invocation | str | None]):
    """The ``:`` prompt; dismissed with an invocation, a console action name, or None."""

    DEFAULT_CSS = """
    CommandLineScreen { align: left bottom; background: $background 30%; }
    CommandLineScreen > #command-box {
        dock: bottom; height: auto; width: 100%; background: $surface; padding: 0 1;
    }
    CommandLineScreen #usage { color: $text-muted; height: auto; }
    CommandLineScreen #error { color: $error; height: auto; }
    CommandLineScreen #command-row { height: 1; }
    CommandLineScreen #colon { width: 2; text-style: bold; color: $accent; }
    CommandLineScreen Input { width: 1fr; background: $surface; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="command_cancel")]

    def __init__(self, text: str = "", *, read_only: bool = False,
                 history: list[str] | None = None) -> None:
        super().__init__()
        self.text = text
        self.read_only = read_only
        self.history = history if history is not None else []
        self._history_at = len(self.history)
        self.names = [spec.name for spec in catalogue(read_only)] + sorted(VIEW_COMMANDS)

    def compose(self) -> ComposeResult:
        """Usage and error lines above the prompt."""
        names = self.names
        with Vertical(id="command-box"):
            yield Static("", id="usage", markup=False)
            yield Static("", id="error", markup=False)
            with Horizontal(id="command-row"):
                yield Static(":", id="colon", markup=False)
                yield Input(self.text, id="command", suggester=CommandSuggester(names),
                            select_on_focus=False, compact=True)

    def on_mount(self) -> None:
        """Type right away."""
        # At once, not on the app's next turn: the keys typed right behind ":" are
        # handled next, and Enter among them must find the line's own bindings.
        self.set_focus(self.query_one("#command", Input))
        self._show_usage(self.text)

    def type_ahead(self, event: events.Key) -> bool:
        """Type a character sent to the screen below before this line was up; True if so."""
        try:
            field = self.query_one("#command", Input)
        except NoMatches:
            # Not composed yet: the characters become the line it starts with.
            if not event.is_printable:
                return False
            event.stop()
            event.prevent_default()
            self.text += event.character or ""
            return True
        return type_ahead(field, event)

    @property
    def error(self) -> str:
        """The error shown for the last line tried ('' if none)."""
        return str(self.query_one("#error", Static).content)

    def on_input_changed(self, event: Input.Changed) -> None:
        """Show the usage of the command being typed; an edit clears the old error."""
        self._show_usage(event.value)
        self.query_one("#error", Static).update("")

    def _show_usage(self, text: str) -> None:
        words = text.split()
        spec = find(words[0]) if words else None
        usage = ""
        if spec is not None and (not self.read_only or not spec.destructive):
            usage = f"{spec.name} {spec.signature} [-d NODES] [-t SECONDS]   {spec.help}"
        elif not words:
            usage = ("a command, e.g. rate_limit proj.add 10/s "
                     "(tab completes, ↑ history, esc closes)")
        self.query_one("#usage", Static).update(usage)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Run the line, or say in one line why it cannot run."""
        event.stop()
        text = event.value.strip()
        try:
            result = parse_line(text, read_only=self.read_only)
        except CommandError as exc:
            self.query_one("#error", Static).update(str(exc))
            return
        if text and (not self.history or self.history[-1] != text):
            self.history.append(text)
        self.dismiss(result)

    def key_up(self) -> None:
        """The previous line of the history."""
        self._recall(-1)

    def key_down(self) -> None:
        """The next line of the history."""
        self._recall(1)

    def key_tab(self) -> None:
        """Accept the suggested command name."""
        command = self.query_one("#command", Input)
        suggestion = complete(self.names, command.value)
        if suggestion:
            command.value = suggestion + " "
            command.cursor_position = len(command.value)

    def _recall(self, step: int) -> None:
        if not self.history:
            return
        self._history_at = max(0, min(len(self.history), self._history_at + step))
        command = self.query_one("#command", Input)
        command.value = self.history[self._history_at] \
            if self._history_at < len(self.history) else ""
        command.cursor_position = len(command.value)

    def action_cancel(self) -> None:
        """Close without running anything."""
        self.dismiss(None)
