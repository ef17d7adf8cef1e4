"""Inspect polls for the console: one at a time, the next scheduled after the last one ended.

A poll asks every node for its task lists, stats and queues (and the open
node for its revoked ids, registered tasks and config), then reads the depth
of the queues the nodes consume. It runs in a thread with a client of its own,
so a user's command never waits behind it; the results are applied on the UI
thread, and only then is the next poll timed. A slow broker therefore slows
the polls down instead of stacking them up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

#: Asked of every node on each poll. ``stats`` goes first: the nodes answering it are
#: the ones the other commands wait for.
POLL_COMMANDS = ("stats", "active", "reserved", "scheduled", "active_queues")
#: Asked of the node whose detail screen is open.
DETAIL_COMMANDS = ("revoked", "registered", "conf")
#: Queue depths are read for at most this many queues per poll.
MAX_DEPTH_QUEUES = 32


@dataclass
class PollResult:
    """What one poll brought back."""

    replies: list[tuple[str, str, Any]] = field(default_factory=list)  # (node, command, reply)
    missing: dict[str, list[str]] = field(default_factory=dict)  # command → silent nodes
    queue_depths: dict[str, int] | None = None
    error: str | None = None
    started: float = 0.0
    duration: float = 0.0

    @property
    def nodes(self) -> set[str]:
        """The nodes that answered something."""
        return {node for node, _, _ in self.replies}


def run_poll(client: Any, *, detail: str | None = None, timeout: float = 1.0,
             depths: QueueDepths | None = None) -> PollResult:
    """Ask the nodes for everything the console shows; never raises."""
    started = time.time()
    begun = time.monotonic()
    result = PollResult(started=started)
    try:
        expected: list[str] | None = None
        for command in POLL_COMMANDS:
            replies = client.broadcast(command, reply=True, timeout=timeout, expected=expected)
            _collect(result, command, replies)
            if expected is None:
                # The nodes that answered the first command are the ones worth waiting for.
                expected = sorted(set(replies) | set(replies.missing))
                if not expected:
                    break
        if detail:
            for command in DETAIL_COMMANDS:
                replies = client.broadcast(command, reply=True, timeout=timeout,
                                           destination=[detail])
                _collect(result, command, replies)
        if depths is not None:
            result.queue_depths = depths.read(queue_names(result.replies))
    except Exception as exc:  # noqa: BLE001 - the console shows it in one line
        result.error = _one_line(exc)
    result.duration = time.monotonic() - begun
    return result


def _collect(result: PollResult, command: str, replies: Any) -> None:
    for node, reply in replies.items():
        result.replies.append((node, command, reply))
    if replies.missing:
        result.missing[command] = list(replies.missing)


def queue_names(replies: Iterable[tuple[str, str, Any]]) -> list[str]:
    """The queue names in ``active_queues`` replies, first seen first."""
    names: dict[str, None] = {}
    for _, command, reply in replies:
        if command != "active_queues" or not isinstance(reply, list):
            continue
        for queue in reply:
            name = queue.get("name") if isinstance(queue, dict) else None
            if isinstance(name, str) and name:
                names[name] = None
    return list(names)[:MAX_DEPTH_QUEUES]


class QueueDepths:
    """Reads how many messages wait in queues, over one connection kept between polls."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._connection: Any = None

    def read(self, names: list[str]) -> dict[str, int]:
        """``{queue: waiting messages}``; queues that do not exist are left out."""
        if not names:
            return {}
        try:
            return self._read(names)
        except Exception:
            # A dead connection is replaced on the next poll.
            self.close()
            raise

    def _read(self, names: list[str]) -> dict[str, int]:
        if self._connection is None:
            connection = self.app.connection(heartbeat=0)
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                         timeout=self.app.conf.broker_connection_timeout)
            self._connection = connection
        connection = self._connection
        depths: dict[str, int] = {}
        channel = connection.channel()
        try:
            size = getattr(channel, "_size", None)
            for name in names:
                if size is not None:
                    # Virtual transports (Redis): an empty queue has no key, so a passive
                    # declare would call it missing; the list length is the answer.
                    depths[name] = int(size(name))
                    continue
                try:
                    depths[name] = int(channel.queue_declare(queue=name, passive=True)[1])
                except connection.channel_errors:
                    # AMQP closes the channel on a missing queue: open another.
                    channel = connection.channel()
        finally:
            try:
                channel.close()
            except Exception:  # noqa: BLE001, S110 - the channel may already be closed
                pass
        return depths

    def close(self) -> None:
        """Release the connection."""
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001, S110 - closing a dead connection may fail
                pass


class Poller:
    """Runs ``poll`` in a thread of a Textual app, never two at once.

    ``snapshot`` is read on the UI thread as each poll starts (what to poll,
    e.g. the open node) and passed to ``poll``; ``apply`` receives each result
    on the UI thread, and the next poll starts ``interval`` seconds after that.
    ``poll_now()`` asks for one as soon as possible (right away, or as soon as
    the running one ends).
    """

    def __init__(self, app: Any, poll: Callable[[Any], PollResult],
                 apply: Callable[[PollResult], None], interval: float, *,
                 snapshot: Callable[[], Any] = lambda: None) -> None:
        self.app = app
        self._poll = poll
        self._apply = apply
        self._snapshot = snapshot
        self.interval = interval
        self._timer: Any = None
        self.running = False
        self._again = False
        self._stopped = False
        self.polls = 0

    def start(self) -> None:
        """Start the first poll now."""
        self._stopped = False
        self._begin()

    def stop(self) -> None:
        """Start no more polls (a running one finishes unseen)."""
        self._stopped = True
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def poll_now(self) -> None:
        """Poll as soon as possible, without ever running two polls at once."""
        if self._stopped:
            return
        if self.running:
            self._again = True
            return
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._begin()

    def _begin(self) -> None:
        if self._stopped or self.running:
            return
        self._timer = None
        self.running = True
        work = partial(self._work, self._snapshot())
        self.app.run_worker(work, thread=True, group="tuiq-poll", exit_on_error=False)

    def _work(self, snapshot: Any) -> None:
        try:
            result = self._poll(snapshot)
        except Exception as exc:  # noqa: BLE001 - a poll must never take the console down
            result = PollResult(error=_one_line(exc))
        try:
            self.app.call_from_thread(self._finished, result)
        except RuntimeError:
            # The app is shutting down: nobody is left to show the result.
            pass

    def _finished(self, result: PollResult) -> None:
        self.running = False
        self.polls += 1
        if self._stopped:
            return
        try:
            self._apply(result)
        finally:
            if self._again:
                self._again = False
                self._begin()
            elif not self._stopped:
                self._timer = self.app.set_timer(self.interval, self._begin, name="tuiq-poll")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
