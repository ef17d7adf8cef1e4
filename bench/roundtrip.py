"""Round-trip latency: sequential ``noop.delay().get()``, tuiq vs Celery, prefork c=2.

    python -m bench.roundtrip [--n 200] [--warmup 20] [--brokers redis,embedded] [--no-floor]

For each broker and engine a worker is started and left idle; the client (that engine's
own app, with the result backend configured) then sends one task and waits for its
result, ``--n`` times after ``--warmup`` unmeasured ones. Prints one JSON object with the
median, p99, mean and min in milliseconds (and the share spent in ``delay()``), and the
ratio tuiq/celery of the medians (lower is better). On Redis brokers it also measures the
machine's ``floor`` (``bench.roundtrip_floor``: the same hops with raw redis-py and no
framework), and ``floor_over_celery``: the lowest ratio any engine could reach here. A
second pass with ``bench.stamp`` (which returns the time its body ran) splits the median
into "send until the task body runs" and "task body until ``get()`` returns" (result
store, PUBLISH, client wake-up).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.common import (
    ENGINES,
    broker_urls,
    client_app,
    close_app,
    delete_queue,
    delete_results,
    emit,
    median,
    note,
    parse_list,
    percentile,
    ratio,
    start_worker,
    unique,
)
from bench.roundtrip_floor import measure_floor

BROKERS = ("redis", "embedded", "rabbitmq")


def measure(engine: str, kind: str, n: int, warmup: int) -> dict[str, Any]:
    """Start a worker, run the loop, stop the worker."""
    broker, backend = broker_urls(kind)
    queue = unique(f"rt-{engine}")
    app, task = client_app(engine, broker, backend)
    ids: list[str] = []
    worker = start_worker(engine, broker, backend, queue, ready_app=app)
    try:
        time.sleep(0.3)
        totals, sends = [], []
        for index in range(warmup + n):
            t0 = time.perf_counter()
            result = task.apply_async(queue=queue)
            t1 = time.perf_counter()
            result.get(timeout=10)
            t2 = time.perf_counter()
            ids.append(result.id)
            if index >= warmup:
                totals.append((t2 - t0) * 1000)
                sends.append((t1 - t0) * 1000)
        # Breakdown pass: bench.stamp returns when its body ran (same machine clock).
        to_body, from_body = [], []
        for _ in range(n):
            t0 = time.time()
            result = app.bench_stamp.apply_async(queue=queue)
            ran = result.get(timeout=10)
            t2 = time.time()
            ids.append(result.id)
            to_body.append((ran - t0) * 1000)
            from_body.append((t2 - ran) * 1000)
    finally:
        worker.stop()
        close_app(engine, app)
        delete_queue(broker, queue)
        delete_results(backend, ids)
    return {
        "median_ms": round(median(totals), 3),
        "p99_ms": round(percentile(totals, 99), 3),
        "mean_ms": round(statistics.fmean(totals), 3),
        "min_ms": round(min(totals), 3),
        "send_median_ms": round(median(sends), 3),
        "to_task_body_median_ms": round(median(to_body), 3),
        "task_body_to_result_median_ms": round(median(from_body), 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="measured round trips")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--brokers", default="redis,embedded")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the raw redis-py floor measurement")
    args = parser.parse_args(argv)
    brokers = parse_list(args.brokers, BROKERS)
    engines = parse_list(args.engines, ENGINES)
    report: dict[str, Any] = {
        "benchmark": "roundtrip", "n": args.n, "warmup": args.warmup, "pool": "prefork",
        "concurrency": 2, "call": "task.apply_async(queue=...).get()", "brokers": {},
    }
    for kind in brokers:
        cell: dict[str, Any] = {}
        for engine in engines:
            note(f"{kind} {engine}: {args.warmup} + {args.n} round trips")
            cell[engine] = measure(engine, kind, args.n, args.warmup)
            note(f"  -> median {cell[engine]['median_ms']} ms")
        if kind != "rabbitmq" and not args.no_floor:
            note(f"{kind} floor (raw redis-py): {args.warmup} + {args.n} round trips")
            cell["floor"] = measure_floor(*broker_urls(kind), args.n, args.warmup)
            note(f"  -> median {cell['floor']['median_ms']} ms")
        if "tuiq" in cell and "celery" in cell:
            cell["ratio_median"] = ratio(cell["tuiq"]["median_ms"], cell["celery"]["median_ms"])
            cell["ratio_p99"] = ratio(cell["tuiq"]["p99_ms"], cell["celery"]["p99_ms"])
        if "floor" in cell and "celery" in cell:
            cell["floor_over_celery"] = ratio(cell["floor"]["median_ms"],
                                              cell["celery"]["median_ms"])
        report["brokers"][kind] = cell
    emit(report)


if __name__ == "__main__":
    main()
