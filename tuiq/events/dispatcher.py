"""The worker's event dispatcher: worker events at once, task events in batches.

Worker-group events (online, heartbeat, offline) are published one by one as
they happen. Task-group events are buffered and go out as one JSON list with
routing key ``task.multi`` (as a Celery worker running the event loop sends
them) as soon as 24 are waiting, and at the latest ``FLUSH_DELAY`` (10 ms)
after the first of them. Celery flushes on every loop pass, which on a busy
worker means a publish for every task or two; waiting a few milliseconds for a
fuller batch makes events cost a quarter as much, and no monitor can tell.

Everything here runs on the worker's loop thread and publishes on the
dispatcher's own channel, with the message built directly (the JSON is
encoded once by the standard library, no per-event kombu producer work).

``publish_task_sent`` is the client side: the ``task-sent`` event a client
publishes after a task when ``task_send_sent_event`` is set.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from time import monotonic
from time import time as _now
from typing import TYPE_CHECKING, Any

from tuiq.protocol.events import (
    BUFFER_LIMIT,
    DELIVERY_MODE,
    event_exchange,
    event_headers,
    make_event,
    routing_key_for,
    utcoffset,
)

if TYPE_CHECKING:
    from tuiq.protocol.task import TaskMessage
    from tuiq.worker.request import Request

logger = logging.getLogger("tuiq.events")

#: Task events kept while the broker is unreachable; older ones are dropped beyond it.
OFFLINE_LIMIT = 10_000

#: The longest a task event waits in the buffer for others to share its message.
FLUSH_DELAY = 0.01
#: After a failed publish, the next attempt (the worker reconnects meanwhile if it must).
RETRY_DELAY = 1.0

_JSON = "application/json"


class EventDispatcher:
    """Sends a worker's events: worker events at once, task events batched as ``task.multi``.

    ``task_events`` says whether task events are sent (``-E``, ``enable_events``);
    ``worker_events`` whether online/heartbeat/offline are (off with
    ``--without-heartbeat``). Nothing is published until :meth:`attach` gives it
    a connection and the loop's timer; task events sent meanwhile wait in the buffer.
    """

    def __init__(self, app, hostname: str, *, task_events: bool = False,
                 worker_events: bool = True, buffer_limit: int = BUFFER_LIMIT,
                 flush_delay: float = FLUSH_DELAY) -> None:
        self.app = app
        self.hostname = hostname
        self.task_events = task_events
        self.worker_events = worker_events
        self.buffer_limit = buffer_limit
        self.flush_delay = flush_delay
        self.clock = app.clock
        self.pid = os.getpid()
        self.serializer = app.conf.event_serializer or "json"
        self.headers = event_headers(hostname)
        #: Task events waiting for the next flush.
        self.buffer: list[dict[str, Any]] = []
        #: Events and messages published since start (for tests and benchmarks).
        self.events_sent = 0
        self.messages_sent = 0
        self._channel = None
        self._exchange_name = app.conf.event_exchange
        self._offset = utcoffset()
        self._failing = False
        self._call_later: Callable[..., Any] | None = None
        self._timer_pending = False
        self._first_at = 0.0

    @property
    def enabled(self) -> bool:
        """Whether any event is sent at all."""
        return self.task_events or self.worker_events

    # connection -------------------------------------------------------------------
    def attach(self, connection, call_later: Callable[..., Any]) -> None:
        """Publish on a channel of ``connection`` from now on (declares the exchange).

        ``call_later(seconds, fn)`` is the loop's timer (``Hub.call_later``), which
        sends a batch that did not fill up in time.
        """
        self._offset = utcoffset()
        self._call_later = call_later
        self._timer_pending = False
        if not self.enabled:
            return
        exchange = event_exchange(connection.transport.driver_type, self._exchange_name)
        channel = connection.channel()
        exchange(channel).declare()
        self._channel = channel
        self._failing = False
        if self.buffer:
            # Events kept from before (a reconnection): due now.
            self._first_at = monotonic() - self.flush_delay
            self._schedule(0)

    def detach(self) -> None:
        """Forget the channel (its connection is gone or closing); the buffer is kept."""
        channel, self._channel = self._channel, None
        self._call_later = None
        self._timer_pending = False
        if channel is not None:
            try:
                channel.close()
            except Exception:  # noqa: BLE001, S110 - the connection may be dead already
                pass

    # sending ----------------------------------------------------------------------
    def send_worker_event(self, event_type: str, **fields: Any) -> None:
        """Publish a worker-group event now (a single event, not a list).

        Waiting task events go first, so a heartbeat never counts a task whose
        events a monitor has not seen yet.
        """
        if not self.worker_events:
            return
        if self.buffer:
            self.flush()
        event = make_event(event_type, self.hostname, self.pid, self.clock.forward(), fields,
                           offset=self._offset)
        self._publish(event, routing_key_for(event_type))

    def send_task_event(self, event_type: str, uuid: str, **fields: Any) -> None:
        """Buffer a task-group event; the batch goes out at the next flush or when full."""
        if not self.task_events:
            return
        buffer = self.buffer
        # make_event's shape, built in one go: this runs several times per task.
        buffer.append({"hostname": self.hostname, "utcoffset": self._offset, "pid": self.pid,
                       "clock": self.clock.forward(), "uuid": uuid, **fields,
                       "timestamp": _now(), "type": event_type})
        if len(buffer) >= self.buffer_limit:
            self.flush()
        elif len(buffer) == 1:
            self._first_at = monotonic()
            if not self._timer_pending:
                self._schedule(self.flush_delay)

    def _schedule(self, delay: float) -> None:
        if self._call_later is not None:
            self._timer_pending = True
            self._call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        """The batch's time is up, unless a full batch went out meanwhile (then wait on)."""
        self._timer_pending = False
        if not self.buffer:
            return
        wait = self._first_at + self.flush_delay - monotonic()
        if wait > 0.001:
            self._schedule(wait)
        else:
            self.flush()

    def flush(self) -> None:
        """Publish the buffered task events now, as one ``task.multi`` list."""
        buffer = self.buffer
        if not buffer or self._channel is None:
            if len(buffer) > OFFLINE_LIMIT:
                del buffer[:len(buffer) - OFFLINE_LIMIT]
            return
        batch = buffer[:]
        buffer.clear()
        if not self._publish(batch, "task.multi"):
            # Kept for the next connection; the oldest go first if it never comes.
            buffer[:0] = batch
            if len(buffer) > OFFLINE_LIMIT:
                del buffer[:len(buffer) - OFFLINE_LIMIT]
            if not self._timer_pending:
                self._first_at = monotonic()
                self._schedule(RETRY_DELAY)

    def _publish(self, body: Any, routing_key: str) -> bool:
        channel = self._channel
        if channel is None:
            return False
        try:
            payload, content_type, encoding = self._encode(body)
            message = channel.prepare_message(payload, 0, content_type, encoding,
                                              dict(self.headers),
                                              {"delivery_mode": DELIVERY_MODE})
            channel.basic_publish(message, exchange=self._exchange_name,
                                  routing_key=routing_key)
        except Exception as exc:  # noqa: BLE001 - events must never stop the worker
            if not self._failing:
                logger.warning("Cannot send events: %r (the worker keeps running)", exc)
                self._failing = True
            return False
        self._failing = False
        self.messages_sent += 1
        self.events_sent += len(body) if isinstance(body, list) else 1
        return True

    def _encode(self, body: Any) -> tuple[bytes | str, str, str]:
        if self.serializer == "json":
            try:
                return json.dumps(body).encode(), _JSON, "utf-8"
            except (TypeError, ValueError):
                pass  # a value only kombu's JSON knows (a datetime in a custom field)
        from kombu.serialization import dumps

        content_type, encoding, payload = dumps(body, serializer=self.serializer)
        return payload, content_type, encoding

    # task events by what happened ---------------------------------------------------
    def task_received(self, request: Request) -> None:
        """``task-received``: the worker accepted the message (before any ETA wait)."""
        if not self.task_events:
            return
        msg = request.task_message
        headers = msg.headers
        self.send_task_event(
            "task-received", msg.id, name=msg.shadow, args=msg.argsrepr, kwargs=msg.kwargsrepr,
            root_id=headers.get("root_id"), parent_id=headers.get("parent_id"),
            retries=headers.get("retries", 0),
            eta=msg.eta.isoformat() if msg.eta is not None else None,
            expires=msg.expires.isoformat() if msg.expires is not None else None,
        )

    def task_started(self, request: Request) -> None:
        """``task-started``: a pool process took the task."""
        if self.task_events:
            self.send_task_event("task-started", request.id)

    def task_finished(self, request: Request, summary: Mapping[str, Any]) -> None:
        """The event for a task's outcome: succeeded, failed, retried (rejected: see below)."""
        if not self.task_events:
            return
        state = summary["state"]
        if state == "SUCCESS":
            self.send_task_event("task-succeeded", request.id, result=summary.get("result"),
                                 runtime=summary.get("runtime"))
        elif state == "FAILURE":
            self.send_task_event("task-failed", request.id, exception=summary.get("exception"),
                                 traceback=summary.get("traceback") or "")
        elif state == "RETRY":
            self.send_task_event("task-retried", request.id,
                                 exception=summary.get("exception"),
                                 traceback=summary.get("traceback") or "")
        elif state == "REJECTED" and not summary.get("requeue"):
            # A task that rejects without requeue has failed for good (Celery says so
            # with task-failed before its task-rejected).
            self.send_task_event("task-failed", request.id, exception=summary.get("exception"),
                                 traceback=summary.get("traceback") or "")

    def task_rejected(self, request: Request, requeue: bool) -> None:
        """``task-rejected``: the message was rejected (``requeue`` says if it went back)."""
        if self.task_events:
            self.send_task_event("task-rejected", request.id, requeue=bool(requeue))

    def task_revoked(self, request: Request, *, terminated: bool = False,
                     signum: int | None = None, expired: bool = False) -> None:
        """``task-revoked``: discarded as revoked or expired, or terminated while running."""
        if self.task_events:
            self.send_task_event("task-revoked", request.id, terminated=terminated,
                                 signum=signum, expired=expired)

    def task_unknown(self, task_message: TaskMessage) -> None:
        """``task-failed`` for an unregistered task: no traceback key, as Celery sends it."""
        if self.task_events:
            self.send_task_event("task-failed", task_message.id,
                                 exception=f"NotRegistered({task_message.name!r})")


def publish_task_sent(producer, app, fields: Mapping[str, Any], *, retry: bool = False,
                      retry_policy: Mapping[str, Any] | None = None) -> None:
    """Publish ``task-sent`` on ``producer`` (the one that just sent the task).

    The sender is ``gen<pid>@<host>``; ``fields`` are the task's (uuid, name,
    args/kwargs reprs, ids, retries, eta, expires, queue, exchange, routing_key).
    """
    from tuiq.worker.nodenames import anon_nodename

    hostname = anon_nodename()
    exchange = event_exchange(producer.connection.transport.driver_type,
                              app.conf.event_exchange)
    event = make_event("task-sent", hostname, os.getpid(), app.clock.forward(), fields)
    producer.publish(
        event, exchange=exchange.name, routing_key="task.sent", declare=[exchange],
        serializer=app.conf.event_serializer or "json", headers=event_headers(hostname),
        delivery_mode=DELIVERY_MODE, retry=retry, retry_policy=dict(retry_policy or {}),
    )
