"""Console frame time: ``tuiq top`` holding 10,000 tasks and 100 nodes, tick by tick.

    python -m bench.console_frame [--ticks 40] [--rate 5000] [--peer-ticks 3] [--untuned-gc]

It runs a headless ``TopApp`` (200×60 terminal) over a ``ClusterState`` filled with
10,000 tasks and 100 nodes whose inspect polls have answered. The state is filled once
the console has started, as a live console's tasks arrive after it has started: the
collector settings the console applies then (``tuiq.tui.gc_tuning``, the very object
the console uses) see the tasks as they would in use, not frozen with the start-up
objects. ``--untuned-gc`` keeps the interpreter's settings instead, for comparison;
the settings measured with are in the output (``gc``). Before each tick, outside
the timed region, the events a ``--rate`` events/s cluster sends in one 0.25 s tick are
ingested (task-received/started/succeeded of new tasks, heartbeats; the oldest tasks are
evicted at the cap); ingest time is reported apart.

A frame is what the console does for that tick: take the changes, refresh the header and
the visible view (``TopApp.refresh_now``), then Textual's paint of what changed (layout
when needed, the compositor's update, and its encoding to the escape sequences a terminal
would receive). The paint is timed inside Textual's own screen-update calls, so the test
harness's waiting is not counted. Times are CPU seconds of the console's thread (wall
time on a busy machine mostly measures the neighbours) and wall seconds of the same
calls. Frames during which Python's collector made a full (generation 2) pass are counted
and also left out of a second summary: with 10,000 tasks in memory such a pass costs tens
of milliseconds by itself, whatever the console does (the console's collector settings
exist to make such passes rare).

Figures:

* ``nodes_view`` / ``tasks_view``: frames with that view in front (newest tasks first:
  at 5,000 events/s every row on screen is new at each tick);
* ``tasks_view_filtered``: the tasks view with a regex filter on;
* ``tasks_view_rebuild``: a frame with no change set (a view switch, a new filter):
  every task matched and sorted again;
* ``tasks_view_full_repaint``: every line of the screen rendered again (after a resize,
  say), the worst case;
* ``peer_datatable``: the same keyed-row diff (``add_row``, ``update_cell``,
  ``remove_row`` in ``batch_update``, then ``sort``) applied to Textual's ``DataTable``
  holding all 10,000 rows, the widget the tasks view would otherwise use, then a full
  repaint, under the same collector settings. ``ratio_tuiq_over_datatable`` compares the
  median CPU time of that with ``tasks_view_full_repaint``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from tuiq.events.cluster import ClusterState
from tuiq.tui.gc_tuning import GcTuning

NODES = 100
TASKS = 10_000
TICK = 0.25
SIZE = (200, 60)
START = 1_800_000_000.0
NAMES = ("shop.cart.add_item", "shop.search.index_product", "shop.mail.send_receipt",
         "shop.billing.charge_card", "reports.render_pdf")


class Clock:
    """The console's clock, moved by the benchmark."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Stream:
    """Events of a busy cluster: each task received, started and succeeded on one node."""

    def __init__(self) -> None:
        self.serial = 0
        self.pending: list[tuple[str, str, float]] = []  # (uuid, node, received at)

    def node(self, index: int) -> str:
        return f"celery@bench-{index:03d}" if index % 10 == 0 else f"tuiq@bench-{index:03d}"

    def common(self, kind: str, hostname: str, when: float) -> dict[str, Any]:
        return {"type": kind, "hostname": hostname, "timestamp": when, "local_received": when,
                "clock": self.serial, "pid": 1000, "utcoffset": 0.0}

    def heartbeat(self, index: int, when: float) -> dict[str, Any]:
        hostname = self.node(index)
        return {**self.common("worker-heartbeat", hostname, when), "freq": 2.0, "active": 2,
                "processed": self.serial, "loadavg": [0.5, 0.4, 0.3],
                "sw_ident": "py-celery" if index % 10 == 0 else "py-tuiq",
                "sw_ver": "5.7.0" if index % 10 == 0 else "0.1.0", "sw_sys": "Linux"}

    def events(self, count: int, start: float, span: float) -> Iterator[dict[str, Any]]:
        """``count`` task events spread over ``[start, start + span)``, plus heartbeats."""
        step = span / max(count, 1)
        for i in range(count):
            when = start + i * step
            if i % 3 == 0 or not self.pending:
                self.serial += 1
                uid = f"{self.serial:08x}-0000-4000-8000-{self.serial:012x}"
                hostname = self.node(self.serial % NODES)
                self.pending.append((uid, hostname, when))
                yield {**self.common("task-received", hostname, when), "uuid": uid,
                       "name": NAMES[self.serial % len(NAMES)], "args": f"({self.serial},)",
                       "kwargs": "{}", "root_id": uid, "parent_id": None, "retries": 0,
                       "eta": None, "expires": None}
            elif i % 3 == 1:
                uid, hostname, _ = self.pending[-1]
                yield {**self.common("task-started", hostname, when), "uuid": uid}
            else:
                uid, hostname, received = self.pending.pop()
                yield {**self.common("task-succeeded", hostname, when), "uuid": uid,
                       "result": "None", "runtime": max(when - received, 0.001)}
        for index in range(NODES):
            # Every node beats every 2 s: an eighth of them per 0.25 s tick.
            if index % 8 == int(start / TICK) % 8:
                yield self.heartbeat(index, start + span - 0.01)


def gc_tuning(tuned: bool) -> GcTuning:
    """The console's collector settings, or (``tuned`` False) the interpreter's own."""
    return GcTuning() if tuned else GcTuning.untuned()


def fill_cluster(cluster: ClusterState, clock: Clock, stream: Stream) -> ClusterState:
    """100 nodes with their polls answered, and 10,000 tasks of a busy minute."""
    for index in range(NODES):
        cluster.event(stream.heartbeat(index, clock.now - 1.0))
    cluster.ingest(stream.events(3 * TASKS + 300, clock.now - 60.0, 59.0))
    for index in range(NODES):
        hostname = stream.node(index)
        cluster.update_inspect(hostname, "stats", {
            "pid": 1000 + index, "uptime": 3600, "clock": "1", "prefetch_count": 16,
            "total": {"shop.cart.add_item": 100},
            "pool": {"implementation": "tuiq.worker.pool:PreforkPool", "max-concurrency": 4},
            "rusage": {"utime": 12.5, "stime": 1.5, "maxrss": 90_000}}, now=clock.now)
        cluster.update_inspect(hostname, "active_queues", [{"name": "celery"}], now=clock.now)
        cluster.update_inspect(hostname, "reserved", [], now=clock.now)
        cluster.update_inspect(hostname, "scheduled", [], now=clock.now)
    cluster.take_changes()
    return cluster


def render_frame(app: Any) -> None:
    """Lay out and render the whole screen to terminal escape sequences (a full repaint)."""
    screen = app.screen
    screen._refresh_layout()
    update = screen._compositor.render_full_update()
    update.render_segments(app.console)


def summary(samples: list[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum, in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"median_ms": round(ordered[len(ordered) // 2] * 1000, 2),
            "p95_ms": round(p95 * 1000, 2), "max_ms": round(ordered[-1] * 1000, 2),
            "frames": len(ordered)}


class Stopwatch:
    """CPU (this thread) and wall time spent inside the calls it wraps."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0

    def wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.cpu += time.thread_time() - cpu
                self.wall += time.perf_counter() - wall
        return timed


def watch_paint(app: Any, stopwatch: Stopwatch) -> None:
    """Time Textual's screen updates: layout passes, compositor updates and encoding."""
    screen = app.screen
    compositor = screen._compositor
    render_update = compositor.render_update

    def render_and_encode(*args: Any, **kwargs: Any) -> Any:
        update = render_update(*args, **kwargs)
        if update is not None:
            # Headless apps skip the terminal write; encode as a terminal would get it.
            update.render_segments(app.console)
        return update

    compositor.render_update = render_and_encode
    screen._refresh_layout = stopwatch.wrap(screen._refresh_layout)
    screen._compositor_refresh = stopwatch.wrap(screen._compositor_refresh)


class Frames:
    """Per-frame CPU and wall time, and the frames a full collection fell into."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.cpu_without_full_gc: list[float] = []
        self.full_gc_frames = 0
        self._full_passes = 0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info.get("generation") == 2:
            self._full_passes += 1

    def add(self, cpu: float, wall: float, full_gc: bool) -> None:
        self.cpu.append(cpu)
        self.wall.append(wall)
        if full_gc:
            self.full_gc_frames += 1
        else:
            self.cpu_without_full_gc.append(cpu)

    async def paint(self, pilot: Any, paint: Stopwatch, refresh: Callable[[], None]) -> None:
        """One frame: ``refresh`` then Textual's paint of what it changed."""
        passes = self._full_passes
        gc.callbacks.append(self._on_gc)
        try:
            paint.cpu = paint.wall = 0.0
            cpu, wall = time.thread_time(), time.perf_counter()
            refresh()
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            await pilot.pause()
        finally:
            gc.callbacks.remove(self._on_gc)
        self.add(cpu + paint.cpu, wall + paint.wall, self._full_passes != passes)

    def full(self, refresh: Callable[[], None], app: Any) -> None:
        """One frame repainting every line, timed as a whole."""
        passes = self._full_passes
        gc.callbacks.append(self._on_gc)
        try:
            cpu, wall = time.thread_time(), time.perf_counter()
            refresh()
            render_frame(app)
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        finally:
            gc.callbacks.remove(self._on_gc)
        self.add(cpu, wall, self._full_passes != passes)

    def summary(self) -> dict[str, Any]:
        figures: dict[str, Any] = {"cpu": summary(self.cpu), "wall": summary(self.wall),
                                   "frames_with_full_gc": self.full_gc_frames}
        if self.cpu_without_full_gc:
            figures["cpu_without_full_gc"] = summary(self.cpu_without_full_gc)
        return figures


async def started(pilot: Any, tuning: GcTuning) -> None:
    """Wait until the app is up and its collector settings are in force."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if tuning.active:
            return
        await pilot.pause(0.01)
    raise RuntimeError("the collector settings were never applied")


async def _frames(ticks: int, rate: int, tuned: bool) -> dict[str, Any]:
    from tuiq.tui.app import TopApp
    from tuiq.tui.views.tasks import TasksView

    clock = Clock(START)
    stream = Stream()
    cluster = ClusterState(clock=clock)
    per_tick = int(rate * TICK)
    app = TopApp(state=cluster, live=False, clock=clock, broker_label="redis://bench")
    if not tuned:
        app.gc_tuning = gc_tuning(tuned)
    figures: dict[str, Any] = {"gc": app.gc_tuning.describe()}
    ingest = Frames()

    def tick_events() -> None:
        events = list(stream.events(per_tick, clock.now, TICK))
        clock.now += TICK
        cpu, wall = time.thread_time(), time.perf_counter()
        cluster.ingest(events)
        ingest.add(time.thread_time() - cpu, time.perf_counter() - wall, False)

    async def run(name: str, count: int, refresh: Callable[[], None]) -> None:
        frames = Frames()
        for _ in range(count):
            tick_events()
            await frames.paint(pilot, paint, refresh)
        figures[name] = frames.summary()

    paint = Stopwatch()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app.gc_tuning)
        fill_cluster(cluster, clock, stream)
        app.refresh_now(full=True)
        await pilot.pause()
        watch_paint(app, paint)
        await pilot.press("1")
        await pilot.pause()
        await run("nodes_view", ticks, app.refresh_now)
        await pilot.press("2")
        await pilot.pause()
        await run("tasks_view", ticks, app.refresh_now)

        tasks_view = app.query_one(TasksView)
        tasks_view.action_filter()
        await pilot.press(*"name:mail|billing", "enter")
        await run("tasks_view_filtered", ticks, app.refresh_now)
        figures["tasks_view_filtered"]["rows"] = tasks_view.table.row_count
        await pilot.press("escape")
        await pilot.pause()

        await run("tasks_view_rebuild", max(ticks // 4, 3), lambda: app.refresh_now(full=True))

        frames = Frames()
        for _ in range(max(ticks // 4, 3)):
            tick_events()
            frames.full(app.refresh_now, app)
            await pilot.pause()
        figures["tasks_view_full_repaint"] = frames.summary()
        figures["rows_in_tasks_view"] = tasks_view.table.row_count
    figures["ingest_per_tick"] = {**ingest.summary(), "events": per_tick}
    figures["tasks_held"] = len(cluster.tasks)
    figures["nodes_held"] = len(cluster.workers)
    return figures


async def _peer(ticks: int, rate: int, tuned: bool) -> dict[str, Any]:
    """The same ticks through a DataTable with every task as a keyed row."""
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    from tuiq.tui.views import formatting as fmt
    from tuiq.tui.views import task_fields as tf

    clock = Clock(START)
    stream = Stream()
    cluster = ClusterState(clock=clock)
    columns = ("state", "name", "id", "node", "received", "runtime", "args")
    tuning = gc_tuning(tuned)

    def cells(uuid: str) -> tuple[Any, ...]:
        task = cluster.tasks[uuid]
        return (Text(task.state, style=fmt.STATE_STYLES.get(task.state, "")),
                task.name or "-", uuid, task.hostname or "-",
                fmt.clock_time(tf.entered_at(task)), fmt.duration(tf.run_time(task, clock.now)),
                tf.arguments(task))

    class PeerApp(App):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

    app = PeerApp()
    figures: dict[str, Any] = {}
    async with app.run_test(size=SIZE) as pilot:
        # As the console does: once the first screen is up, then the tasks come.
        await pilot.pause()
        tuning.apply()
        fill_cluster(cluster, clock, stream)
        table = app.query_one(DataTable)
        for column in columns:
            table.add_column(column, key=column)

        def apply_changes() -> None:
            changes = cluster.take_changes()
            with app.batch_update():
                for uuid in changes.evicted_tasks:
                    if uuid in table.rows:
                        table.remove_row(uuid)
                for uuid in changes.tasks:
                    if uuid in table.rows:
                        for column, value in zip(columns, cells(uuid), strict=True):
                            table.update_cell(uuid, column, value)
                    else:
                        table.add_row(*cells(uuid), key=uuid)
                table.sort("received", reverse=True)

        started = time.perf_counter()
        for uuid in cluster.tasks:
            table.add_row(*cells(uuid), key=uuid)
        table.sort("received", reverse=True)
        render_frame(app)
        figures["initial_load_ms"] = round((time.perf_counter() - started) * 1000, 1)
        await pilot.pause()
        frames = Frames()
        for _ in range(ticks):
            cluster.ingest(list(stream.events(int(rate * TICK), clock.now, TICK)))
            clock.now += TICK
            frames.full(apply_changes, app)
            await pilot.pause()
        figures["tasks_view_full_repaint"] = frames.summary()
    tuning.restore()
    return figures


def measure(ticks: int = 40, rate: int = 5000, peer_ticks: int = 3,
            tuned: bool = True) -> dict[str, Any]:
    """Frame times of the console (and of the DataTable peer) as one JSON-ready dict."""
    os.environ.setdefault("TZ", "UTC")
    time.tzset()
    result: dict[str, Any] = {
        "benchmark": "console_frame", "tasks": TASKS, "nodes": NODES,
        "terminal": f"{SIZE[0]}x{SIZE[1]}", "events_per_second": rate, "tick_s": TICK,
        "budget_ms": 16.0,
    }
    result["tuiq"] = asyncio.run(_frames(ticks, rate, tuned))
    result["gc"] = result["tuiq"].pop("gc")
    if peer_ticks:
        result["peer_datatable"] = asyncio.run(_peer(peer_ticks, rate, tuned))
        ours = result["tuiq"]["tasks_view_full_repaint"]["cpu"]["median_ms"]
        theirs = result["peer_datatable"]["tasks_view_full_repaint"]["cpu"]["median_ms"]
        result["ratio_tuiq_over_datatable"] = round(ours / theirs, 4) if theirs else None
    medians = [result["tuiq"][view]["cpu"]["median_ms"]
               for view in ("nodes_view", "tasks_view", "tasks_view_filtered")]
    result["within_budget"] = max(medians) < result["budget_ms"]
    result["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    return result


def main() -> None:
    """Print :func:`measure`'s figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=40)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--peer-ticks", type=int, default=3)
    parser.add_argument("--untuned-gc", action="store_true",
                        help="keep the interpreter's collector settings (for comparison)")
    options = parser.parse_args()
    print(json.dumps(measure(options.ticks, options.rate, options.peer_ticks,
                             tuned=not options.untuned_gc), indent=2))


if __name__ == "__main__":
    main()
