"""Store a node's reply to an inspect poll on its :class:`~tuiq.events.models.WorkerInfo`.

Replies are kept as the node sent them (PROTOCOL.md §2.5/§2.6), checked only for their
outer shape: a list where a list is expected, a dict where a dict is. An ``{"error": ...}``
reply, or one of the wrong shape, is recorded in ``inspect_errors`` and the previous
good reply stays.
"""

from __future__ import annotations

from typing import Any

from tuiq.events.models import WorkerInfo

#: Inspect command → (WorkerInfo attribute, expected reply type).
POLL_FIELDS: dict[str, tuple[str, type]] = {
    "active": ("active_tasks", list),
    "reserved": ("reserved_tasks", list),
    "scheduled": ("scheduled_tasks", list),
    "revoked": ("revoked_ids", list),
    "registered": ("registered", list),
    "active_queues": ("queues", list),
    "stats": ("stats", dict),
    "conf": ("conf", dict),
}

#: Commands whose reply is only a sign of life (nothing to store).
LIVENESS_ONLY = frozenset({"ping"})


def is_poll_command(command: str) -> bool:
    """True if :func:`apply_reply` keeps replies to ``command``."""
    return command in POLL_FIELDS or command in LIVENESS_ONLY


def reply_error(reply: Any) -> str | None:
    """The error a reply carries (``{"error": ...}``), or None."""
    if isinstance(reply, dict) and len(reply) == 1 and "error" in reply:
        return str(reply["error"])
    return None


def apply_reply(worker: WorkerInfo, command: str, reply: Any, now: float) -> None:
    """Record ``reply`` to ``command`` on ``worker`` at local time ``now``.

    Raises ValueError for a command this model does not keep (a caller's mistake, not
    the node's).
    """
    if command in LIVENESS_ONLY:
        worker.inspected_at = now
        return
    try:
        attribute, expected = POLL_FIELDS[command]
    except KeyError:
        raise ValueError(f"no poll field for inspect command {command!r}") from None
    worker.inspected_at = now
    error = reply_error(reply)
    if error is None and expected is list and isinstance(reply, tuple):
        reply = list(reply)
    if error is None and not isinstance(reply, expected):
        error = f"unexpected {type(reply).__name__} reply to {command}"
    if error is not None:
        worker.inspect_errors[command] = error
        return
    worker.inspect_errors.pop(command, None)
    setattr(worker, attribute, reply)
