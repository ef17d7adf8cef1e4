"""Remote-control wall time: tuiq's ControlClient vs Celery's ``Inspect``, 1 and 3 workers.

    python -m bench.control [--repeat 10] [--broker redis|rabbitmq|embedded]
                            [--workers 1,3] [--engines celery,tuiq] [--cli-repeat 3]

For each worker engine and worker count, both clients broadcast ``ping`` and ``stats``
to every live node (no destination) with a 1 s timeout, in-process on a warm client:

* ``tuiq_ms``: ``ControlClient.broadcast`` (returns once the nodes found by its
  discovery ping have all replied);
* ``celery_ms``: ``celery_app.control.inspect(timeout=1).ping()`` / ``.stats()``
  (waits until replies have been silent for the whole timeout);
* ``celery_dest_ms``: the same with ``destination=[nodes]`` (Celery stops after
  len(destination) replies), the best case of Celery's client.

Whole commands: ``tuiq -b URL inspect ping`` vs ``celery -b URL inspect ping`` (process
spawn to exit). A node replying ``{"error": ...}`` (a command not implemented by that
engine) is reported in ``errors``. Prints one JSON object with medians (ms).
"""

from __future__ import annotations

import argparse
import subprocess
import time
from typing import Any

from bench.common import (
    CELERY,
    PYTHON,
    ROOT,
    broker_urls,
    client_app,
    close_app,
    delete_queue,
    emit,
    median,
    note,
    parse_list,
    ratio,
    start_worker,
    unique,
)

TIMEOUT = 1.0


def _timed(fn) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def _in_process(command: str, nodes: list[str], tclient, capp, repeat: int) -> dict[str, Any]:
    ours, theirs, theirs_dest, errors = [], [], [], {}
    for _ in range(repeat):
        ms, replies = _timed(lambda: tclient.broadcast(command, reply=True, timeout=TIMEOUT))
        if set(replies) != set(nodes):
            note(f"tuiq {command}: got {sorted(replies)} expected {nodes}")
        errors.update(replies.errors())
        ours.append(ms)
        ms, _ = _timed(lambda: getattr(capp.control.inspect(timeout=TIMEOUT), command)())
        theirs.append(ms)
        ms, _ = _timed(lambda: getattr(capp.control.inspect(destination=nodes,
                                                            timeout=TIMEOUT), command)())
        theirs_dest.append(ms)
    return {"tuiq_ms": round(median(ours), 1), "celery_ms": round(median(theirs), 1),
            "celery_dest_ms": round(median(theirs_dest), 1),
            "ratio": ratio(median(ours), median(theirs), 3),
            "ratio_dest": ratio(median(ours), median(theirs_dest), 3),
            "errors": {node: str(error)[:120] for node, error in errors.items()}}


def _cli(broker: str, repeat: int) -> dict[str, Any]:
    commands = {"tuiq": [PYTHON, "-m", "tuiq", "-b", broker, "inspect", "ping", "-j"],
                "celery": [CELERY, "-b", broker, "inspect", "ping", "-j"]}
    found: dict[str, Any] = {}
    for engine, command in commands.items():
        times = []
        for _ in range(repeat):
            ms, result = _timed(lambda c=command: subprocess.run(
                c, capture_output=True, text=True, cwd=str(ROOT), timeout=60))
            if result.returncode != 0:
                note(f"{engine} inspect ping failed: {result.stderr.strip()[-300:]}")
            times.append(ms)
        found[f"{engine}_ms"] = round(median(times), 1)
    found["ratio"] = ratio(found["tuiq_ms"], found["celery_ms"], 3)
    return found


def run(broker_kind: str, engine: str, count: int, repeat: int, cli_repeat: int) -> dict:
    """Start ``count`` workers of ``engine`` and time both clients against them."""
    broker, backend = broker_urls(broker_kind)
    queue = unique("bench-control")
    tapp, _ = client_app("tuiq", broker, backend)
    capp, _ = client_app("celery", broker, None)
    workers = []
    try:
        for _ in range(count):
            workers.append(start_worker(engine, broker, backend, queue,
                                        ready_app=tapp if engine == "tuiq" else capp))
        nodes = sorted(w.nodename for w in workers)
        note(f"{broker_kind}: {count} {engine} worker(s) ready")
        tclient = tapp.control
        tclient.broadcast("ping", reply=True, timeout=TIMEOUT)  # connect, declare reply queue
        report = {command: _in_process(command, nodes, tclient, capp, repeat)
                  for command in ("ping", "stats")}
        report["cli_inspect_ping"] = _cli(broker, cli_repeat)
        return report
    finally:
        for worker in workers:
            worker.stop()
        tapp.control.close()
        close_app("tuiq", tapp)
        close_app("celery", capp)
        delete_queue(broker, queue)


def main(argv: list[str] | None = None) -> None:
    """Parse options, run every combination and print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--cli-repeat", type=int, default=3)
    parser.add_argument("--broker", default="redis", choices=["redis", "rabbitmq", "embedded"])
    parser.add_argument("--workers", default="1,3")
    parser.add_argument("--engines", default="celery,tuiq")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.workers.split(",")]
    results: dict[str, Any] = {}
    for engine in parse_list(args.engines, ("celery", "tuiq")):
        for count in counts:
            results[f"{engine}_workers_{count}"] = run(args.broker, engine, count, args.repeat,
                                                       args.cli_repeat)
    emit({"benchmark": "control", "broker": args.broker, "timeout_s": TIMEOUT,
          "repeat": args.repeat, "results": results})


if __name__ == "__main__":
    main()
