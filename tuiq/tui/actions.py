"""What the console's commands do: broadcasts, retries and purges, run off the UI thread.

Everything here blocks on the broker, so the app calls it from a thread worker
and shows the :class:`Outcome` when it comes back. User commands have a
control client of their own, so they never queue behind an inspect poll.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tuiq.control.arguments import NO_REPLY_COMMANDS, CommandError
from tuiq.tui.commands import Invocation

#: States a task can be retried from: it ended without a result.
RETRYABLE_STATES = frozenset({"FAILURE", "REVOKED", "REJECTED"})


@dataclass
class Outcome:
    """The result of one command: each node's reply, the silent nodes, or an error."""

    command: str
    replies: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    error: str | None = None  # the command could not be sent at all
    lines: list[str] = field(default_factory=list)  # the console's own commands report lines
    failed: bool = False  # some part of it did not happen (a refused retry, a missing queue)
    cast: bool = False  # sent without replies (shutdown): ``replies`` are the pinged nodes


@dataclass(frozen=True)
class RetryRequest:
    """A task to send again: its name, arguments and where it goes."""

    task_id: str
    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str | None = None
    exchange: str | None = None
    routing_key: str | None = None


def retry_request(task: Any, node_queues: Sequence[str] = ()) -> RetryRequest:
    """How to re-send ``task`` (a ``TaskInfo``); one-line :class:`CommandError` if it cannot be.

    The arguments are the repr strings the events carry, read back with
    :func:`ast.literal_eval`: anything that is not a plain literal (an object's
    repr, a value cut short by the worker) is refused rather than guessed.
    """
    task_id = task.uuid
    if task.state not in RETRYABLE_STATES:
        raise CommandError(f"cannot retry {task_id}: it is {task.state}, "
                           "only failed, revoked or rejected tasks are retried")
    if not task.name:
        raise CommandError(f"cannot retry {task_id}: its task name is not known "
                           "(no task-received event was seen)")
    args = _literal(task_id, "args", task.args, (list, tuple), [])
    kwargs = _literal(task_id, "kwargs", task.kwargs, (dict,), {})
    queue = getattr(task, "queue", None)
    exchange = getattr(task, "exchange", None)
    routing_key = getattr(task, "routing_key", None)
    if not (queue or routing_key) and len(node_queues) == 1:
        # Task events do not say which queue a task came from; a node consuming a
        # single queue can only have got it from there.
        queue = node_queues[0]
    return RetryRequest(task_id, task.name, list(args), dict(kwargs), queue, exchange or None,
                        routing_key or None)


def _literal(task_id: str, what: str, text: str | None, types: tuple[type, ...],
             empty: Any) -> Any:
    if text is None:
        raise CommandError(f"cannot retry {task_id}: its {what} are not known "
                           "(no task-received event was seen)")
    if text.strip() in ("", "()", "[]", "{}"):
        return empty
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise CommandError(f"cannot retry {task_id}: its {what} {_clip(text)} "
                           "are not plain Python literals") from None
    if not isinstance(value, types):
        raise CommandError(f"cannot retry {task_id}: its {what} {_clip(text)} "
                           f"are not a {types[0].__name__}")
    return value


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Actions:
    """Runs commands for the console (blocking calls: use them from a thread)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The control client used for user commands (created on first use)."""
        with self._lock:
            if self._client is None:
                from tuiq.control.client import ControlClient

                self._client = ControlClient(self.app)
            return self._client

    def run(self, invocation: Invocation, *, expected: Sequence[str] | None = None) -> Outcome:
        """Send a registry command and collect every node's reply; never raises."""
        name = invocation.name
        try:
            if name in NO_REPLY_COMMANDS:
                return self._cast(invocation)
            replies = self.client.broadcast(name, invocation.arguments,
                                            destination=invocation.destination, reply=True,
                                            timeout=invocation.timeout, expected=expected)
        except Exception as exc:  # noqa: BLE001 - shown as one line in the console
            return Outcome(name, error=_one_line(exc))
        return Outcome(name, dict(replies), list(replies.missing))

    def _cast(self, invocation: Invocation) -> Outcome:
        # No reply ever comes back: send it to the nodes that answer a ping, and say which.
        pings = self.client.broadcast("ping", destination=invocation.destination, reply=True,
                                      timeout=invocation.timeout)
        if pings:
            self.client.broadcast(invocation.name, invocation.arguments,
                                  destination=sorted(pings))
        return Outcome(invocation.name, {node: None for node in sorted(pings)},
                       list(pings.missing), cast=True)

    def retry(self, requests: Sequence[RetryRequest], refused: Sequence[str] = ()) -> Outcome:
        """Send each task again with a new id; ``refused`` lines are reported with them."""
        outcome = Outcome("retry", lines=list(refused), failed=bool(refused))
        for request in requests:
            options: dict[str, Any] = {}
            if request.queue:
                options["queue"] = request.queue
            if request.routing_key:
                options["routing_key"] = request.routing_key
            if request.exchange is not None and request.routing_key:
                options["exchange"] = request.exchange
            try:
                result = self.app.send_task(request.name, args=request.args,
                                            kwargs=request.kwargs, **options)
            except Exception as exc:  # noqa: BLE001 - reported per task
                outcome.failed = True
                outcome.lines.append(f"{request.task_id}: not sent: {_one_line(exc)}")
                continue
            where = request.queue or request.routing_key or "the default queue"
            outcome.lines.append(f"{request.name} {request.task_id} sent again as {result.id} "
                                 f"({where})")
        return outcome

    def purge(self, queues: Sequence[str]) -> Outcome:
        """Delete the waiting messages of ``queues``; one line per queue."""
        from tuiq.purge import purge_lines, purge_queues

        outcome = Outcome("purge")
        try:
            with self.app.connection() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                             timeout=self.app.conf.broker_connection_timeout)
                counts = purge_queues(connection, list(queues))
        except Exception as exc:  # noqa: BLE001 - shown as one line in the console
            outcome.error = _one_line(exc)
            return outcome
        outcome.failed = any(count is None for count in counts.values())
        outcome.lines.extend(purge_lines(counts))
        return outcome

    def close(self) -> None:
        """Release the control client's connection."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001, S110 - closing a dead connection may fail
                pass


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
