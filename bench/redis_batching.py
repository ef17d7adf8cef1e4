"""The floor of consuming from Redis: kombu's per-message path vs batched fetch and acks.

    python -m bench.redis_batching [--n 5000] [--batches 1,8,32]

No worker and no pool: one process fills a list with ``--n`` real task messages (as
tuiq's client publishes them) and consumes them, measuring the consuming side's CPU time
(``time.process_time``) and wall time per message:

* ``kombu``: a kombu ``Consumer`` on the Redis transport, ``drain_events`` and
  ``message.ack()`` per message: BRPOP, then MULTI/ZADD/HSET/EXEC on delivery and
  MULTI/ZREM/HDEL/EXEC on ack, each transaction through a fresh ``redis.Redis`` client.
  This is what both workers' main processes pay today (DESIGN.md section 8).
* ``batch<K>``: one Lua script pops up to K messages and records each in kombu's unacked
  hash and index atomically (one round trip, and no window where a popped message is in
  neither the list nor the unacked hash), JSON-decodes them, then acks all K in one
  pipeline of ZREM/HDEL, on one long-lived client.

Prints one JSON object: µs of CPU and of wall time per message for each strategy.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from bench.common import (
    broker_urls,
    client_app,
    close_app,
    emit,
    note,
    redis_client,
    unique,
)

# Pop up to ARGV[1] messages from KEYS[1]; store each in the unacked hash (KEYS[2]) and
# index (KEYS[3]) under a fresh delivery tag, as kombu does; return tag/payload pairs.
_FETCH = """
local out = {}
local now = tonumber(ARGV[2])
for i = 1, tonumber(ARGV[1]) do
  local payload = redis.call('RPOP', KEYS[1])
  if not payload then break end
  local tag = ARGV[3] .. ':' .. redis.call('INCR', KEYS[4])
  redis.call('HSET', KEYS[2], tag, payload)
  redis.call('ZADD', KEYS[3], now, tag)
  out[#out + 1] = tag
  out[#out + 1] = payload
end
return out
"""


def fill(client, key: str, payload: bytes, n: int) -> None:
    """Push ``n`` copies of ``payload`` onto ``key``."""
    pipe = client.pipeline(transaction=False)
    for start in range(0, n, 1000):
        pipe.lpush(key, *([payload] * min(1000, n - start)))
    pipe.execute()


def sample_payload(broker: str, backend: str, queue: str) -> bytes:
    """One real task message as tuiq's client puts it on the list."""
    app, task = client_app("tuiq", broker, backend)
    try:
        task.apply_async(queue=queue, ignore_result=True)
    finally:
        close_app("tuiq", app)
    client = redis_client(broker)
    try:
        payload = client.rpop(queue)
    finally:
        client.close()
    if payload is None:
        raise RuntimeError("no message published")
    return payload


def consume_kombu(broker: str, queue: str, n: int) -> tuple[float, float]:
    """kombu's path: ``(cpu s, wall s)`` to consume and ack ``n`` messages."""
    from kombu import Connection
    from kombu import Consumer as KombuConsumer
    from kombu import Queue as KombuQueue

    done = 0

    def on_message(message) -> None:
        nonlocal done
        message.decode()
        message.ack()
        done += 1

    with Connection(broker) as conn:
        channel = conn.channel()
        channel.basic_qos(0, 8, False)
        consumer = KombuConsumer(channel, [KombuQueue(queue)], on_message=on_message,
                                 no_ack=False, auto_declare=False)
        consumer.consume()
        cpu, wall = time.process_time(), time.perf_counter()
        while done < n:
            conn.drain_events(timeout=5)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        consumer.cancel()
    return cpu, wall


def consume_batched(broker: str, queue: str, n: int, batch: int) -> tuple[float, float]:
    """Batched fetch (Lua) and grouped acks: ``(cpu s, wall s)``."""
    client = redis_client(broker)
    fetch = client.register_script(_FETCH)
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    keys = [queue, f"{prefix}.unacked", f"{prefix}.unacked_index", f"{prefix}.tags"]
    done = 0
    cpu, wall = time.process_time(), time.perf_counter()
    while done < n:
        items = fetch(keys=keys, args=[batch, int(time.time()), prefix])
        if not items:
            continue
        tags = items[0::2]
        for payload in items[1::2]:
            json.loads(payload)
        pipe = client.pipeline(transaction=True)
        pipe.zrem(keys[2], *tags)
        pipe.hdel(keys[1], *tags)
        pipe.execute()
        done += len(tags)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    client.delete(*keys[1:])
    client.close()
    return cpu, wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--broker", choices=("redis", "embedded"), default="redis")
    args = parser.parse_args(argv)
    broker, backend = broker_urls(args.broker)
    queue = unique("floor")
    payload = sample_payload(broker, backend, queue)
    client = redis_client(broker)
    results: dict[str, Any] = {}
    try:
        strategies = [("kombu", None)] + [(f"batch{k}", int(k))
                                          for k in args.batches.split(",") if k.strip()]
        for name, batch in strategies:
            fill(client, queue, payload, args.n)
            note(f"{name}: consuming {args.n}")
            if batch is None:
                cpu, wall = consume_kombu(broker, queue, args.n)
            else:
                cpu, wall = consume_batched(broker, queue, args.n, batch)
            results[name] = {"cpu_us_per_msg": round(cpu / args.n * 1e6, 1),
                             "wall_us_per_msg": round(wall / args.n * 1e6, 1)}
    finally:
        client.delete(queue)
        client.close()
    emit({"benchmark": "redis_batching", "broker": args.broker, "n": args.n,
          "message_bytes": len(payload), "strategies": results})


if __name__ == "__main__":
    main()
