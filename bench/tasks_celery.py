"""The Celery benchmark app: the same no-op task as :mod:`bench.tasks_tuiq`, ``bench.noop``.

Broker and result backend come from ``BENCH_BROKER_URL`` and ``BENCH_RESULT_BACKEND``.
"""

import os

from celery import Celery

app = Celery(
    "bench",
    broker=os.environ.get("BENCH_BROKER_URL") or None,
    backend=os.environ.get("BENCH_RESULT_BACKEND") or None,
)
app.conf.broker_connection_retry_on_startup = True


@app.task(name="bench.noop")
def noop():
    return None


@app.task(name="bench.stamp")
def stamp():
    """The wall-clock time the task body ran (for latency breakdowns)."""
    import time

    return time.time()
