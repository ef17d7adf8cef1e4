"""Monitoring events on the wire (PROTOCOL.md §4), exactly as Celery 5.7 shapes them.

An event is a flat JSON object: the common fields ``hostname``, ``utcoffset``,
``pid`` and ``clock``, then the event's own fields, then ``timestamp`` and
``type`` (Celery's key order). Events go to the ``celeryev`` exchange, a topic
exchange on AMQP and a fanout one on Redis, with the type as routing key
(``task-succeeded`` → ``task.succeeded``); a batch of one group's events is one
JSON list sent as ``<group>.multi``.

Nothing here touches a connection: these are the shapes only.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from typing import Any

from kombu import Exchange, Queue

#: Default name of the event exchange (``event_exchange``).
EVENT_EXCHANGE_NAME = "celeryev"

#: Transports on which Celery declares the event exchange as fanout instead of topic.
FANOUT_TRANSPORTS = frozenset({"redis", "gcpubsub"})

#: Task events buffered into one ``task.multi`` message at most (Celery's ``buffer_limit``).
BUFFER_LIMIT = 24

#: ``task-succeeded`` results are reprs cut to this length (``resultrepr_maxsize``).
RESULT_REPR_MAXSIZE = 1024

#: Events are transient (``delivery_mode`` 1): a lost event is not worth a disk write.
DELIVERY_MODE = 1

#: Who sent a worker event (``sw_ident``); Flower shows it, nobody branches on it.
SW_IDENT = "py-tuiq"

#: Every worker-group event type tuiq sends.
WORKER_EVENTS = ("worker-online", "worker-heartbeat", "worker-offline")

#: Every task-group event type (``task-sent`` comes from clients).
TASK_EVENTS = ("task-sent", "task-received", "task-started", "task-succeeded", "task-failed",
               "task-retried", "task-revoked", "task-rejected", "task-cancelled")


def group_from(event_type: str) -> str:
    """The group of an event type: ``task-sent`` → ``task``, ``worker-heartbeat`` → ``worker``."""
    return event_type.split("-", 1)[0]


def routing_key_for(event: str | Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """The routing key of an event type, an event, or a batch (``<group>.multi``).

    ``"task-succeeded"`` → ``"task.succeeded"``; ``"worker-elect-ack"`` →
    ``"worker.elect.ack"``; a list of task events → ``"task.multi"``.
    """
    if isinstance(event, str):
        return event.replace("-", ".")
    if isinstance(event, Mapping):
        return str(event["type"]).replace("-", ".")
    if not event:
        raise ValueError("an empty batch has no routing key")
    return f"{group_from(str(event[0]['type']))}.multi"


def utcoffset(localtime: Any = time.localtime, timezone: float | None = None,
              altzone: float | None = None) -> float:
    """Hours **west** of UTC now, as a float (Celery 5.7): UTC+2 gives ``-2.0``.

    ``time.altzone`` applies while daylight saving time is in force.
    """
    timezone = time.timezone if timezone is None else timezone
    altzone = time.altzone if altzone is None else altzone
    return (altzone if localtime().tm_isdst else timezone) / 3600


def localize_timestamp(timestamp: float, offset: float, here: float) -> float:
    """A sender's timestamp moved into the receiver's zone (Celery's ``adjust_timestamp``).

    ``offset`` is the sender's ``utcoffset`` and ``here`` the receiver's, both in
    hours west of UTC.
    """
    return timestamp - (offset - here) * 3600


def make_event(event_type: str, hostname: str, pid: int, clock: int | None,
               fields: Mapping[str, Any] | None = None, *, timestamp: float | None = None,
               offset: float | None = None) -> dict[str, Any]:
    """One event with the common fields, in Celery's key order."""
    event: dict[str, Any] = {
        "hostname": hostname,
        "utcoffset": utcoffset() if offset is None else offset,
        "pid": pid,
        "clock": clock,
    }
    if fields:
        event.update(fields)
    event["timestamp"] = time.time() if timestamp is None else timestamp
    event["type"] = event_type
    return event


def event_headers(hostname: str) -> dict[str, str]:
    """The message headers of every event: ``{"hostname": <sender nodename>}``."""
    return {"hostname": hostname}


def event_exchange(driver_type: str, name: str = EVENT_EXCHANGE_NAME) -> Exchange:
    """The event exchange for a transport: topic, or fanout on Redis (as Celery declares it).

    Durable and not auto-deleted (kombu's defaults, which Celery keeps), so a
    RabbitMQ that already has Celery's ``celeryev`` accepts the declaration.
    """
    kind = "fanout" if driver_type in FANOUT_TRANSPORTS else "topic"
    return Exchange(name, type=kind, durable=True, auto_delete=False)


def receiver_queue(exchange: Exchange, node_id: str, *, prefix: str = "celeryev",
                   routing_key: str = "#", ttl: float | None = 5.0,
                   expires: float | None = 60.0, durable: bool = False,
                   exclusive: bool = True) -> Queue:
    """A monitor's private queue ``<prefix>.<node_id>`` bound to the event exchange.

    Auto-deleted unless durable; ``ttl`` and ``expires`` (seconds) become the AMQP
    arguments ``x-message-ttl`` and ``x-expires`` in milliseconds. Raises
    ``ValueError`` for exclusive and durable together, which Celery refuses too.
    """
    if exclusive and durable:
        raise ValueError("an event queue cannot be both exclusive and durable")
    return Queue(
        f"{prefix}.{node_id}", exchange=exchange, routing_key=routing_key,
        auto_delete=not durable, durable=durable, exclusive=exclusive,
        message_ttl=ttl or None, expires=expires or None,
    )


def amqp_queue_arguments(queue: Queue) -> dict[str, Any]:
    """The ``x-*`` arguments a queue is declared with on RabbitMQ (``x-message-ttl`` etc.)."""
    from kombu.transport.base import to_rabbitmq_queue_arguments

    return to_rabbitmq_queue_arguments(dict(queue.queue_arguments or {}), expires=queue.expires,
                                       message_ttl=queue.message_ttl)


def software_info() -> dict[str, str]:
    """``sw_ident``, ``sw_ver`` and ``sw_sys`` of this worker."""
    from tuiq import __version__

    return {"sw_ident": SW_IDENT, "sw_ver": __version__, "sw_sys": platform.system()}


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load, rounded up to 2 decimals as Celery rounds it."""
    try:
        loads = os.getloadavg()
    except OSError:
        return [0.0, 0.0, 0.0]
    return [math.ceil(value * 100) / 100 for value in loads]
