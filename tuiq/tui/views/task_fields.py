"""The figures of a task as the console shows them, read from a ``TaskInfo``."""

from __future__ import annotations

from tuiq.events.models import TaskInfo
from tuiq.states import STARTED


def entered_at(task: TaskInfo) -> float | None:
    """When the task entered the stream: received, else sent, else its latest event."""
    return task.received or task.sent or task.timestamp


def run_time(task: TaskInfo, now: float) -> float | None:
    """Seconds the task ran: the reported runtime, else from its start to its end (or now).

    Only ``task-succeeded`` carries a runtime; for failures, revokes and rejections the
    start and end events give it. None when the task never started.
    """
    if task.runtime is not None:
        return task.runtime
    if task.started is None:
        return None
    if task.state == STARTED:
        return max(now - task.started, 0.0)
    ended = task.failed or task.revoked or task.rejected or task.retried or task.succeeded
    if ended is None or ended < task.started:
        return None
    return ended - task.started


def arguments(task: TaskInfo) -> str:
    """Positional and keyword arguments on one line: ``(1042,) {'currency': 'EUR'}``."""
    args = task.args if task.args not in (None, "()", "[]") else ""
    kwargs = task.kwargs if task.kwargs not in (None, "{}") else ""
    return " ".join(part for part in (args, kwargs) if part)
