"""tuiq's AMQP transport groups acks without ever acking a message still outstanding."""

from __future__ import annotations

from kombu import Connection, Consumer, Exchange, Producer, Queue

from tests.support.brokers import AMQP_URL, require_port, unique
from tuiq.transport import enable_batching, flush
from tuiq.transport.amqp import Transport


def _connection() -> Connection:
    require_port("127.0.0.1", 5672, "RabbitMQ")
    connection = Connection(AMQP_URL)
    connection.transport_cls = Transport
    return connection


def test_multiple_ack_covers_only_the_leading_acked_run():
    name = unique("tq-amqp")
    queue = Queue(name, Exchange(name, "direct"), routing_key=name, auto_delete=False)
    with Connection(AMQP_URL) as connection:
        producer = Producer(connection.default_channel)
        for index in range(6):
            producer.publish({"n": index}, exchange=queue.exchange, routing_key=name,
                             declare=[queue], serializer="json")
    received = []
    with _connection() as connection:
        channel = connection.default_channel
        enable_batching(channel)
        channel.basic_qos(0, 5, False)
        consumer = Consumer(channel, [queue], on_message=received.append, accept=["json"])
        consumer.consume()
        while len(received) < 5:
            connection.drain_events(timeout=5)
        by_number = {m.decode()["n"]: m for m in received}
        for number in (0, 1, 2, 4):
            by_number[number].ack()
        assert channel._pending_acks, "acks are held until the flush"
        flush(channel)
        assert not channel._pending_acks
        assert list(channel._outstanding) == [by_number[3].delivery_tag]
        consumer.cancel()
    # Closing returned the one unacked message; the sixth was never delivered.
    with Connection(AMQP_URL) as connection:
        bound = queue(connection.default_channel)
        _, message_count, _ = bound.queue_declare(passive=True)
        assert message_count == 2
        left = sorted(bound.get(no_ack=True).decode()["n"] for _ in range(2))
        assert left == [3, 5]
        bound.delete()
