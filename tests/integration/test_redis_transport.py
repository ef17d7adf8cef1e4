"""tuiq's Redis transport keeps kombu's unacked bookkeeping, batched, with batch fetches."""

from __future__ import annotations

import redis
from kombu import Connection, Consumer, Exchange, Producer, Queue

from tests.support.brokers import REDIS_URL, require_port, unique
from tuiq.transport import enable_batching, flush
from tuiq.transport.redis import Transport

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


def test_batch_fetch_is_bounded_by_prefetch_and_recorded_as_unacked():
    name = unique("tq-transport")
    queue = _publish(name, 10)
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    received = []
    with _connection() as connection:
        channel = connection.default_channel
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
