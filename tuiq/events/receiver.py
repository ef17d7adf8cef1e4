"""``EventReceiver``: monitoring events from the broker, one dict at a time (PROTOCOL.md §4).

It binds a private queue (``celeryev.<uuid>``, the arguments Celery 5.7 uses) to
the event exchange, asks every worker for a heartbeat so they show up at once,
and hands each event to a callback: ``task.multi`` lists are split, the clock of
``task-sent`` is rewritten (clients never sync their clocks), timestamps are
moved into this machine's zone and ``local_received`` is added, exactly as
Celery's receiver does. Anything that is not an event is logged and dropped. A
lost broker is reported through ``on_status`` and reconnected with back-off.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from kombu import Consumer

from tuiq.broker import mask_url, short_reason
from tuiq.protocol.events import event_exchange, receiver_queue, utcoffset

logger = logging.getLogger("tuiq.events")

#: Longest wait in one read, so ``stop`` is seen at least this often.
POLL_INTERVAL = 0.25
#: The first read after subscribing is short: the announce cast goes out right after it.
FIRST_POLL = 0.05
#: Reconnection back-off: first wait, growth factor, longest wait (seconds).
RETRY_START, RETRY_FACTOR, RETRY_MAX = 0.5, 2.0, 10.0
#: How often this machine's UTC offset is read again (it changes with daylight saving).
OFFSET_REFRESH = 60.0

CONNECTED = "connected"
DISCONNECTED = "disconnected"


class EventReceiver:
    """Consumes monitoring events from the broker (PROTOCOL.md §4)."""

    def __init__(self, app, on_event: Callable[[dict], None], *,
                 on_status: Callable[[str, str | None], None] | None = None,
                 routing_key: str = "#", announce: bool = True) -> None:
        self.app = app
        self.on_event = on_event
        self.on_status = on_status
        self.routing_key = routing_key
        self.announce = announce
        self.clock = app.clock
        #: Events delivered to ``on_event`` and messages dropped, since creation.
        self.received = 0
        self.dropped = 0
        self._here = utcoffset()
        self._here_read = time.monotonic()
        conf = app.conf
        self._accept = {conf.event_serializer or "json", "json"}

    # the loop ---------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Block: connect, declare the receiver queue, cast ``heartbeat`` to all workers when
        announce is set, then call on_event(event_dict) for every event (list bodies of
        ``task.multi`` split into single events; ``local_received`` added; the ``clock`` of
        ``task-sent`` rewritten as Celery's receiver does). On connection loss call
        on_status("disconnected", one_line_reason) and reconnect with back-off until ``stop``
        is set; on (re)connect call on_status("connected", masked_broker_url). Returns when
        ``stop`` is set (checks it at least every 0.5 s)."""
        delay = RETRY_START
        while not stop.is_set():
            connection = None
            try:
                connection = self._connect()
                delay = RETRY_START
                self._consume(connection, stop)
            except Exception as exc:  # noqa: BLE001 - reported; the loop reconnects
                if not _is_connection_error(exc, connection):
                    logger.exception("Event receiver failed; reconnecting")
                self._status(DISCONNECTED, _one_line(exc))
            finally:
                if connection is not None:
                    _release(connection)
            if stop.wait(delay):
                return
            delay = min(delay * RETRY_FACTOR, RETRY_MAX)

    def _connect(self):
        connection = self.app.connection()
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                     timeout=self.app.conf.broker_connection_timeout)
        return connection

    def _consume(self, connection, stop: threading.Event) -> None:
        conf = self.app.conf
        channel = connection.channel()
        exchange = event_exchange(connection.transport.driver_type, conf.event_exchange)
        queue = receiver_queue(
            exchange, str(uuid.uuid4()), prefix=conf.event_queue_prefix,
            routing_key=self.routing_key, ttl=conf.event_queue_ttl,
            expires=conf.event_queue_expires, durable=bool(conf.event_queue_durable),
            exclusive=bool(conf.event_queue_exclusive),
        )
        consumer = Consumer(channel, queues=[queue], on_message=self._on_message, no_ack=True,
                            accept=self._accept)
        consumer.consume()
        # On Redis the first read is what subscribes the channel: only then is the
        # receiver listening, so "connected" and the announce cast come after it.
        _drain(connection, FIRST_POLL)
        self._status(CONNECTED, mask_url(self.app.broker_url))
        if self.announce:
            self._announce(connection, channel)
        while not stop.is_set():
            _drain(connection, POLL_INTERVAL)
            connection.heartbeat_check()
        try:
            consumer.cancel()
            queue(channel).delete()
        except Exception:  # noqa: BLE001, S110 - best effort: the queue auto-deletes anyway
            pass

    def _announce(self, connection, channel) -> None:
        """Ask every worker for a heartbeat now (a ``heartbeat`` cast, as Celery's receiver)."""
        from tuiq.control.node import make_mailbox

        make_mailbox(self.app)(connection)._broadcast("heartbeat", {}, channel=channel)

    def _status(self, status: str, detail: str | None) -> None:
        if self.on_status is None:
            return
        try:
            self.on_status(status, detail)
        except Exception:  # noqa: BLE001 - a broken status callback must not stop events
            logger.exception("Event receiver status callback failed")

    # one message ---------------------------------------------------------------------
    def _on_message(self, message) -> None:
        """Decode one event message (a single event or a list) and deliver its events."""
        try:
            body = _decode(message)
        except Exception as exc:  # noqa: BLE001 - one bad message must not stop the receiver
            self.dropped += 1
            logger.warning("Dropped an event message that cannot be decoded: %s",
                           _one_line(exc))
            return
        if isinstance(body, list):
            for event in body:
                self._deliver(event)
        else:
            self._deliver(body)

    def _deliver(self, event: Any) -> None:
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self.dropped += 1
            logger.warning("Dropped an event message that is not an event: %.200r", event)
            return
        clock = self.clock
        if event["type"] == "task-sent":
            # Clients never sync their clocks, so theirs means nothing here.
            value = event["clock"] = (clock.value or 1) - 1
            clock.adjust(value)
        else:
            value = event.get("clock")
            if isinstance(value, int):
                clock.adjust(value)
            else:
                event["clock"] = clock.forward()
        now = time.time()
        offset = event.get("utcoffset")
        if offset is not None:
            here = self._local_offset(now)
            if offset != here:
                timestamp = event.get("timestamp")
                if isinstance(timestamp, int | float) and isinstance(offset, int | float):
                    event["timestamp"] = timestamp - (offset - here) * 3600
        event["local_received"] = now
        self.received += 1
        try:
            self.on_event(event)
        except Exception:  # noqa: BLE001 - the consumer of events must not stop the stream
            logger.exception("Event callback failed on %s", event.get("type"))

    def _local_offset(self, now: float) -> float:
        if now - self._here_read > OFFSET_REFRESH:
            self._here = utcoffset()
            self._here_read = now
        return self._here


def _drain(connection, timeout: float) -> None:
    """Deliver what arrives within ``timeout`` seconds (nothing arriving is fine)."""
    try:
        connection.drain_events(timeout=timeout)
    except TimeoutError:
        pass


def _decode(message) -> Any:
    """The message body: plain JSON read directly (the common case), else through kombu."""
    body = message.body
    if message.content_type == "application/json" and \
            not (message.headers or {}).get("compression"):
        if isinstance(body, bytes | bytearray):
            if b'"__type__"' not in body:
                return json.loads(body)
        elif isinstance(body, str) and '"__type__"' not in body:
            return json.loads(body)
    return message.decode()


def _is_connection_error(exc: BaseException, connection) -> bool:
    from kombu.exceptions import OperationalError

    if isinstance(exc, OSError | ConnectionError | OperationalError | TimeoutError):
        return True
    if connection is None:
        return False
    try:
        errors = (*connection.connection_errors, *connection.channel_errors)
    except Exception:  # noqa: BLE001 - a half-built connection may not know its errors
        return False
    return isinstance(exc, errors)


def _one_line(exc: BaseException) -> str:
    text = short_reason(exc)
    return text if text else type(exc).__name__


def _release(connection) -> None:
    try:
        connection.release()
    except Exception:  # noqa: BLE001, S110 - closing a dead connection may fail
        pass
