"""A task request in the worker's main process: the message and its bookkeeping."""

from __future__ import annotations

import math
import time
from typing import Any

from tuiq.exceptions import InvalidTaskError
from tuiq.protocol.task import TaskMessage
from tuiq.task import Task


def _message_limit(value: Any, which: str) -> float | None:
    """A time limit from a message: a non-negative number, or None (0 means none)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or value < 0:
        raise InvalidTaskError(f"invalid {which} time limit in timelimit header: {value!r}")
    return value or None


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class Request:
    """One received task message, from reservation to settlement."""

    __slots__ = (
        "message", "task_message", "task", "hostname", "generation", "time_received",
        "time_start", "worker_pid", "acknowledged", "settled", "terminate_signal",
        "time_accepted", "terminated_by", "pool_token", "called_off", "_acks_late",
    )

    def __init__(self, message: Any, task_message: TaskMessage, task: Task, hostname: str,
                 generation: int) -> None:
        self.message = message
        self.task_message = task_message
        self.task = task
        self.hostname = hostname
        self.generation = generation
        self.time_received = time.time()
        self.time_start: float | None = None
        self.worker_pid: int | None = None
        self.acknowledged = False
        self.settled = False
        #: A signal asked for before a pool process took the task.
        self.terminate_signal: int | None = None
        #: When the pool said a process took the task (monotonic seconds).
        self.time_accepted: float | None = None
        #: The signal sent to the task's process by a terminate, once sent.
        self.terminated_by: int | None = None
        #: The pool's handle on the job, for calling it off before a process takes it.
        self.pool_token: int | None = None
        #: Why the job was called off in the pool ("revoked", "handed back"), if it was.
        self.called_off: str | None = None
        self._acks_late: bool | None = None

    @property
    def id(self) -> str:
        """The task id."""
        return self.task_message.id

    @property
    def name(self) -> str:
        """The registered task name."""
        return self.task_message.name

    @property
    def started(self) -> bool:
        """Whether a pool process has taken the task."""
        return self.worker_pid is not None

    @property
    def acks_late(self) -> bool:
        """Whether the message is acknowledged after the task finishes (fixed at receipt)."""
        acks_late = self._acks_late
        if acks_late is None:
            acks_late = self._acks_late = bool(self.task.acks_late or
                                               self.task.app.conf.task_acks_late)
        return acks_late

    @property
    def reject_on_worker_lost(self) -> bool:
        """Whether a lost child requeues the message (late ack only)."""
        value = self.task.reject_on_worker_lost
        if value is None:
            value = self.task.app.conf.task_reject_on_worker_lost
        return bool(value)

    def time_limits(self) -> tuple[float | None, float | None]:
        """``(soft, hard)`` limits: the message's, else the task's, else the worker's.

        Raises :class:`InvalidTaskError` when the message's ``timelimit`` header
        holds something that is not a non-negative number: handed to billiard, it
        would crash the pool's timeout thread and hang every later task.
        """
        hard, soft = self.task_message.timelimit
        if hard is not None:
            hard = _message_limit(hard, "hard")
        if soft is not None:
            soft = _message_limit(soft, "soft")
        task = self.task
        if hard is None:
            hard = task.time_limit
            if hard is None:
                hard = task.app.conf.task_time_limit
        if soft is None:
            soft = task.soft_time_limit
            if soft is None:
                soft = task.app.conf.task_soft_time_limit
        return soft, hard

    @property
    def acks_on_failure_or_timeout(self) -> bool:
        """Whether a late-ack task's failure or timeout still acknowledges its message."""
        return bool(self.task.acks_on_failure_or_timeout
                    and self.task.app.conf.task_acks_on_failure_or_timeout)

    def delivery_info(self) -> dict[str, Any]:
        """Where the message came from, as TASK_INFO and the request context show it."""
        msg = self.task_message
        return {
            "exchange": msg.delivery_info.get("exchange"),
            "routing_key": msg.delivery_info.get("routing_key"),
            "priority": msg.properties.get("priority"),
            "redelivered": bool(msg.delivery_info.get("redelivered")),
        }

    def job_payload(self) -> dict[str, Any]:
        """What the pool process needs to run the task (small and picklable)."""
        msg = self.task_message
        return {
            "id": msg.id, "name": msg.name, "args": msg.args, "kwargs": msg.kwargs,
            "headers": msg.headers, "embed": msg.embed, "properties": {
                "reply_to": msg.properties.get("reply_to"),
                "correlation_id": msg.properties.get("correlation_id"),
            },
            "delivery_info": self.delivery_info(),
        }

    def info(self, safe: bool = False) -> dict[str, Any]:
        """TASK_INFO as ``inspect active/reserved`` replies carry it."""
        msg = self.task_message
        return {
            "id": msg.id, "name": msg.shadow, "type": msg.name,
            "args": msg.argsrepr if safe else msg.args,
            "kwargs": msg.kwargsrepr if safe else msg.kwargs,
            "hostname": self.hostname, "time_start": self.time_start,
            "acknowledged": self.acknowledged,
            "delivery_info": self.delivery_info(),
            "worker_pid": self.worker_pid,
        }

    @property
    def stamps(self) -> dict[str, list[Any]]:
        """The message's stamps, each as a list of values."""
        headers = self.task_message.headers
        stamps = headers.get("stamps")
        if not isinstance(stamps, dict) or not stamps:
            names = headers.get("stamped_headers") or ()
            stamps = {name: headers.get(name) for name in names if isinstance(name, str)}
        return {name: value if isinstance(value, list) else [value]
                for name, value in stamps.items() if value is not None}

    def matching_stamps(self, revoked: dict[str, Any]) -> dict[str, set[Any]]:
        """The stamp values of this task found in ``revoked`` (``{stamp: values}``)."""
        mine = self.stamps
        if not mine:
            return {}
        hits: dict[str, set[Any]] = {}
        for name, values in revoked.items():
            wanted = values if isinstance(values, list | tuple | set) else [values]
            common = {v for v in mine.get(name, ()) if _hashable(v)} & \
                {v for v in wanted if _hashable(v)}
            if common:
                hits[name] = common
        return hits

    def ack(self) -> None:
        """Acknowledge the message once."""
        if not self.acknowledged:
            self.acknowledged = True
            self.message.ack()

    def reject(self, requeue: bool = False) -> None:
        """Reject the message once."""
        if not self.acknowledged:
            self.acknowledged = True
            self.message.reject(requeue=requeue)

    def __repr__(self) -> str:
        return f"<Request {self.name}[{self.id}]>"
