"""Keys typed ahead of a text field that a key has just opened (``/`` filter, ``:`` line).

Textual sends each key to the widget that has the focus when the key comes in; it
then travels up the widget tree, and bindings act only when it reaches the app. Keys
that come in together (a paste, a fast typist, a slow link) are therefore all sent to
the old focus before the first one, the key that opens the field, has been acted on:
the characters behind it would otherwise never reach the field.

They do arrive, in the order typed, wherever the opening key was acted on, right
after it. Whoever opens the field takes them there with :func:`type_ahead`: each
character is typed into the field; the other keys (Enter, Backspace, Esc) are left
to go on to the bindings, which by then are those of the focused field.
"""

from __future__ import annotations

from textual import events
from textual.dom import DOMNode
from textual.widgets import Input


def type_ahead(field: Input, event: events.Key) -> bool:
    """Type ``event`` into ``field`` if it is a character (and stop it); True if it was."""
    if not event.is_printable:
        return False
    event.stop()
    event.prevent_default()
    field.insert_text_at_cursor(event.character or "")
    return True


def binds(node: DOMNode, event: events.Key, action: str) -> bool:
    """True when ``node``'s own bindings run ``action`` for ``event``'s key."""
    return any(binding.action == action
               for binding in node._bindings.key_to_bindings.get(event.key, ()))
