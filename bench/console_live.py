"""Console under live load: ``tuiq top`` fed by real ``-E`` workers at a paced event rate.

    python -m bench.console_live [--rate 5000] [--duration 20] [--broker redis]
                                 [--workers 2] [--concurrency 2] [--views nodes,tasks]
                                 [--warmup 3] [--max-queued 1] [--publish replay|client]

It checks the console's target, *no visible lag at 5,000 events/s from live workers*.
``--workers`` real ``tuiq worker -E`` subprocesses (prefork, ``-c --concurrency``) consume
one fresh queue; a headless ``TopApp`` (200×60, ``live=True``, same broker) runs its own
event receiver, inspect polls and 0.25 s tick; a thread of this process publishes
``bench.noop`` (``ignore_result``) at ``--rate / 3`` tasks/s, since each task makes the
worker send three task events (received, started, succeeded). Nothing is synthetic:
every event the console ingests was sent by a worker over the broker (the
synthetic-frame benchmark is ``console_frame.py``).

Publishing: ``apply_async`` costs about 0.5 ms of CPU per task on this machine, so one
thread tops out near 1,800 tasks/s on its own and near 1,000 next to the console: under
the 1,667 tasks/s that 5,000 events/s needs, and it would take most of a core from the
workers. By default (``--publish replay``) the thread therefore sends the client's own
message: one ``bench.noop`` is published with ``apply_async`` before the workers start,
taken back off the queue, and sent again with a fresh task id and delivery tag for each
task (on Redis many per ``LPUSH``, on RabbitMQ one ``basic_publish`` each): the same
bytes the client would send, at ~30 µs (Redis) or ~100 µs (RabbitMQ) each.
``--publish client`` calls ``apply_async`` per task instead. The publisher keeps its
schedule in 5 ms steps and never lets more than ``--max-queued`` seconds of tasks wait
in the queue: when the workers cannot keep up it holds back instead of burying them
(and the two cores) under messages they will not reach, so a rate short of the target
is the workers' ceiling, and the report says which side fell short.

Each view in ``--views`` is shown in turn for ``--duration`` seconds after ``--warmup``
seconds of load (the first view) or one second after the switch (the others). The
console's own code is not changed: a ``TopApp`` subclass times its ``tick`` and wraps its
``ClusterState.ingest`` per instance to note when each batch was applied. Per tick:

* **ingest lag**: when the tick had applied an event minus the event's ``local_received``
  (when the receiver thread handed it to the feed): how long it waited in the deque;
* **end-to-end lag**: the same instant minus the worker's ``timestamp`` (when the worker
  created the event; same machine, same clock), i.e. the worker's 10 ms batching, the
  broker, the receiver thread and the deque together;
* **backlog**: events left in the feed's deque when the tick returns, and the feed's
  ``dropped`` count (events discarded by its bounded deque);
* **tick CPU**: CPU time of the UI thread inside ``tick`` (drain, ingest, header and view
  refresh); Textual's paint of what changed runs later, outside the tick, and is timed
  apart (as in ``console_frame.py``, encoded to escape sequences as a terminal would get
  them, since headless apps skip that);
* the interval since the previous tick started (a busy UI loop delays the timer).

The achieved rate is the console's own count: ``cluster.events_seen`` over the window
(``events_per_s``); ``bench_events_per_s`` counts only the events of this run's nodes.
CPU of every thread of this process (UI loop, event receiver, publisher, inspect polls)
and of the workers' processes over the window says where the time goes.

Verdict (``no_visible_lag``, per view and overall): true when, over the window,

* the 95th percentile of the ingest lag is under **0.5 s**: the tick alone makes events
  wait up to 0.25 s by design, so 0.5 s allows that and one more tick of slippage, and
  is about where a refresh starts to feel behind the cluster rather than live;
* the end-to-end lag's 95th percentile is under **1.0 s**, so the receiver thread and the
  broker are not quietly falling behind before the deque (where the ingest lag cannot
  see it);
* nothing grows: no event was dropped, the median backlog of the last quarter of the
  ticks exceeds the first quarter's by less than one tick's worth of events (the median
  events per tick; what is left after a tick is only what arrived while it ran, so a
  console that keeps up stays flat), and the median per-tick end-to-end p95 of the last
  quarter is at most 0.25 s above the first quarter's.

If a view's window stays under 95 % of ``--rate``, ``target_rate_reached`` is false,
``highest_events_per_s`` is the best rate the console counted and ``rate_note`` says why
(the queue stayed full: the workers; the publisher fell behind its schedule: the
machine): the verdict then holds for the rate reached only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    broker_urls,
    client_app,
    close_app,
    cpu_seconds,
    delete_queue,
    emit,
    median,
    note,
    parse_list,
    percentile,
    redis_client,
    start_worker,
    unique,
)
from bench.console_frame import Stopwatch, watch_paint

SIZE = (200, 60)
BROKERS = ("redis", "rabbitmq", "embedded")
VIEWS = ("nodes", "tasks")
#: Task events a worker sends per no-op task (received, started, succeeded).
EVENTS_PER_TASK = 3
#: Verdict thresholds (seconds, events); the module docstring says why.
INGEST_P95_LIMIT = 0.5
E2E_P95_LIMIT = 1.0
E2E_GROWTH_LIMIT = 0.25
#: Most tasks sent in one go (the schedule is kept in 5 ms steps).
BURST = 64
#: A rate counts as reached at this share of the one asked for.
REACHED_SHARE = 0.95


# per-thread CPU ---------------------------------------------------------------------------
def thread_cpu() -> dict[str, float]:
    """CPU seconds of each thread of this process, by thread name (same names summed)."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    ticks = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        name = names.get(int(task.name), "other")
        totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return totals


def tree_cpu(pids: Sequence[int]) -> float:
    """CPU seconds used so far by ``pids`` together."""
    return sum(cpu_seconds(pid) for pid in pids)


# the publisher ------------------------------------------------------------------------------
class Sender:
    """Sends ``bench.noop`` messages to one queue and reads its depth (one thread only)."""

    def send(self, count: int) -> None:
        """Publish ``count`` tasks."""
        raise NotImplementedError

    def depth(self) -> int:
        """Messages waiting in the queue (0 while it does not exist)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connections."""


class ClientSender(Sender):
    """``apply_async`` per task: the client's ordinary path, and its cost."""

    def __init__(self, task: Any, broker_url: str, queue: str) -> None:
        from kombu import Connection

        self.task = task
        self.queue = queue
        self._redis = redis_client(broker_url) if _is_redis(broker_url) else None
        self._connection = None if self._redis is not None else Connection(broker_url)

    def send(self, count: int) -> None:
        apply_async, queue = self.task.apply_async, self.queue
        for _ in range(count):
            apply_async(queue=queue, ignore_result=True)

    def depth(self) -> int:
        if self._redis is not None:
            return int(self._redis.llen(self.queue))
        try:
            _, count, _ = self._connection.default_channel.queue_declare(self.queue,
                                                                         passive=True)
        except self._connection.channel_errors:
            # Not declared yet; AMQP closes the channel on that error, so take a new one.
            self._connection.release()
            return 0
        return int(count)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
        if self._connection is not None:
            self._connection.release()


class RedisReplay(Sender):
    """The client's own message for ``bench.noop``, sent again with fresh ids, many per LPUSH.

    ``envelope`` is the raw Redis message ``apply_async`` wrote (captured before the
    workers start); each copy gets a new task id (``id``, ``root_id``, ``correlation_id``)
    and a new ``delivery_tag``, so it is byte for byte what the client would send.
    """

    def __init__(self, broker_url: str, queue: str, envelope: str) -> None:
        message = json.loads(envelope)
        self.task_id = message["headers"]["id"]
        self.tag = message["properties"]["delivery_tag"]
        self.envelope = envelope
        self.queue = queue
        self._redis = redis_client(broker_url)

    def send(self, count: int) -> None:
        if count <= 0:
            return
        envelope, task_id, tag = self.envelope, self.task_id, self.tag
        messages = [envelope.replace(task_id, str(uuid.uuid4())).replace(tag, str(uuid.uuid4()))
                    for _ in range(count)]
        self._redis.lpush(self.queue, *messages)

    def depth(self) -> int:
        return int(self._redis.llen(self.queue))

    def close(self) -> None:
        self._redis.close()


class AmqpReplay(Sender):
    """The client's own message for ``bench.noop`` published again with fresh ids (py-amqp)."""

    def __init__(self, broker_url: str, queue: str, message: Any) -> None:
        from kombu import Connection

        self.queue = queue
        self.body = message.body
        self.properties = dict(message.properties)
        self.headers = dict(self.properties.pop("application_headers", None) or {})
        self._connection = Connection(broker_url)

    def send(self, count: int) -> None:
        from amqp import Message

        channel = self._connection.default_channel
        for _ in range(count):
            task_id = str(uuid.uuid4())
            headers = {**self.headers, "id": task_id, "root_id": task_id}
            message = Message(self.body, application_headers=headers,
                              **{**self.properties, "correlation_id": task_id})
            channel.basic_publish(message, exchange="", routing_key=self.queue)

    def depth(self) -> int:
        _, count, _ = self._connection.default_channel.queue_declare(self.queue, passive=True)
        return int(count)

    def close(self) -> None:
        self._connection.release()


def _is_redis(url: str) -> bool:
    return url.startswith(("redis", "valkey"))


def replay_sender(task: Any, broker_url: str, queue: str) -> Sender:
    """Publish one ``bench.noop`` with the client, take it back, and replay it.

    Call it before any worker consumes ``queue``: the message is taken off the queue
    again (the workers never see it).
    """
    task.apply_async(queue=queue, ignore_result=True)
    if _is_redis(broker_url):
        client = redis_client(broker_url)
        try:
            raw = client.rpop(queue)  # kombu LPUSHes and consumers pop from the right
        finally:
            client.close()
        if raw is None:
            raise RuntimeError(f"the captured message is not in {queue}")
        return RedisReplay(broker_url, queue, raw.decode() if isinstance(raw, bytes) else raw)
    from kombu import Connection

    with Connection(broker_url) as connection:
        message = None
        for _ in range(50):  # the publish is confirmed asynchronously: allow a moment
            message = connection.default_channel.basic_get(queue, no_ack=True)
            if message is not None:
                break
            time.sleep(0.02)
    if message is None:
        raise RuntimeError(f"the captured message is not in {queue}")
    return AmqpReplay(broker_url, queue, message)


class Publisher(threading.Thread):
    """Sends tasks at a steady rate, holding back while the queue is deep."""

    def __init__(self, make_sender: Callable[[], Sender], tasks_per_s: float,
                 max_queued: int) -> None:
        super().__init__(name="bench-publisher", daemon=True)
        self.make_sender = make_sender
        self.tasks_per_s = tasks_per_s
        self.max_queued = max_queued
        self.stop_event = threading.Event()
        self.sent = 0
        #: Seconds spent not sending because the queue held ``max_queued`` or more.
        self.held_back_s = 0.0
        #: Seconds the schedule was behind by more than one burst (the sender too slow).
        self.behind_s = 0.0
        self.error: str | None = None

    def run(self) -> None:
        """Publish until stopped; a failure is kept in ``error`` (the run then fails)."""
        sender = None
        try:
            sender = self.make_sender()
            self._loop(sender)
        except Exception as exc:  # noqa: BLE001 - re-raised on the main thread
            self.error = repr(exc)
        finally:
            if sender is not None:
                sender.close()

    def _loop(self, sender: Sender) -> None:
        # Schedule from a moving origin: time spent held back is not owed afterwards,
        # so a stall never turns into a burst.
        origin, owed_from = time.perf_counter(), 0
        depth, depth_read = 0, 0.0
        while not self.stop_event.is_set():
            now = time.perf_counter()
            if now - depth_read >= 0.1:
                depth, depth_read = sender.depth(), now
            if depth >= self.max_queued:
                self.stop_event.wait(0.02)
                self.held_back_s += time.perf_counter() - now
                origin, owed_from = time.perf_counter(), self.sent
                continue
            due = owed_from + int((now - origin) * self.tasks_per_s) - self.sent
            # Small bursts: a whole second owed at once would be a spike, not a rate.
            burst = min(due, BURST)
            if burst > 0:
                sender.send(burst)
                self.sent += burst
            if due > BURST:
                self.behind_s += time.perf_counter() - now
            else:
                self.stop_event.wait(0.005)


# the instrumented console ----------------------------------------------------------------------
class Recorder:
    """What the instrumented console notes per tick (only while ``recording``)."""

    def __init__(self, nodes: set[str]) -> None:
        self.nodes = nodes
        self.recording = False
        self.ticks: list[dict[str, Any]] = []
        #: Per-event lags of the window, seconds.
        self.ingest_lags = array("d")
        self.e2e_lags = array("d")
        self.paint = Stopwatch()
        self.full_gc_passes = 0
        self.last_start: float | None = None
        self.last_paint_cpu = 0.0

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """Count full collections: with 10,000 tasks held each costs tens of ms."""
        if self.recording and phase == "start" and info.get("generation") == 2:
            self.full_gc_passes += 1

    def start(self) -> None:
        """Open a measuring window."""
        self.ticks = []
        self.ingest_lags = array("d")
        self.e2e_lags = array("d")
        self.full_gc_passes = 0
        self.last_start = None
        self.last_paint_cpu = self.paint.cpu
        self.recording = True


def measured_top_app(tuiq_app: Any, recorder: Recorder, broker_label: str) -> Any:
    """A live ``TopApp`` whose ticks report to ``recorder`` (Textual imported only here)."""
    import inspect

    from tuiq.tui.app import TopApp

    class Measured(TopApp):
        # Textual reads a relative CSS path next to the subclass's module: point it home.
        CSS_PATH = str(Path(inspect.getfile(TopApp)).with_name(str(TopApp.CSS_PATH)))

        def __init__(self) -> None:
            super().__init__(tuiq_app, live=True, broker_label=broker_label)
            self._batch: list[dict] = []
            self._ingested_at = 0.0
            ingest = self.cluster.ingest

            def timed_ingest(events: list[dict]) -> None:
                ingest(events)
                # The moment the model holds the batch: what the view refresh shows.
                self._ingested_at = time.time()
                self._batch = events

            self.cluster.ingest = timed_ingest  # type: ignore[method-assign]

        def tick(self) -> None:
            if not recorder.recording:
                super().tick()
                return
            started = time.perf_counter()
            self._batch = []
            cpu = time.thread_time()
            super().tick()
            cpu = time.thread_time() - cpu
            wall = time.perf_counter() - started
            # Everything below is bookkeeping, outside the timed region.
            self._note(started, cpu, wall)

        def _note(self, started: float, cpu: float, wall: float) -> None:
            feed = self.feed
            batch, done = self._batch, self._ingested_at
            ingest_lags = [done - e["local_received"] for e in batch
                           if isinstance(e.get("local_received"), float)]
            e2e_lags = [done - e["timestamp"] for e in batch
                        if isinstance(e.get("timestamp"), int | float)]
            nodes = recorder.nodes
            bench_events = sum(1 for e in batch if e.get("hostname") in nodes)
            recorder.ingest_lags.extend(ingest_lags)
            recorder.e2e_lags.extend(e2e_lags)
            paint_cpu = recorder.paint.cpu - recorder.last_paint_cpu
            recorder.last_paint_cpu = recorder.paint.cpu
            previous, recorder.last_start = recorder.last_start, started
            recorder.ticks.append({
                "at": started,
                "interval": None if previous is None else started - previous,
                "cpu": cpu,
                "wall": wall,
                "paint_cpu_before": paint_cpu,
                "events": len(batch),
                "bench_events": bench_events,
                "ingest_p95": percentile(ingest_lags, 95) if ingest_lags else None,
                "ingest_max": max(ingest_lags, default=None),
                "e2e_p95": percentile(e2e_lags, 95) if e2e_lags else None,
                "e2e_max": max(e2e_lags, default=None),
                "backlog": len(feed) if feed is not None else 0,
                "dropped": feed.dropped if feed is not None else 0,
                "events_seen": self.cluster.events_seen,
            })

    return Measured()


# summaries -------------------------------------------------------------------------------------
def stats(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> dict[str, float]:
    """Median, 95th percentile and maximum (times ``scale``), or {} without values."""
    if not values:
        return {}
    return {"median": round(median(values) * scale, digits),
            "p95": round(percentile(values, 95) * scale, digits),
            "max": round(max(values) * scale, digits)}


def quarter_medians(values: Sequence[float]) -> tuple[float, float]:
    """Medians of the first and last quarter of ``values`` (in order)."""
    size = max(1, len(values) // 4)
    return median(values[:size]), median(values[-size:])


def summarize(recorder: Recorder, wall: float, cpu_before: dict[str, float],
              cpu_after: dict[str, float],
              worker_cpu: dict[str, dict[str, float]]) -> dict[str, Any]:
    """One view's window as a JSON-ready dict, with its verdict."""
    ticks = recorder.ticks
    if len(ticks) < 3:
        return {"error": f"only {len(ticks)} ticks in the window", "no_visible_lag": False}
    span = ticks[-1]["at"] - ticks[0]["at"]
    seen = ticks[-1]["events_seen"] - ticks[0]["events_seen"]
    # Rates run from the first tick to the last: the first tick's batch came before.
    bench_events = sum(t["bench_events"] for t in ticks[1:])
    counted = [t for t in ticks if t["ingest_p95"] is not None]
    backlog = [float(t["backlog"]) for t in ticks]
    e2e_p95s = [t["e2e_p95"] for t in ticks if t["e2e_p95"] is not None]
    first_backlog, last_backlog = quarter_medians(backlog)
    first_e2e, last_e2e = quarter_medians(e2e_p95s) if e2e_p95s else (0.0, 0.0)
    dropped = ticks[-1]["dropped"] - ticks[0]["dropped"]
    ingest_p95 = percentile(recorder.ingest_lags, 95) if recorder.ingest_lags else None
    e2e_p95 = percentile(recorder.e2e_lags, 95) if recorder.e2e_lags else None
    per_tick = median([float(t["events"]) for t in ticks])
    # A console falling behind is a whole tick of events further behind, and more.
    growing = (dropped > 0 or last_backlog - first_backlog > max(per_tick, 1.0)
               or last_e2e - first_e2e > E2E_GROWTH_LIMIT)
    verdict = (ingest_p95 is not None and ingest_p95 < INGEST_P95_LIMIT
               and e2e_p95 is not None and e2e_p95 < E2E_P95_LIMIT and not growing)
    ui = cpu_after.get("MainThread", 0.0) - cpu_before.get("MainThread", 0.0)
    threads = {name: round((cpu_after.get(name, 0.0) - cpu_before.get(name, 0.0)) / wall, 3)
               for name in sorted(cpu_after)}
    return {
        "window_s": round(span, 2),
        "ticks": len(ticks),
        "events_per_s": round(seen / span, 1) if span else None,
        "bench_events_per_s": round(bench_events / span, 1) if span else None,
        "events_per_tick": stats([float(t["events"]) for t in ticks], digits=1),
        "ingest_lag_s": {
            "per_event": stats(recorder.ingest_lags),
            "per_tick_p95": stats([t["ingest_p95"] for t in counted]),
            "per_tick_max": stats([t["ingest_max"] for t in counted]),
        },
        "end_to_end_lag_s": {
            "per_event": stats(recorder.e2e_lags),
            "per_tick_p95": stats(e2e_p95s),
            "per_tick_max": stats([t["e2e_max"] for t in ticks if t["e2e_max"] is not None]),
            "first_quarter_median_p95": round(first_e2e, 3),
            "last_quarter_median_p95": round(last_e2e, 3),
        },
        "backlog_after_tick": {**stats(backlog, digits=0),
                               "first_quarter_median": first_backlog,
                               "last_quarter_median": last_backlog},
        "dropped": dropped,
        "tick_cpu_ms": stats([t["cpu"] for t in ticks], 1000, 2),
        "tick_wall_ms": stats([t["wall"] for t in ticks], 1000, 2),
        "paint_cpu_ms_per_tick": stats([t["paint_cpu_before"] for t in ticks[1:]], 1000, 2),
        "tick_interval_s": stats([t["interval"] for t in ticks if t["interval"] is not None]),
        "ui_thread_cpu_share": round(ui / wall, 3),
        "thread_cpu_share": threads,
        "worker_cpu_share": worker_cpu,
        "full_gc_passes": recorder.full_gc_passes,
        "growing": growing,
        "no_visible_lag": verdict,
    }


# the run ---------------------------------------------------------------------------------------
async def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _window(recorder: Recorder, publisher: Publisher, workers: list[Any],
                  duration: float) -> dict[str, Any]:
    """Record ``duration`` seconds of ticks; the window's figures with CPU and publisher."""
    trees = {worker.nodename: worker.tree() for worker in workers}
    worker_before = {name: (cpu_seconds(tree[0]), tree_cpu(tree[1:]))
                     for name, tree in trees.items()}
    sent, held, behind = publisher.sent, publisher.held_back_s, publisher.behind_s
    cpu_before, wall = thread_cpu(), time.perf_counter()
    recorder.start()
    await asyncio.sleep(duration)
    recorder.recording = False
    wall = time.perf_counter() - wall
    cpu_after = thread_cpu()
    worker_cpu: dict[str, dict[str, float]] = {}
    for name, tree in trees.items():
        main, children = worker_before[name]
        worker_cpu[name] = {"main": round((cpu_seconds(tree[0]) - main) / wall, 3),
                            "pool": round((tree_cpu(tree[1:]) - children) / wall, 3)}
    figures = summarize(recorder, wall, cpu_before, cpu_after, worker_cpu)
    figures["publisher"] = {
        "events_per_s_sent": round((publisher.sent - sent) * EVENTS_PER_TASK / wall, 1),
        "held_back_share": round((publisher.held_back_s - held) / wall, 3),
        "behind_schedule_share": round((publisher.behind_s - behind) / wall, 3)}
    return figures


async def _console(tuiq_app: Any, broker_label: str, publisher: Publisher,
                   nodes: set[str], workers: list[Any], views: Sequence[str],
                   duration: float, warmup: float) -> dict[str, Any]:
    recorder = Recorder(nodes)
    app = measured_top_app(tuiq_app, recorder, broker_label)
    results: dict[str, Any] = {}
    gc.callbacks.append(recorder.on_gc)
    try:
        async with app.run_test(size=SIZE) as pilot:
            watch_paint(app, recorder.paint)
            await _wait_for(lambda: app.connected, 20, "the console's event feed")
            await _wait_for(lambda: nodes <= set(app.cluster.workers), 20,
                            "the workers' heartbeats in the console")
            publisher.start()
            for index, view in enumerate(views):
                app.action_show_view(view)
                await pilot.pause()
                await asyncio.sleep(warmup if index == 0 else 1.0)
                results[view] = await _window(recorder, publisher, workers, duration)
                results[view]["tasks_held"] = len(app.cluster.tasks)
                results[view]["malformed_so_far"] = app.cluster.malformed
                note(f"{view}: {results[view].get('events_per_s')} events/s, "
                     f"ingest p95 {results[view].get('ingest_lag_s', {}).get('per_event')}")
            publisher.stop_event.set()
    finally:
        gc.callbacks.remove(recorder.on_gc)
        publisher.stop_event.set()
    return results


def drop_redis_queue(broker_url: str, queue: str) -> None:
    """Delete a Redis queue's lists: the warm shutdown puts reserved tasks back in them.

    A queue deleted by name through a fresh kombu channel keeps its list (the channel
    knows no binding to delete it through), and this run ends with messages left.
    """
    if not _is_redis(broker_url):
        return
    client = redis_client(broker_url)
    try:
        # kombu keeps priorities above 0 in lists named queue + "\x06\x16" + priority.
        client.delete(queue, *(f"{queue}\x06\x16{priority}" for priority in range(1, 10)))
    finally:
        client.close()


def rate_note(rate: int, figures: dict[str, Any], setup: str) -> str:
    """Why a view's window stayed under ``rate``, from what the publisher saw."""
    counted = figures.get("events_per_s") or 0.0
    publisher = figures.get("publisher", {})
    sent = publisher.get("events_per_s_sent", 0.0)
    if publisher.get("held_back_share", 0.0) > 0.05:
        why = (f"the queue was full {publisher['held_back_share']:.0%} of the time: the "
               f"workers ({setup}) took no more")
    elif sent < REACHED_SHARE * rate:
        why = (f"the publisher only sent {sent:.0f} events/s worth of tasks: the two cores "
               f"shared by workers, broker, console, publisher and other load did not "
               f"give it more time (the workers' queue stayed short)")
    else:
        why = f"tasks went out at {sent:.0f} events/s but their events arrived slower"
    return (f"{rate} events/s was not reached on this machine: the console counted "
            f"{counted:.0f} events/s; {why}. The verdict holds for that rate, not for {rate}")


def measure(rate: int = 5000, duration: float = 20.0, broker: str = "redis", workers: int = 2,
            concurrency: int = 2, views: Sequence[str] = VIEWS, warmup: float = 3.0,
            max_queued: float = 1.0, publish: str = "replay") -> dict[str, Any]:
    """Run the console against live workers at ``rate`` events/s; figures and verdict.

    ``max_queued`` is how many seconds of tasks (at the asked rate) may wait in the queue
    before the publisher holds back. ``publish`` is ``replay`` (the client's message sent
    again with fresh ids, batched) or ``client`` (``apply_async`` per task).
    """
    from tuiq import App
    from tuiq.broker import mask_url

    broker_url, backend_url = broker_urls(broker)
    queue = unique("bench-console")
    client, task = client_app("tuiq", broker_url, None)
    console_app = App("bench-console", broker=broker_url, set_as_current=False)
    tasks_per_s = rate / EVENTS_PER_TASK
    started: list[Any] = []
    result: dict[str, Any] = {
        "benchmark": "console_live", "broker": broker, "rate_asked": rate,
        "workers": workers, "concurrency": concurrency, "duration_s": duration,
        "terminal": f"{SIZE[0]}x{SIZE[1]}", "publish": publish,
        "thresholds": {"ingest_p95_s": INGEST_P95_LIMIT, "end_to_end_p95_s": E2E_P95_LIMIT,
                       "end_to_end_growth_s": E2E_GROWTH_LIMIT,
                       "backlog_growth": "last quarter median - first <= median events/tick"},
    }
    publisher: Publisher | None = None
    try:
        # Captured now, while nothing consumes the queue yet.
        replay = replay_sender(task, broker_url, queue) if publish == "replay" else None

        def make_sender() -> Sender:
            return replay if replay is not None else ClientSender(task, broker_url, queue)

        publisher = Publisher(make_sender, tasks_per_s, max(1, int(tasks_per_s * max_queued)))
        for _ in range(workers):
            started.append(start_worker("tuiq", broker_url, backend_url, queue,
                                        concurrency=concurrency, extra=["-E"]))
        for worker in started:
            worker.wait_ready(client)
        note(f"{workers} workers ready on {broker}; console and publisher starting")
        nodes = {worker.nodename for worker in started}
        result["views"] = asyncio.run(_console(
            console_app, mask_url(broker_url), publisher, nodes, started, views, duration,
            warmup))
    finally:
        if publisher is not None:
            publisher.stop_event.set()
            if publisher.is_alive():
                publisher.join(timeout=5)
        for worker in started:
            worker.stop()
        delete_queue(broker_url, queue)
        drop_redis_queue(broker_url, queue)
        close_app("tuiq", client)
        close_app("tuiq", console_app)
    if publisher.error:
        raise RuntimeError(f"the publisher failed, the figures mean nothing: {publisher.error}")
    result["publisher"] = {"tasks_sent": publisher.sent,
                           "held_back_s": round(publisher.held_back_s, 2),
                           "behind_schedule_s": round(publisher.behind_s, 2)}
    shown = [result["views"][view] for view in views]
    reached = [figures.get("events_per_s") or 0.0 for figures in shown]
    highest = max(reached)
    result["highest_events_per_s"] = highest
    result["target_rate_reached"] = min(reached) >= REACHED_SHARE * rate
    if not result["target_rate_reached"]:
        slowest = min(shown, key=lambda figures: figures.get("events_per_s") or 0.0)
        result["rate_note"] = rate_note(rate, slowest, f"{workers} workers, prefork "
                                        f"-c {concurrency}, {broker}")
    result["no_visible_lag"] = all(figures.get("no_visible_lag") for figures in shown)
    return result


def main() -> None:
    """Print :func:`measure`'s figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=5000, help="events/s to aim for")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per view")
    parser.add_argument("--broker", choices=BROKERS, default="redis")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--views", default=",".join(VIEWS))
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--max-queued", type=float, default=1.0,
                        help="seconds of tasks allowed to wait in the queue")
    parser.add_argument("--publish", choices=("replay", "client"), default="replay",
                        help="replay the client's message in batches, or apply_async per task")
    options = parser.parse_args()
    emit(measure(options.rate, options.duration, options.broker, options.workers,
                 options.concurrency, parse_list(options.views, VIEWS), options.warmup,
                 options.max_queued, options.publish))


if __name__ == "__main__":
    main()
