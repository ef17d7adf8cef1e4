"""The tuiq benchmark app: one no-op task, ``bench.noop``.

Broker and result backend come from ``BENCH_BROKER_URL`` and ``BENCH_RESULT_BACKEND``
(``tuiq worker -b/--result-backend`` override them anyway).
"""

import os

from tuiq import App

app = App(
    "bench",
    broker=os.environ.get("BENCH_BROKER_URL") or None,
    backend=os.environ.get("BENCH_RESULT_BACKEND") or None,
)


@app.task(name="bench.noop")
def noop():
    return None


@app.task(name="bench.stamp")
def stamp():
    """The wall-clock time the task body ran (for latency breakdowns)."""
    import time

    return time.time()
