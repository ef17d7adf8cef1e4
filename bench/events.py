"""Event ingest: tuiq's ``ClusterState`` vs ``celery.events.state.State``, one synthetic stream.

    python -m bench.events [--tasks 100000] [--workers 10] [--repeat 2] [--frame-ticks 40]

The stream is what a monitor receives from a busy cluster, as decoded event dicts with
Celery's fields (PROTOCOL.md §4.2-4.4): ``--tasks`` tasks, each task-received,
task-started and task-succeeded on one of ``--workers`` nodes (1000 tasks per simulated
second, events interleaved as concurrent tasks interleave), plus worker-online and a
worker-heartbeat every 2 s of simulated time from every node.

Each engine ingests in its own subprocess (so ``ru_maxrss`` is that engine's peak), with
the same caps: 10000 tasks, 5000 workers. The stream is generated in chunks of 10000
events outside the timed region; wall and CPU seconds count only the ``event()`` calls.
Celery's ``State`` mutates the dicts it is given, so each child builds its own stream
from the same seed. Engines alternate within each repeat; the JSON reports every run,
the medians and the ratios tuiq / celery.

A second section, ``console_frame``, is :func:`bench.console_frame.measure`: the time
``tuiq top`` takes to render a frame while holding 10,000 tasks and 100 nodes
(``--frame-ticks 0`` leaves it out).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from bench.common import PYTHON, ROOT, emit, median, note, ratio

MAX_TASKS = 10000
MAX_WORKERS = 5000
TASKS_PER_SECOND = 1000.0
HEARTBEAT_FREQ = 2.0
CHUNK = 10000
SEED = 20261121
ENGINES = ("tuiq", "celery")
#: Events that arrive between a task's received and its started / succeeded events.
STARTED_LAG = 2
SUCCEEDED_LAG = 10


# the stream ------------------------------------------------------------------------------
class _Node:
    """One simulated worker: its Lamport clock and what its heartbeats report."""

    def __init__(self, index: int, pid: int) -> None:
        self.hostname = f"celery@bench-{index:02d}"
        self.pid = pid
        self.clock = 0
        self.processed = 0
        self.active = 0

    def common(self, kind: str, when: float) -> dict[str, Any]:
        self.clock += 1
        return {"hostname": self.hostname, "utcoffset": -0.0, "pid": self.pid,
                "clock": self.clock, "timestamp": when, "type": kind,
                "local_received": when + 0.0004}

    def worker_event(self, kind: str, when: float) -> dict[str, Any]:
        event = self.common(kind, when)
        event.update(freq=HEARTBEAT_FREQ, active=self.active, processed=self.processed,
                     loadavg=[0.52, 0.61, 0.48], sw_ident="py-celery", sw_ver="5.7.0",
                     sw_sys="Linux")
        return event


def synthetic_stream(tasks: int, workers: int, start: float,
                     chunk: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """The benchmark stream in chunks of about ``chunk`` events, deterministic per seed."""
    rng = random.Random(SEED)
    nodes = [_Node(index, 1000 + index) for index in range(workers)]
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(tasks)]
    next_beat = [start + HEARTBEAT_FREQ * index / workers for index in range(workers)]
    events: list[dict[str, Any]] = [node.worker_event("worker-online", start) for node in nodes]

    def received(i: int, when: float) -> dict[str, Any]:
        node = nodes[i % workers]
        node.processed += 1
        node.active += 1
        event = node.common("task-received", when)
        event.update(uuid=ids[i], name="proj.tasks.add", args=f"({i}, {i + 1})",
                     kwargs="{}", root_id=ids[i], parent_id=None, retries=0, eta=None,
                     expires=None)
        return event

    def started(i: int, when: float) -> dict[str, Any]:
        event = nodes[i % workers].common("task-started", when)
        event["uuid"] = ids[i]
        return event

    def succeeded(i: int, when: float) -> dict[str, Any]:
        node = nodes[i % workers]
        node.active -= 1
        event = node.common("task-succeeded", when)
        event.update(uuid=ids[i], result=repr(2 * i + 1), runtime=0.0021 + rng.random() / 1000)
        return event

    # Step i: task i is received, task i-2 starts, task i-10 finishes; then the tail.
    for step in range(tasks + SUCCEEDED_LAG):
        when = start + step / TASKS_PER_SECOND
        for index in range(workers):
            if next_beat[index] <= when:
                events.append(nodes[index].worker_event("worker-heartbeat", next_beat[index]))
                next_beat[index] += HEARTBEAT_FREQ
        if step < tasks:
            events.append(received(step, when))
        if 0 <= step - STARTED_LAG < tasks:
            events.append(started(step - STARTED_LAG, when))
        if 0 <= step - SUCCEEDED_LAG < tasks:
            events.append(succeeded(step - SUCCEEDED_LAG, when))
        if len(events) >= chunk:
            yield events
            events = []
    if events:
        yield events


# one engine, in a child process ---------------------------------------------------------------
def _make_state(engine: str):
    if engine == "tuiq":
        from tuiq.events.cluster import ClusterState

        return ClusterState(max_workers=MAX_WORKERS, max_tasks=MAX_TASKS)
    from celery.events.state import State

    return State(max_workers_in_memory=MAX_WORKERS, max_tasks_in_memory=MAX_TASKS)


def _final_summary(engine: str, state, now: float) -> dict[str, Any]:
    """What the state ended with at stream time ``now``, to check both saw the same cluster."""
    if engine == "tuiq":
        alive = len(state.alive_workers(now))
    else:  # Celery's ``alive`` reads the wall clock, which moved on during the ingest
        alive = sum(1 for worker in state.workers.values()
                    if worker.heartbeats and now < worker.heartbeat_expires)
    tasks = list(state.tasks.values())
    return {"tasks_kept": len(tasks), "workers_kept": len(state.workers),
            "workers_alive": alive,
            "tasks_success": sum(1 for task in tasks if task.state == "SUCCESS")}


def ingest_child(engine: str, tasks: int, workers: int) -> dict[str, Any]:
    """Feed the stream into ``engine``'s state; timings cover only the ingest calls."""
    state = _make_state(engine)
    end = time.time()
    start = end - (tasks + SUCCEEDED_LAG) / TASKS_PER_SECOND
    stream = synthetic_stream(tasks, workers, start)
    first = next(stream)
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall = cpu = 0.0
    count = 0
    for chunk in _chain_first(first, stream):
        apply = state.event
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        for event in chunk:
            apply(event)
        wall += time.perf_counter() - wall_start
        cpu += time.process_time() - cpu_start
        count += len(chunk)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"engine": engine, "events": count, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "events_per_s": round(count / wall), "events_per_cpu_s": round(count / cpu),
            "peak_rss_mb": round(peak_kib / 1024, 1),
            "rss_before_ingest_mb": round(baseline_kib / 1024, 1),
            "rss_growth_mb": round((peak_kib - baseline_kib) / 1024, 1),
            **_final_summary(engine, state, end)}


def _chain_first(first: list[dict], rest: Iterator[list[dict]]) -> Iterator[list[dict]]:
    yield first
    yield from rest


def run_child(engine: str, tasks: int, workers: int) -> dict[str, Any]:
    """Run :func:`ingest_child` in a fresh interpreter and return its JSON."""
    command = [PYTHON, "-m", "bench.events", "--child", engine, "--tasks", str(tasks),
               "--workers", str(workers)]
    done = subprocess.run(command, cwd=str(ROOT), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{engine} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


# sections -------------------------------------------------------------------------------------
def ingest_section(tasks: int, workers: int, repeat: int) -> dict[str, Any]:
    """Ingest rate and peak memory of both engines, ``repeat`` alternating runs each."""
    runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in ENGINES}
    for attempt in range(repeat):
        order = ENGINES if attempt % 2 == 0 else ENGINES[::-1]
        for engine in order:
            note(f"ingest {engine} run {attempt + 1}/{repeat}")
            runs[engine].append(run_child(engine, tasks, workers))
    summary: dict[str, Any] = {}
    for engine in ENGINES:
        summary[engine] = {
            key: median([run[key] for run in runs[engine]])
            for key in ("events_per_s", "events_per_cpu_s", "peak_rss_mb", "rss_growth_mb")
        }
    ours, theirs = summary["tuiq"], summary["celery"]
    return {
        "tasks": tasks, "workers": workers, "max_tasks": MAX_TASKS, "max_workers": MAX_WORKERS,
        "events": runs["tuiq"][0]["events"], "repeat": repeat,
        "median": summary,
        "ratio_events_per_s": ratio(ours["events_per_s"], theirs["events_per_s"]),
        "ratio_events_per_cpu_s": ratio(ours["events_per_cpu_s"], theirs["events_per_cpu_s"]),
        "ratio_peak_rss": ratio(ours["peak_rss_mb"], theirs["peak_rss_mb"]),
        "ratio_rss_growth": ratio(ours["rss_growth_mb"], theirs["rss_growth_mb"]),
        "per_run_ratio_events_per_s": [
            ratio(a["events_per_s"], b["events_per_s"])
            for a, b in zip(runs["tuiq"], runs["celery"], strict=True)],
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> None:
    """Run every section and print one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100000)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--frame-ticks", type=int, default=40,
                        help="console frames to time (0: skip that section)")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(ingest_child(args.child, args.tasks, args.workers)))
        return
    sections = {"ingest": ingest_section(args.tasks, args.workers, args.repeat)}
    if args.frame_ticks > 0:
        from bench.console_frame import measure

        sections["console_frame"] = measure(ticks=args.frame_ticks)
    emit({"benchmark": "events", **sections})


if __name__ == "__main__":
    sys.exit(main())
