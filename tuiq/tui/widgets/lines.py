"""Updating one-line Statics (status and header lines) every tick without needless repaints."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def show_text(line: Static, text: Text) -> None:
    """Put ``text`` on a one-line Static, skipping the repaint when nothing changed.

    A layout pass is asked for only when the width of the text changes (the rate's
    Static sizes itself to its text; the others have fixed sizes).
    """
    shown = line.content
    if isinstance(shown, Text) and shown == text and shown.style == text.style:
        return
    line.update(text, layout=not isinstance(shown, Text) or len(shown) != len(text))
