"""A user-defined remote-control command, imported through an app's ``imports``."""

from __future__ import annotations

from typing import Any

from tuiq.control.registry import Argument, inspect_command


@inspect_command(args=(Argument("greeting", default="hi", help="what to say"),),
                 help="Say hello from a user-defined command.")
def user_hello(state, greeting: str = "hi", **kwargs: Any) -> dict[str, Any]:
    """Reply with the greeting."""
    return {"ok": greeting}


# The Workers Guide's examples, written the Celery way.
from tuiq.worker.control import control_command, inspect_command  # noqa: E402


@control_command(args=[("n", int)], signature="[N=1]")
def increase_prefetch_count(state, n=1):
    """Widen the prefetch window by n."""
    state.consumer.qos.increment_eventually(n)
    return {"ok": "prefetch count incremented"}


@inspect_command
def current_prefetch_count(state):
    """The prefetch window now."""
    return {"prefetch_count": state.consumer.qos.value}
