"""Showing a command's per-node replies: a notification for short ones, a panel otherwise.

Every node that was asked is accounted for: its reply, its error, or that it
did not answer. Status replies (``{"ok": ...}`` / ``{"error": ...}``) fit in a
notification; anything larger (stats, registered, task lists) opens a panel
drawn by the same renderer as ``tuiq inspect``.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tuiq.control.render import is_status, render

#: Most nodes listed in a notification before the rest are summed up.
MAX_NOTIFY_LINES = 12


def fits_notification(replies: dict[str, Any]) -> bool:
    """True when every reply is a short status line."""
    return all(reply is None or is_status(reply) for reply in replies.values())


def summary_lines(command: str, replies: dict[str, Any], missing: list[str],
                  cast: bool = False) -> list[str]:
    """One line per node: ``node: ok …``, ``node: error …`` or ``node: no reply``."""
    lines: list[str] = []
    for node in sorted(replies):
        reply = replies[node]
        if cast or reply is None:
            lines.append(f"{node}: sent" if cast else f"{node}: ok")
        elif is_status(reply):
            key, value = next(iter(reply.items()))
            lines.append(f"{node}: {key}: {value}")
        else:
            lines.append(f"{node}: {reply}")
    lines += [f"{node}: no reply" for node in sorted(missing)]
    if not lines:
        lines.append("no node replied")
    if len(lines) > MAX_NOTIFY_LINES:
        hidden = len(lines) - MAX_NOTIFY_LINES + 1
        lines = lines[: MAX_NOTIFY_LINES - 1] + [f"… and {hidden} more"]
    return lines


def severity(replies: dict[str, Any], missing: list[str]) -> str:
    """``error`` if a node failed or nobody answered, ``warning`` if some stayed silent."""
    errors = any(is_status(r) and "error" in r for r in replies.values())
    if errors or not replies:
        return "error"
    return "warning" if missing else "information"


class RepliesScreen(ModalScreen[None]):
    """A scrollable panel with each node's reply to one command."""

    DEFAULT_CSS = """
    RepliesScreen { align: center middle; }
    RepliesScreen > VerticalScroll {
        width: 90%; height: auto; max-height: 85%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    RepliesScreen #replies-title { text-style: bold; margin: 0 0 1 0; }
    """

    BINDINGS = [Binding("escape,q", "close", "Close", id="replies_close")]

    def __init__(self, command: str, replies: dict[str, Any], missing: list[str]) -> None:
        super().__init__()
        self.command = command
        self.replies = replies
        self.missing = missing

    def compose(self) -> ComposeResult:
        """The heading, then every node's reply and the silent nodes."""
        count = len(self.replies)
        title = f"{self.command}: {count} node{'s' if count != 1 else ''} replied"
        if self.missing:
            title += f", {len(self.missing)} did not"
        with VerticalScroll():
            yield Static(f"{title}   (esc closes)", id="replies-title", markup=False)
            yield Static(Group(*render(self.command, self.replies, self.missing)),
                         id="replies-body")

    def action_close(self) -> None:
        """Back to the console."""
        self.dismiss(None)
