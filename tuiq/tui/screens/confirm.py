"""The confirmation asked before a destructive action (terminate, shutdown, pool restart, purge)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tuiq.tui.commands import Invocation


def danger(invocation: Invocation) -> tuple[str, str]:
    """The confirmation's title and question for a destructive invocation."""
    arguments = invocation.arguments
    nodes = invocation.destination
    where = f"{len(nodes)} node{'s' if len(nodes) != 1 else ''} ({', '.join(nodes)})" \
        if nodes else "every node"
    name = invocation.name
    if name == "purge":
        queues = list(arguments.get("queue") or [])
        return ("Purge queues",
                f"Delete every message waiting in {', '.join(queues)}? "
                "They cannot be recovered.")
    if name in ("terminate", "revoke"):
        ids = arguments.get("task_id") or []
        ids = ids if isinstance(ids, list) else [ids]
        signal = arguments.get("signal") or "TERM"
        count = f"{len(ids)} task{'s' if len(ids) != 1 else ''}"
        return "Terminate tasks", f"Kill the processes running {count} with SIG" \
            f"{str(signal).upper().removeprefix('SIG')}?"
    if name == "shutdown":
        return "Shut down", f"Shut down {where}? Running tasks finish first (warm shutdown)."
    if name == "pool_restart":
        return "Restart pools", f"Replace every pool process on {where}?"
    return f"Run {name}", f"Run {name} on {where}? It cannot be undone."


class ConfirmScreen(ModalScreen[bool]):
    """Ask yes or no; dismissed with True only when the user confirms.

    The focus starts on *Cancel*, so a stray Enter sends nothing.
    """

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > #dialog {
        width: 72; height: auto; max-width: 90%;
        border: thick $error; background: $surface; padding: 1 2;
    }
    ConfirmScreen #title { text-style: bold; color: $error; }
    ConfirmScreen #question { margin: 1 0 0 0; }
    ConfirmScreen #detail { color: $text-muted; margin: 1 0 0 0; }
    ConfirmScreen #buttons { height: auto; align-horizontal: right; margin: 1 0 0 0; }
    ConfirmScreen Button { margin: 0 0 0 2; }
    """

    BINDINGS = [
        Binding("escape,n", "cancel", "Cancel", id="confirm_cancel"),
        Binding("y", "confirm", "Confirm", id="confirm_yes"),
        Binding("left,right", "app.focus_next", show=False),
    ]

    def __init__(self, title: str, question: str, detail: str = "",
                 confirm_label: str = "Confirm") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.detail = detail
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        """The question, what exactly will be sent, and the two buttons."""
        with Vertical(id="dialog"):
            yield Static(self.title_text, id="title", markup=False)
            yield Static(self.question, id="question", markup=False)
            if self.detail:
                yield Static(self.detail, id="detail", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Cancel (n)", id="cancel", compact=True)
                yield Button(f"{self.confirm_label} (y)", id="confirm", variant="error",
                             compact=True)

    def on_mount(self) -> None:
        """Start on the safe choice."""
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Either button answers."""
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        """Send nothing."""
        self.dismiss(False)

    def action_confirm(self) -> None:
        """Go ahead."""
        self.dismiss(True)
