"""The machine's floor for a task round trip on Redis, with no task framework at all.

Used by ``bench.roundtrip`` (the ``floor`` entry): the same hops as a real
round trip, each done the cheapest way redis-py allows. The client subscribes
to the result channel, LPUSHes a task id and GETs the result key (as both
engines' ``get()`` do); a "main process" BRPOPs the id and writes it down a
pipe to a forked "pool process", which stores a JSON result with SETEX plus
PUBLISH in one pipeline; the client returns once the PUBLISH arrives.

No serialisation, routing, acknowledgement or bookkeeping: what is left is
loopback and scheduler latency, so no engine can be much faster than this.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from bench.common import ROOT, median, percentile, redis_client

_ID_BYTES = 36
_STOP = "stop".ljust(_ID_BYTES)


def _pool_process(read_fd: int, backend_url: str) -> None:
    backend = redis_client(backend_url)
    with os.fdopen(read_fd, "rb", buffering=0) as jobs:
        while True:
            raw = jobs.read(_ID_BYTES)
            if not raw or raw.decode() == _STOP:
                return
            task_id = raw.decode()
            key = f"celery-task-meta-{task_id}"
            payload = json.dumps({"status": "SUCCESS", "result": None, "task_id": task_id})
            pipe = backend.pipeline(transaction=False)
            pipe.set(key, payload, ex=3600)
            pipe.publish(key, payload)
            pipe.execute()


def _main_process(broker_url: str, backend_url: str, queue: str) -> None:
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(write_fd)
        try:
            _pool_process(read_fd, backend_url)
        finally:
            os._exit(0)
    os.close(read_fd)
    broker = redis_client(broker_url)
    while True:
        _, raw = broker.brpop([queue])
        task_id = raw.decode()
        os.write(write_fd, task_id.ljust(_ID_BYTES).encode())
        if task_id == "stop":
            os.close(write_fd)
            os.waitpid(child, 0)
            return


def measure_floor(broker_url: str, backend_url: str, n: int, warmup: int) -> dict[str, Any]:
    """Round trips through the raw pipeline above; milliseconds, as ``bench.roundtrip``."""
    queue = f"rt-floor-{uuid.uuid4().hex[:8]}"
    # Its own interpreter: forking this process, which has run client threads,
    # could copy a lock some thread held.
    main = subprocess.Popen([sys.executable, "-m", "bench.roundtrip_floor", broker_url,
                             backend_url, queue], cwd=str(ROOT))
    broker, backend = redis_client(broker_url), redis_client(backend_url)
    subscriber = backend.pubsub(ignore_subscribe_messages=True)
    totals: list[float] = []
    keys: list[str] = []
    try:
        for index in range(warmup + n):
            task_id = str(uuid.uuid4())
            key = f"celery-task-meta-{task_id}"
            started = time.perf_counter()
            subscriber.subscribe(key)
            broker.lpush(queue, task_id)
            if backend.get(key) is None:
                deadline = started + 10
                while True:
                    # None also stands for a (skipped) subscribe confirmation.
                    message = subscriber.get_message(timeout=1)
                    if message is not None and message["type"] == "message":
                        break
                    if time.perf_counter() > deadline:
                        raise TimeoutError("the floor pipeline stopped answering")
            subscriber.unsubscribe(key)
            elapsed = (time.perf_counter() - started) * 1000
            keys.append(key)
            if index >= warmup:
                totals.append(elapsed)
    finally:
        broker.lpush(queue, "stop")
        try:
            main.wait(timeout=10)
        except subprocess.TimeoutExpired:
            main.kill()
        subscriber.close()
        broker.delete(queue)
        if keys:
            backend.delete(*keys)
    return {
        "median_ms": round(median(totals), 3),
        "p99_ms": round(percentile(totals, 99), 3),
        "mean_ms": round(statistics.fmean(totals), 3),
        "min_ms": round(min(totals), 3),
    }


if __name__ == "__main__":
    _main_process(*sys.argv[1:4])
