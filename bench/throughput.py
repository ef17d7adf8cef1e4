"""Throughput of no-op tasks: tuiq vs Celery, prefork c=2, per broker, live and prefilled.

    python -m bench.throughput [--n 5000] [--brokers redis,rabbitmq,embedded]
                               [--modes live,prefilled] [--results ignore|store]
                               [--worker-args "-E"]

Modes:

* ``live``: the worker is already consuming; the clock runs from the first publish until
  the last result is stored (so the publisher runs concurrently on the same 2 cores).
* ``prefilled``: all messages are published first, then the worker starts; the clock
  runs from the first stored result (a marker task at the head of the queue, finished
  right after the worker is ready) to the last.

Completion (``--results``):

* ``ignore`` (default): ``bench.noop`` is sent with ``ignore_result=True``; one marker
  ``bench.noop`` at the end (and, prefilled, one at the head) stores a result, and the
  clock stops when it is stored.
* ``store``: every task stores its result; the clock stops at the N-th stored result.

Stored results are observed through the PUBLISH both engines do on ``celery-task-meta-<id>``
(subscribed by exact id). Each engine publishes with its own client; the publisher app has
no result backend, so Celery's client does not subscribe to every task.

``--worker-args`` adds options to both engines' worker command lines (e.g. ``-E`` to
measure what task events cost).

Prints one JSON object: per broker and mode, tasks/s for tuiq and Celery and the ratio
tuiq/celery, plus CPU per task of each worker's main process and pool children.
"""

from __future__ import annotations

import argparse
import shlex
import time
import uuid
from typing import Any

from bench.common import (
    ENGINES,
    broker_urls,
    client_app,
    close_app,
    cpu_seconds,
    delete_queue,
    delete_results,
    emit,
    median,
    note,
    parse_list,
    ratio,
    start_worker,
    unique,
)

BROKERS = ("redis", "rabbitmq", "embedded")
MODES = ("live", "prefilled")


def queue_depth(broker: str, queue: str) -> int | None:
    """Messages waiting in ``queue`` (passive declare)."""
    from kombu import Connection
    from kombu import Queue as KombuQueue

    try:
        with Connection(broker) as conn:
            declared = KombuQueue(queue, channel=conn.default_channel).queue_declare(passive=True)
            return declared.message_count if declared is not None else None
    except Exception:  # noqa: BLE001 - informational only
        return None


def publish(task, queue: str, noop_ids: list[str], head: list[str], tail: list[str],
            ignore: bool) -> float:
    """Send markers at ``head``, the no-ops, markers at ``tail``; returns seconds taken."""
    started = time.perf_counter()
    for task_id in head:
        task.apply_async(task_id=task_id, queue=queue)
    if ignore:
        for task_id in noop_ids:
            task.apply_async(task_id=task_id, queue=queue, ignore_result=True)
    else:
        for task_id in noop_ids:
            task.apply_async(task_id=task_id, queue=queue)
    for task_id in tail:
        task.apply_async(task_id=task_id, queue=queue)
    return time.perf_counter() - started


def rabbitmq_cpu() -> float | None:
    """CPU seconds of the local RabbitMQ server (``beam.smp`` processes), or None."""
    from pathlib import Path

    from bench.common import cpu_seconds

    total, found = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "beam.smp":
                total += cpu_seconds(int(entry.name))
                found = True
        except OSError:
            continue
    return total if found else None


def redis_cpu(url: str) -> float | None:
    """CPU seconds the broker server used so far (Redis ``INFO cpu``, RabbitMQ's beam)."""
    if url.startswith("amqp"):
        return rabbitmq_cpu()
    if not url.startswith(("redis", "valkey")):
        return None
    from bench.common import redis_client

    client = redis_client(url)
    try:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    finally:
        client.close()


def redis_commands(url: str) -> dict[str, int] | None:
    """Calls per command so far (``INFO commandstats``), or None for non-Redis brokers."""
    if not url.startswith(("redis", "valkey")):
        return None
    from bench.common import redis_client

    client = redis_client(url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def command_delta(before: dict[str, int] | None, after: dict[str, int] | None,
                  tasks: int) -> dict[str, float] | None:
    """Commands per task between two snapshots, largest first (the whole server counts)."""
    if before is None or after is None:
        return None
    per_task = {name: (calls - before.get(name, 0)) / tasks for name, calls in after.items()}
    per_task = {name: round(value, 2) for name, value in
                sorted(per_task.items(), key=lambda item: -item[1]) if value >= 0.05}
    return {"total": round(sum(per_task.values()), 2), **per_task}


def tree_cpu(pids: list[int]) -> tuple[float, float]:
    """``(main process CPU s, children CPU s)``."""
    main = cpu_seconds(pids[0])
    return main, sum(cpu_seconds(pid) for pid in pids[1:])


def run_one(engine: str, kind: str, mode: str, n: int, results: str,
            timeout: float, worker_args: list[str] | None = None) -> dict[str, Any]:
    """One measurement; returns rate and diagnostics."""
    from bench.common import ResultWatcher

    broker, backend = broker_urls(kind)
    queue = unique(f"tp-{engine}")
    app, task = client_app(engine, broker, None)
    ignore = results == "ignore"
    noop_ids = [str(uuid.uuid4()) for _ in range(n)]
    head = [str(uuid.uuid4())] if ignore and mode == "prefilled" else []
    tail = [str(uuid.uuid4())] if ignore else []
    watched = head + tail if ignore else noop_ids
    worker = None
    watcher = ResultWatcher(backend, watched)
    out: dict[str, Any] = {}
    try:
        if mode == "live":
            worker = start_worker(engine, broker, backend, queue, ready_app=app,
                                  extra=worker_args or ())
            time.sleep(0.3)  # let start-up work (children, first polls) settle
            pids = worker.tree()
            cpu0 = tree_cpu(pids)
            server0 = redis_cpu(broker)
            commands0 = redis_commands(broker)
            t0 = time.perf_counter()
            out["publish_s"] = round(publish(task, queue, noop_ids, head, tail, ignore), 3)
            if not watcher.wait(timeout):
                raise RuntimeError(f"timed out with {watcher.count}/{watcher.expected} "
                                   f"results:\n{worker.log()[-2000:]}")
            elapsed = watcher.times[-1] - t0
            done = n
        else:
            out["publish_s"] = round(publish(task, queue, noop_ids, head, tail, ignore), 3)
            out["queued"] = queue_depth(broker, queue)
            worker = start_worker(engine, broker, backend, queue, extra=worker_args or ())
            deadline = time.monotonic() + 30
            while not watcher.count and time.monotonic() < deadline:
                worker.check_alive()
                time.sleep(0.001)
            pids = worker.tree()
            cpu0 = tree_cpu(pids)  # CPU from the first stored result on
            server0 = redis_cpu(broker)
            commands0 = redis_commands(broker)
            if not watcher.wait(timeout):
                raise RuntimeError(f"timed out with {watcher.count}/{watcher.expected} "
                                   f"results:\n{worker.log()[-2000:]}")
            elapsed = watcher.times[-1] - watcher.times[0]
            done = n + 1 if ignore else n - 1
            spawn_perf = worker.spawned - time.monotonic() + time.perf_counter()
            out["spawn_to_first_result_s"] = round(watcher.times[0] - spawn_perf, 3)
        cpu1 = tree_cpu(pids)
        server1 = redis_cpu(broker)
        commands1 = redis_commands(broker)
        out["rate"] = round(done / elapsed, 1)
        out["elapsed_s"] = round(elapsed, 3)
        out["main_cpu_us_per_task"] = round((cpu1[0] - cpu0[0]) / done * 1e6, 1)
        out["children_cpu_us_per_task"] = round((cpu1[1] - cpu0[1]) / done * 1e6, 1)
        if server0 is not None and server1 is not None:
            # The whole server: the publisher's work (live) and results count too.
            out["broker_cpu_us_per_task"] = round((server1 - server0) / done * 1e6, 1)
            out["broker_commands_per_task"] = command_delta(commands0, commands1, done)
    finally:
        watcher.close()
        if worker is not None:
            worker.stop()
        close_app(engine, app)
        delete_queue(broker, queue)
        delete_results(backend, noop_ids + head + tail)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="tasks per measurement")
    parser.add_argument("--brokers", default=",".join(BROKERS))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--results", choices=("ignore", "store"), default="ignore")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measurements per cell; the median rate is reported")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--worker-args", default="",
                        help="extra worker options for both engines, e.g. '-E'")
    args = parser.parse_args(argv)
    worker_args = shlex.split(args.worker_args)
    brokers = parse_list(args.brokers, BROKERS)
    modes = parse_list(args.modes, MODES)
    engines = parse_list(args.engines, ENGINES)
    report: dict[str, Any] = {
        "benchmark": "throughput", "n": args.n, "results": args.results,
        "pool": "prefork", "concurrency": 2, "unit": "tasks/s", "brokers": {},
        "worker_args": worker_args,
    }
    for kind in brokers:
        per_mode: dict[str, Any] = {}
        for mode in modes:
            cell: dict[str, Any] = {}
            for engine in engines:
                runs = []
                for attempt in range(args.repeat):
                    note(f"{kind} {mode} {engine} run {attempt + 1}/{args.repeat} n={args.n}")
                    result = run_one(engine, kind, mode, args.n, args.results, args.timeout,
                                     worker_args)
                    note(f"  -> {result['rate']} tasks/s")
                    runs.append(result)
                rates = [r["rate"] for r in runs]
                best = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]
                cell[engine] = round(median(rates), 1)
                cell[f"{engine}_detail"] = {**best, "runs": rates} if args.repeat > 1 else best
            if "tuiq" in cell and "celery" in cell:
                cell["ratio"] = ratio(cell["tuiq"], cell["celery"])
            per_mode[mode] = cell
        report["brokers"][kind] = per_mode
    emit(report)


if __name__ == "__main__":
    main()
