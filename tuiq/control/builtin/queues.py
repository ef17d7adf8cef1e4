"""Queue commands: start and stop consuming queues at run time, and list them."""

from __future__ import annotations

from typing import Any

from tuiq.control.builtin.replies import ok
from tuiq.control.registry import Argument, control_command, inspect_command


@control_command(
    args=(Argument("queue", required=True, help="queue name"),
          Argument("exchange", help="exchange name (default: the queue name)"),
          Argument("exchange_type", default="direct", help="direct, topic, fanout..."),
          Argument("routing_key", help="binding key (default: the queue name)")),
    help="Start consuming from a queue (declared if missing).",
)
def add_consumer(state, queue: str, exchange: str | None = None,
                 exchange_type: str | None = None, routing_key: str | None = None,
                 **options: Any) -> dict[str, Any]:
    """Consume ``queue`` too; already consumed queues are left as they are."""
    state.add_consumer(queue, exchange, exchange_type or "direct", routing_key, **options)
    return ok(f"add consumer {queue}")


@control_command(
    args=(Argument("queue", required=True, help="queue name"),),
    help="Stop consuming from a queue.",
)
def cancel_consumer(state, queue: str, **kwargs: Any) -> dict[str, Any]:
    """Stop consuming ``queue``; a queue not consumed is left alone."""
    state.cancel_consumer(queue)
    return ok(f"no longer consuming from {queue}")


@inspect_command(help="The queues the worker consumes from.")
def active_queues(state, **kwargs: Any) -> list[dict[str, Any]]:
    """Each queue as kombu's ``Queue.as_dict(recurse=True)``."""
    return state.active_queues()
