"""The floor of consuming from RabbitMQ: one ``basic_ack`` per message vs ``multiple=True``.

    python -m bench.amqp_batching [--n 20000] [--batches 1,8,32]

No worker and no pool: one process fills a queue with ``--n`` real task messages (as
tuiq's client publishes them) and consumes them with a kombu ``Consumer``
(``drain_events``, ``message.decode()``), acknowledging either each message
(``batch1``, what both workers do today) or every K-th delivery tag with
``multiple=True`` (``batch<K>``), with ``prefetch_count = max(8, 2K)``. It reports the
consumer's CPU (``time.process_time``) and the RabbitMQ server's (``beam.smp``) CPU per
message, and the wall time.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import AMQP_URL, REDIS_URL, RESULT_DB, client_app, close_app, emit, note, unique
from bench.throughput import rabbitmq_cpu


def fill(queue: str, n: int) -> None:
    """Publish ``n`` task messages with tuiq's client (declares the queue)."""
    app, task = client_app("tuiq", AMQP_URL, f"{REDIS_URL}/{RESULT_DB}")
    try:
        for _ in range(n):
            task.apply_async(queue=queue, ignore_result=True)
    finally:
        close_app("tuiq", app)


def consume(queue: str, n: int, batch: int) -> dict[str, Any]:
    """Consume ``n`` messages, acking every ``batch``-th with ``multiple=True``."""
    from kombu import Connection
    from kombu import Consumer as KombuConsumer
    from kombu import Queue as KombuQueue

    done = 0

    def on_message(message) -> None:
        nonlocal done
        message.decode()
        done += 1
        if batch == 1:
            message.ack()
        elif done % batch == 0 or done == n:
            message.channel.basic_ack(message.delivery_tag, multiple=True)

    with Connection(AMQP_URL) as conn:
        channel = conn.channel()
        channel.basic_qos(0, max(8, 2 * batch), False)
        consumer = KombuConsumer(channel, [KombuQueue(queue)], on_message=on_message,
                                 no_ack=False, auto_declare=False)
        consumer.consume()
        server = rabbitmq_cpu()
        cpu, wall = time.process_time(), time.perf_counter()
        while done < n:
            conn.drain_events(timeout=5)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        server_after = rabbitmq_cpu()
        consumer.cancel()
    out = {"cpu_us_per_msg": round(cpu / n * 1e6, 1),
           "wall_us_per_msg": round(wall / n * 1e6, 1)}
    if server is not None and server_after is not None:
        out["broker_cpu_us_per_msg"] = round((server_after - server) / n * 1e6, 1)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--batches", default="1,8,32")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    for batch in [int(k) for k in args.batches.split(",") if k.strip()]:
        queue = unique("amqpfloor")
        note(f"batch{batch}: filling and consuming {args.n}")
        fill(queue, args.n)
        try:
            results[f"batch{batch}"] = consume(queue, args.n, batch)
        finally:
            from bench.common import delete_queue

            delete_queue(AMQP_URL, queue)
    emit({"benchmark": "amqp_batching", "n": args.n, "strategies": results})


if __name__ == "__main__":
    main()
