"""The help screen (``?``), generated from the key table so it never disagrees with the keys."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiq.tui.keys import KEYS, SCOPE_TITLES, SCOPES, Key


def help_table(scope: str, read_only: bool = False, keymap: dict[str, str] | None = None
               ) -> Table:
    """One scope's keys: key, what it does, and the command it sends."""
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), expand=False)
    table.add_column("key", style="bold cyan", no_wrap=True, min_width=7)
    table.add_column("action")
    table.add_column("sends", style="dim")
    for key in keys_shown(scope, read_only):
        label = (keymap or {}).get(key.id) or key.label
        action = Text(key.explanation)
        if key.destructive:
            action.append("  (asks first)", style="yellow")
        table.add_row(label, action, key.command or "")
    return table


def keys_shown(scope: str, read_only: bool) -> list[Key]:
    """The keys of ``scope`` that work here (destructive ones hidden when read-only)."""
    return [k for k in KEYS if k.scope == scope and not (read_only and k.destructive)]


class HelpScreen(ModalScreen[None]):
    """Every key of every view, grouped by where it works."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100; max-width: 95%; height: 90%;
        border: thick $primary; background: $surface; padding: 0 2;
    }
    HelpScreen .scope { text-style: bold; color: $accent; margin: 1 0 0 0; }
    HelpScreen #footnote { color: $text-muted; margin: 1 0; }
    """

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help_close")]

    def __init__(self, read_only: bool = False, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.read_only = read_only
        self.keymap = keymap or {}

    def compose(self) -> ComposeResult:
        """A heading and a key table per scope, then how commands work."""
        with VerticalScroll():
            title = "tuiq top: keys" + ("  (read-only)" if self.read_only else "")
            yield Static(title, classes="scope", markup=False)
            for scope in SCOPES:
                yield Static(SCOPE_TITLES[scope], classes="scope", markup=False)
                yield Static(help_table(scope, self.read_only, self.keymap))
            yield Static(
                "Actions apply to the tagged rows (space), else to the row under the cursor. "
                "ctrl+p and : reach every remote-control command, the app's own included: "
                "e.g. :rate_limit proj.add 10/s -d w1@host. esc closes this screen.",
                id="footnote", markup=False)

    def action_close(self) -> None:
        """Back to the console."""
        self.dismiss(None)
