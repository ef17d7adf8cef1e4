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

import functools
import json
import logging
import os
from queue import Empty
from time import monotonic, time
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils import json as kombu_json
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import dumps

from tuiq.transport.resp import pack_command, pack_commands

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
            # One command per key and kind, whatever the number of messages:
            # two commands per message made this write a fifth of the worker's CPU.
            # No MULTI/EXEC (kombu's): the commands go in one write and are run in
            # order, and kombu's restore skips an index entry whose hash entry is
            # missing, which is all a half-applied write can leave (index first
            # when recording, hash first when forgetting).
            commands: list[tuple[Any, ...]] = []
            if record:
                now = time()
                commands.append(("ZADD", self.unacked_index_key,
                                 *(value for tag in record for value in (now, tag))))
                commands.append(("HSET", self.unacked_key,
                                 *(value for item in record.items() for value in item)))
            if forget:
                commands.append(("HDEL", self.unacked_key, *forget))
                commands.append(("ZREM", self.unacked_index_key, *forget))
            self.channel.run_commands(commands)
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


#: kombu's ``loads`` builds a decoder for every message; one with the same hook does.
_decode_envelope = json.JSONDecoder(object_hook=kombu_json.object_hook).decode

#: Upper bound of messages taken in one extra fetch when prefetch is unlimited.
MAX_BATCH = 64


def lean_handshake() -> dict[str, Any]:
    """redis-py connection options for a shorter handshake that names tuiq.

    * redis-py 8 asks every new RESP3 connection for ``CLIENT MAINT_NOTIFICATIONS``,
      which servers other than Redis 8 refuse: a round trip and an exception per
      connection, for notifications of cluster moves tuiq does not act on. Left out.
    * redis-py looks its own version up in the installed packages' metadata for
      every connection it makes (about a millisecond each, several per worker
      start); one driver description is shared instead, and ``CLIENT LIST`` shows
      ``lib-name=redis-py(tuiq_v<version>)``.
    """
    options: dict[str, Any] = {}
    try:
        from redis.maint_notifications import MaintNotificationsConfig
    except ImportError:  # redis-py before 7: no such handshake
        pass
    else:
        options["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
    driver = _driver_info()
    if driver is not None:
        options["driver_info"] = driver
    return options


@functools.cache
def _driver_info() -> Any:
    """One ``DriverInfo`` naming redis-py and tuiq, or None before redis-py 7."""
    try:
        from redis.driver_info import DriverInfo
    except ImportError:
        return None
    from tuiq import __version__

    return DriverInfo(lib_version=redis.__version__).add_upstream_driver("tuiq", __version__)


def server_has_blmpop(redis_version: str) -> bool:
    """Whether a server reporting ``redis_version`` has BLMPOP (added in Redis 7.0).

    Valkey reports the Redis version it is compatible with (7.2.4).
    """
    try:
        return int(redis_version.split(".", 1)[0]) >= 7
    except ValueError:
        return False


class SSLConnection(redis.SSLConnection):
    """redis-py's TLS connection, with the TLS handshake bounded by the connect timeout.

    redis-py shakes hands after the TCP connect on a socket without a timeout
    (unless ``socket_timeout`` is set): a ``rediss://`` URL pointing at a
    plain-text port would wait forever for the server's hello.
    """

    def _wrap_socket_with_ssl(self, sock):
        sock.settimeout(self.socket_connect_timeout)
        wrapped = super()._wrap_socket_with_ssl(sock)
        wrapped.settimeout(self.socket_timeout)
        return wrapped


class Channel(kombu_redis.Channel):
    """A Redis channel that reuses one client and fetches several messages per wake-up.

    kombu takes one message per ``BRPOP``. Here one ``BLMPOP ... COUNT n`` takes
    up to the spare prefetch capacity per wake-up (servers without BLMPOP, before
    Redis 7: ``BRPOP``, then ``RPOP key count``); each message then goes through
    the normal delivery path (and the batched unacked bookkeeping).
    """

    QoS = QoS
    connection_class_ssl = SSLConnection
    #: ``(envelope, its JSON text)`` while ``_deliver_raw`` delivers it, for ``QoS.append``.
    _delivering: tuple[dict[str, Any], str] | None = None
    #: How many subscribers received the last fanout message (a broadcast), or None.
    fanout_receivers: int | None = None

    def _brpop_start(self, timeout=None):
        if not self._pops_many():
            return super()._brpop_start(timeout)
        if timeout is None:
            timeout = self.brpop_timeout
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        keys = [self._q_for_pri(queue, pri) for pri in self.priority_steps
                for queue in queues]
        self._in_poll = self.client.connection
        self._brpop_sent_at = monotonic()
        # BLMPOP scans the keys in order like BRPOP (priority, then queue) and
        # pops up to COUNT from the first non-empty one.
        self.client.connection.send_packed_command([pack_command(
            ("BLMPOP", timeout or 0, len(keys), *keys, "RIGHT", "COUNT",
             max(self._spare_capacity(), 1)))])

    def _pops_many(self) -> bool:
        """Whether the server has BLMPOP (Redis 7, Valkey): decided once per channel."""
        known = self.__dict__.get("_tuiq_pops_many")
        if known is None:
            known = False
            if not self.global_keyprefix:  # kombu's key prefixing knows only BRPOP
                known = server_has_blmpop(self._server_version())
            self.__dict__["_tuiq_pops_many"] = known
        return known

    def _server_version(self) -> str:
        """The server's version: from the RESP3 handshake if there was one, else INFO."""
        connection = self.client.connection
        if connection is not None and connection._sock is None:
            connection.connect()
        hello = getattr(connection, "handshake_metadata", None) or {}
        version = hello.get(b"version") or hello.get("version")
        if version:
            return version.decode() if isinstance(version, bytes) else str(version)
        try:
            return str(self._create_client().info("server").get("redis_version", ""))
        except self.connection_errors:
            raise
        except Exception:  # noqa: BLE001 - a server that cannot say: use BRPOP
            return ""

    def _brpop_read(self, **options):
        many = self._pops_many()
        try:
            try:
                reply = self.client.parse_response(
                    self.client.connection, "BLMPOP" if many else "BRPOP", **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            if not reply:
                raise Empty()
            raw_key, items = reply if many else (reply[0], [reply[1]])
            dest = bytes_to_str(raw_key).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)
            for item in items:
                self._deliver_raw(item, dest)
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()
        if not many:
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
        """After a BRPOP (servers without BLMPOP), take what the queue holds up to capacity."""
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
            payload = _decode_envelope(text)
        except (ValueError, TypeError) as exc:
            logger.error("Dropped a message from %s that is not a kombu envelope: %r (%r)",
                         dest, item[:200], exc)
            return
        self._delivering = (payload, text)
        try:
            self.connection._deliver(payload, dest)
        finally:
            self._delivering = None

    def _put(self, queue, message, **kwargs):
        """Deliver a message with one LPUSH on a connection the channel keeps.

        kombu's path (``Redis.lpush``) checks a connection out of the pool and
        back for every message, with a readiness poll each time: a third of a
        client's cost of sending a task. Batches and expiring queues keep kombu's path.
        """
        if kwargs.get("_publish_batch") is not None or (self._expires
                                                        and queue in self._expires):
            return super()._put(queue, message, **kwargs)
        priority = self._get_message_priority(message, reverse=False)
        self.run_commands([("LPUSH", self._q_for_pri(queue, priority), dumps(message))])

    def _put_fanout(self, exchange, message, routing_key, **kwargs):
        """Publish to a fanout exchange, keeping the count of receivers PUBLISH returns.

        A broadcast's sender then knows how many nodes got it, so it can stop
        waiting once that many have replied.
        """
        if kwargs.get("_publish_batch") is not None:
            self.fanout_receivers = None
            return super()._put_fanout(exchange, message, routing_key, **kwargs)
        payload = dumps(message)
        received = 0
        with self.conn_or_acquire() as client:
            for topic in self._get_publish_topics(exchange, routing_key):
                received += int(client.publish(topic, payload) or 0)
        self.fanout_receivers = received

    def run_commands(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Send ``commands`` in one write on the kept connection; their raw replies.

        The cheap form of a redis-py pipeline for the worker's own bookkeeping;
        on any error the connection is dropped, so no reply is left unread on it.
        """
        if self.global_keyprefix:
            prefix_args = self._create_client()._prefix_args
            commands = [prefix_args(command) for command in commands]
        connection = self._kept_connection()
        try:
            connection.send_packed_command([pack_commands(commands)])
            return [connection.read_response() for _ in commands]
        except BaseException:
            connection.disconnect()
            raise

    def _kept_connection(self):
        pool = self.pool
        kept = self.__dict__.get("_tuiq_kept")
        if kept is None or kept[0] is not pool or kept[1].pid != os.getpid():
            # A new pool (after a reconnect) or a forked process: never reuse the
            # parent's socket; the pool disconnects its connections on close.
            kept = (pool, pool.get_connection())
            self.__dict__["_tuiq_kept"] = kept
        return kept[1]

    def _connparams(self, asynchronous=False):
        params = super()._connparams(asynchronous=asynchronous)
        params.update(lean_handshake())
        if params.get("socket_connect_timeout") is None and "path" not in params:
            # kombu leaves the connection's ``connect_timeout`` to AMQP; without
            # it a blackholed host or a TLS hello that never comes waits forever.
            params["socket_connect_timeout"] = self.connection.client.connect_timeout
        return params

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
