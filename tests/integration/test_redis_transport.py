"""tuiq's Redis transport keeps kombu's unacked bookkeeping, batched, with batch fetches."""

from __future__ import annotations

import os

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue

from tests.support.brokers import REDIS_URL, require_port, unique
from tuiq.transport import enable_batching, flush
from tuiq.transport.redis import Transport, server_has_blmpop

DB = 8


def _connection() -> Connection:
    require_port("127.0.0.1", 6379, "Redis")
    connection = Connection(f"{REDIS_URL}/{DB}")
    connection.transport_cls = Transport
    return connection


def _publish(name: str, count: int) -> Queue:
    queue = Queue(name, Exchange(name, "direct"), routing_key=name)
    with Connection(f"{REDIS_URL}/{DB}") as connection:
        producer = Producer(connection.default_channel)
        for index in range(count):
            producer.publish({"n": index}, routing_key=name, exchange=queue.exchange,
                             declare=[queue], serializer="json")
    return queue


def _fetch_with(channel, fetch: str) -> None:
    """Make ``channel`` fetch with ``BLMPOP`` or, as before Redis 7, ``BRPOP`` then ``RPOP``."""
    channel.__dict__["_tuiq_pops_many"] = fetch == "blmpop"


@pytest.mark.parametrize("fetch", ["blmpop", "brpop"])
def test_batch_fetch_is_bounded_by_prefetch_and_recorded_as_unacked(fetch):
    name = unique("tq-transport")
    queue = _publish(name, 10)
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    received = []
    with _connection() as connection:
        channel = connection.default_channel
        _fetch_with(channel, fetch)
        enable_batching(channel)
        channel.basic_qos(0, 4, False)
        consumer = Consumer(channel, [queue], on_message=received.append, accept=["json"])
        consumer.consume()
        connection.drain_events(timeout=2)
        flush(channel)
        assert len(received) == 4
        assert client.llen(name) == 6
        tags = {m.delivery_tag.encode() for m in received}
        assert tags <= set(client.hkeys("unacked"))
        for message in received[:3]:
            message.ack()
        flush(channel)
        remaining = tags & set(client.hkeys("unacked"))
        assert remaining == {received[3].delivery_tag.encode()}
        consumer.cancel()
    # Closing the channel restores what was delivered but never acked.
    assert client.llen(name) == 7
    assert not tags & set(client.hkeys("unacked"))
    client.delete(name)


def test_ack_in_the_same_pass_writes_no_bookkeeping():
    name = unique("tq-transport")
    queue = _publish(name, 1)
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    with _connection() as connection:
        channel = connection.default_channel
        enable_batching(channel)
        channel.basic_qos(0, 1, False)

        def ack_now(message):
            message.ack()

        consumer = Consumer(channel, [queue], on_message=ack_now, accept=["json"])
        consumer.consume()
        before = client.hlen("unacked")
        connection.drain_events(timeout=2)
        flush(channel)
        assert client.hlen("unacked") == before
        assert client.llen(name) == 0
        consumer.cancel()


def test_without_batching_acks_reach_redis_at_once():
    name = unique("tq-transport")
    queue = _publish(name, 1)
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    received = []
    with _connection() as connection:
        channel = connection.default_channel
        channel.basic_qos(0, 1, False)
        consumer = Consumer(channel, [queue], on_message=received.append, accept=["json"])
        consumer.consume()
        connection.drain_events(timeout=2)
        tag = received[0].delivery_tag.encode()
        assert tag in client.hkeys("unacked")
        received[0].ack()
        assert tag not in client.hkeys("unacked")
        consumer.cancel()


def test_the_server_here_is_fetched_from_with_blmpop():
    with _connection() as connection:
        channel = connection.default_channel
        assert channel._pops_many() is True


def test_blmpop_only_from_redis_7():
    assert server_has_blmpop("7.0.15")
    assert server_has_blmpop("7.2.4")  # Valkey reports this
    assert not server_has_blmpop("6.2.14")
    assert not server_has_blmpop("")


@pytest.mark.parametrize("fetch", ["blmpop", "brpop"])
def test_one_wake_up_takes_the_highest_priority_first(fetch):
    # On Redis, kombu's priority 0 is the highest.
    name = unique("tq-priority")
    queue = Queue(name, Exchange(name, "direct"), routing_key=name, max_priority=9)
    with Connection(f"{REDIS_URL}/{DB}") as connection:
        producer = Producer(connection.default_channel)
        for index, priority in enumerate([9, 0, 9, 0]):
            producer.publish({"n": index}, routing_key=name, exchange=queue.exchange,
                             declare=[queue], serializer="json", priority=priority)
    received = []
    with _connection() as connection:
        channel = connection.default_channel
        _fetch_with(channel, fetch)
        channel.basic_qos(0, 2, False)
        consumer = Consumer(channel, [queue], on_message=received.append, accept=["json"])
        consumer.consume()
        connection.drain_events(timeout=2)
        assert [m.payload["n"] for m in received] == [1, 3]
        for message in received:
            message.ack()
        consumer.cancel()
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    client.delete(name, *(f"{name}\x06\x16{step}" for step in (3, 6, 9)))


def test_publishing_after_a_fork_uses_a_connection_of_its_own():
    name = unique("tq-fork")
    queue = Queue(name, Exchange(name, "direct"), routing_key=name)
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    with _connection() as connection:
        producer = Producer(connection.default_channel)
        producer.publish({"n": "parent"}, routing_key=name, declare=[queue])
        kept = connection.default_channel._kept_connection()
        pid = os.fork()
        if pid == 0:  # the child publishes on the same channel object
            try:
                producer.publish({"n": "child"}, routing_key=name)
                ok = connection.default_channel._kept_connection() is not kept
            except BaseException:  # noqa: BLE001 - report any failure as the exit code
                ok = False
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        producer.publish({"n": "parent again"}, routing_key=name)
        assert connection.default_channel._kept_connection() is kept
    assert client.llen(name) == 3
    client.delete(name)


def test_a_global_key_prefix_applies_to_published_messages_and_bookkeeping():
    name = unique("tq-prefix")
    queue = Queue(name, Exchange(name, "direct"), routing_key=name)
    options = {"global_keyprefix": "pfx:"}
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    received = []
    with Connection(f"{REDIS_URL}/{DB}", transport_options=options) as connection:
        connection.transport_cls = Transport
        channel = connection.default_channel
        enable_batching(channel)
        Producer(channel).publish({"n": 1}, routing_key=name, declare=[queue])
        assert client.llen(f"pfx:{name}") == 1
        channel.basic_qos(0, 1, False)
        consumer = Consumer(channel, [queue], on_message=received.append, accept=["json"])
        consumer.consume()
        connection.drain_events(timeout=2)
        flush(channel)
        tag = received[0].delivery_tag.encode()
        assert tag in client.hkeys("pfx:unacked")
        received[0].ack()
        flush(channel)
        assert tag not in client.hkeys("pfx:unacked")
        consumer.cancel()
    assert client.llen(f"pfx:{name}") == 0


def test_the_server_version_comes_from_the_connection_handshake():
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    with _connection() as connection:
        channel = connection.default_channel
        assert channel._server_version() == client.info("server")["redis_version"]


def _asks_for_maintenance_notifications(connection) -> bool:
    # What redis-py 8 checks before sending CLIENT MAINT_NOTIFICATIONS on connect.
    config = getattr(connection, "maint_notifications_config", None)
    return bool(config and config.enabled)


def test_connections_skip_the_maintenance_notification_handshake():
    from tuiq.backends.redis import redis_client_from_url

    plain = redis.Redis.from_url(f"{REDIS_URL}/{DB}").connection_pool.get_connection()
    assert _asks_for_maintenance_notifications(plain)  # redis-py's default: "auto"
    with _connection() as connection:
        channel = connection.default_channel
        assert not _asks_for_maintenance_notifications(channel._kept_connection())
        assert not _asks_for_maintenance_notifications(
            channel.client.connection_pool.get_connection())
    backend = redis_client_from_url(f"{REDIS_URL}/{DB}")
    assert not _asks_for_maintenance_notifications(backend.connection_pool.get_connection())


def _client_info(connection) -> str:
    connection.send_command("CLIENT", "INFO")
    reply = connection.read_response()
    return reply.decode() if isinstance(reply, bytes) else reply


def test_connections_name_tuiq_to_the_server(embedded_url):
    # Valkey has CLIENT SETINFO (Redis 7.2 and later too; 7.0 refuses it quietly).
    from tuiq import __version__
    from tuiq.backends.redis import redis_client_from_url

    name = f"lib-name=redis-py(tuiq_v{__version__})"
    connection = Connection(embedded_url)
    connection.transport_cls = Transport
    with connection:
        kept = connection.default_channel._kept_connection()
        assert name in _client_info(kept)
    backend = redis_client_from_url(embedded_url)
    assert name in _client_info(backend.connection_pool.get_connection())


def test_the_connect_timeout_bounds_redis_connections():
    connection = Connection(f"{REDIS_URL}/{DB}", connect_timeout=2.5)
    connection.transport_cls = Transport
    with connection:
        assert connection.default_channel._connparams()["socket_connect_timeout"] == 2.5
    configured = Connection(f"{REDIS_URL}/{DB}", connect_timeout=2.5,
                            transport_options={"socket_connect_timeout": 7})
    configured.transport_cls = Transport
    with configured:
        assert configured.default_channel._connparams()["socket_connect_timeout"] == 7
