"""Where a worker's main process spends its CPU under throughput load (py-spy).

    python -m bench.profile_worker [--engine tuiq|celery] [--broker redis] [--n 20000]
                                   [--duration 10] [--rate 250] [--top 30]

Starts a worker (prefork c=2) and waits until it answers ping, starts
``py-spy record --format raw`` on its main process, then publishes ``--n`` no-op tasks
(``ignore_result``) as fast as one client can, so the queue never runs dry while py-spy
samples. Needs py-spy (``python -m pip install py-spy``) and ptrace rights.

By default py-spy keeps only samples of the thread holding the GIL (``--gil``): that is
the process's Python CPU time, whichever thread spends it (the consumer loop or
billiard's TaskHandler/ResultHandler/Supervisor threads). ``--wall`` samples every
thread's wall time instead, idle and blocking I/O included.

Prints one JSON object: the raw profile's path, the sample count, and the top functions
by self ("leaf") and inclusive share of the samples, plus the shares per thread and per
library (kombu, redis, amqp, billiard, tuiq, celery, stdlib).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import (
    LOG_DIR,
    PYTHON,
    ROOT,
    broker_urls,
    client_app,
    close_app,
    delete_queue,
    emit,
    note,
    start_worker,
    unique,
)

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
LIBRARIES = ("kombu", "redis", "amqp", "billiard", "tuiq", "celery", "vine", "click")


def pyspy() -> str:
    """The py-spy executable."""
    found = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy not found: python -m pip install py-spy")
    return found


def parse_frame(frame: str) -> tuple[str, str]:
    """``(function label, library)`` of one py-spy frame ``func (file:line)``."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), "other"
    func, path = match.group("func"), match.group("file")
    library = "stdlib/other"
    for name in LIBRARIES:
        if f"/{name}/" in path or path.startswith(f"{name}/"):
            library = name
            break
    short = path.split("site-packages/")[-1].split(f"{ROOT}/")[-1]
    return f"{func} ({short})", library


def summarize(raw: Path, top: int) -> dict[str, Any]:
    """Self and inclusive shares per function, and self shares per library."""
    self_counts: collections.Counter[str] = collections.Counter()
    incl_counts: collections.Counter[str] = collections.Counter()
    libs: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        labels = [parse_frame(frame) for frame in frames]
        leaf, library = labels[-1]
        threads[thread_role([label for label, _ in labels])] += count
        self_counts[leaf] += count
        libs[library] += count
        for label in {label for label, _ in labels}:
            incl_counts[label] += count

    def share(counter: collections.Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * count / total, 1)] for name, count in counter.most_common(top)]

    return {
        "samples": total,
        "self_pct": share(self_counts),
        "inclusive_pct": share(incl_counts),
        "library_self_pct": {name: round(100 * count / total, 1)
                             for name, count in libs.most_common()},
        "thread_pct": {name: round(100 * count / total, 1)
                       for name, count in threads.most_common()},
    }


def thread_role(labels: list[str]) -> str:
    """Which thread a stack belongs to: a billiard pool thread by its body, else main."""
    for index, label in enumerate(labels):
        if label.startswith("PoolThread.run") and index + 1 < len(labels):
            return labels[index + 1].split(" (")[0]
        if label.startswith("Thread.run") and index + 1 < len(labels):
            return labels[index + 1].split(" (")[0]
    return "main thread (consumer loop)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("tuiq", "celery"), default="tuiq")
    parser.add_argument("--broker", choices=("redis", "rabbitmq", "embedded"), default="redis")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--duration", type=int, default=10, help="py-spy seconds")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--out", default=None, help="raw profile path")
    parser.add_argument("--wall", action="store_true",
                        help="sample wall time (idle and I/O waits included) instead of "
                             "only the threads holding the GIL (CPU)")
    args = parser.parse_args(argv)
    broker, backend = broker_urls(args.broker)
    queue = unique(f"prof-{args.engine}")
    app, task = client_app(args.engine, broker, None)
    raw = Path(args.out or LOG_DIR / f"profile-{args.engine}-{args.broker}.txt")
    worker = start_worker(args.engine, broker, backend, queue, ready_app=app)
    stop = threading.Event()

    def publish() -> None:
        for _ in range(args.n):
            if stop.is_set():
                return
            task.apply_async(task_id=str(uuid.uuid4()), queue=queue, ignore_result=True)

    try:
        time.sleep(0.3)
        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        time.sleep(0.5)  # a backlog first, so the worker is busy from the first sample
        note(f"py-spy on {args.engine} worker pid {worker.pid} for {args.duration}s")
        mode = ["--idle"] if args.wall else ["--gil"]
        subprocess.run([pyspy(), "record", "--pid", str(worker.pid), "--rate", str(args.rate),
                        "--duration", str(args.duration), "--format", "raw",
                        "--output", str(raw), *mode],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stop.set()
        publisher.join(timeout=10)
    finally:
        stop.set()
        worker.stop()
        close_app(args.engine, app)
        delete_queue(broker, queue)
    emit({"benchmark": "profile_worker", "engine": args.engine, "broker": args.broker,
          "sampling": "wall (idle included)" if args.wall else "GIL holders (CPU)",
          "raw_profile": str(raw), **summarize(raw, args.top)})


if __name__ == "__main__":
    main()
