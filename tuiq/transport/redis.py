"""kombu's Redis transport with cheaper bookkeeping, byte-compatible on the wire.

kombu records every delivered message in the ``unacked`` hash and index, and
removes it again on ack, each time in its own transaction on a freshly built
redis client. Here the client is built once per channel, and the bookkeeping
of one event-loop pass (deliveries and acks) goes out as one pipeline when the
worker calls :func:`flush`. Keys, values and restore behaviour stay kombu's,
so Celery workers and tuiq workers can share queues and restore each other's
messages.
"""

from __future__ import annotations

import json
import logging
from queue import Empty
from time import time
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps, loads

logger = logging.getLogger("tuiq.worker")


class QoS(kombu_redis.QoS):
    """Unacked bookkeeping batched per loop pass, once the owner turns ``batching`` on.

    Off by default, so a consumer that never calls :func:`tuiq.transport.flush`
    behaves exactly like kombu's; the worker turns it on for its task channel.
    """

    batching = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending_append: list[tuple[str, str]] = []
        self._pending_ack: list[str] = []

    def append(self, message, delivery_tag):
        """Record a delivery; written to Redis at the next flush when batching."""
        if not self.batching:
            return super().append(message, delivery_tag)
        delivery = message.delivery_info
        read = self.channel._delivering
        if read is not None and read[0] is message._raw:
            # The envelope as it was read: the same JSON value as re-encoding it,
            # which cost about 6 % of the worker's CPU.
            payload = (f"[{read[1]}, {json.dumps(delivery['exchange'])}, "
                       f"{json.dumps(delivery['routing_key'])}]")
        else:
            payload = dumps([message._raw, delivery["exchange"], delivery["routing_key"]])
        self._pending_append.append((delivery_tag, payload))
        virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag):
        """Acknowledge; the Redis bookkeeping is removed at the next flush when batching."""
        if not self.batching:
            return super().ack(delivery_tag)
        self._pending_ack.append(delivery_tag)
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        """Reject: requeue restores at once (after a flush), otherwise as an ack."""
        self.flush()
        super().reject(delivery_tag, requeue=requeue)

    def flush(self) -> None:
        """Write pending deliveries and acks in one pipeline."""
        appends, acks = self._pending_append, self._pending_ack
        if not appends and not acks:
            return
        acked = set(acks)
        # Delivered and acked within one pass: nothing to record.
        record = {tag: payload for tag, payload in appends if tag not in acked}
        recorded = {tag for tag, _ in appends}
        forget = [tag for tag in acks if tag not in recorded]
        if record or forget:
            with self.channel.conn_or_acquire() as client:
                # One command per key and kind, whatever the number of messages:
                # two commands per message made this pipeline a fifth of the worker's CPU.
                pipe = client.pipeline()
                if record:
                    now = time()
                    pipe.zadd(self.unacked_index_key, dict.fromkeys(record, now))
                    pipe.hset(self.unacked_key, mapping=record)
                if forget:
                    pipe.zrem(self.unacked_index_key, *forget)
                    pipe.hdel(self.unacked_key, *forget)
                pipe.execute()
        # Cleared only once written: after a failed write the next flush retries.
        self._pending_append, self._pending_ack = [], []

    def restore_unacked(self, client=None):
        """Flush first, so nothing acked is restored, then restore the rest."""
        self.flush()
        return super().restore_unacked(client)

    def restore_by_tag(self, tag, client=None, leftmost=False):
        """Make sure the message is recorded before restoring it."""
        self.flush()
        return super().restore_by_tag(tag, client=client, leftmost=leftmost)


#: Upper bound of messages taken in one extra fetch when prefetch is unlimited.
MAX_BATCH = 64


class Channel(kombu_redis.Channel):
    """A Redis channel that reuses one client and fetches several messages per wake-up.

    kombu takes one message per ``BRPOP``. When that returns, the queue is
    likely to hold more, so the channel takes up to its spare prefetch capacity
    with one ``RPOP key count``; each message then goes through the normal
    delivery path (and the batched unacked bookkeeping).
    """

    QoS = QoS
    #: ``(envelope, its JSON text)`` while ``_deliver_raw`` delivers it, for ``QoS.append``.
    _delivering: tuple[dict[str, Any], str] | None = None

    def _brpop_read(self, **options):
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP",
                                                        **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            raw_key, item = dest__item
            dest = bytes_to_str(raw_key).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)
            self._deliver_raw(item, dest)
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()
        self._fetch_more(raw_key, dest)
        return True

    def _spare_capacity(self) -> int:
        qos = self.qos
        prefetch = qos.prefetch_count
        if not prefetch:
            return MAX_BATCH
        unacked = len(qos._delivered) - len(qos._dirty)
        return min(prefetch - unacked, MAX_BATCH)

    def _fetch_more(self, raw_key, dest: str) -> None:
        spare = self._spare_capacity()
        if spare <= 0 or dest not in self._active_queues:
            return
        with self.conn_or_acquire() as client:
            items = client.rpop(raw_key, spare)
        for item in items or ():
            self._deliver_raw(item, dest)

    def _deliver_raw(self, item: bytes, dest: str) -> None:
        """Deliver one popped envelope; one that is not JSON is dropped, not fatal."""
        try:
            text = bytes_to_str(item)
            payload = loads(text)
        except (ValueError, TypeError) as exc:
            logger.error("Dropped a message from %s that is not a kombu envelope: %r (%r)",
                         dest, item[:200], exc)
            return
        self._delivering = (payload, text)
        try:
            self.connection._deliver(payload, dest)
        finally:
            self._delivering = None

    def _create_client(self, asynchronous=False):
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        cached = self.__dict__.get("_tuiq_client")
        if cached is None or cached[0] is not pool:
            cached = (pool, super()._create_client(asynchronous=False))
            self.__dict__["_tuiq_client"] = cached
        return cached[1]


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel
