"""A user-defined remote-control command, imported through an app's ``imports``."""

from __future__ import annotations

from typing import Any

from tuiq.control.registry import Argument, inspect_command


@inspect_command(args=(Argument("greeting", default="hi", help="what to say"),),
                 help="Say hello from a user-defined command.")
def user_hello(state, greeting: str = "hi", **kwargs: Any) -> dict[str, Any]:
    """Reply with the greeting."""
    return {"ok": greeting}
