"""Worker start-up time and idle memory, prefork c=2: tuiq vs Celery.

    python -m bench.startup [--repeat 5] [--broker redis|rabbitmq|embedded] [--settle 2]

Variants: ``tuiq``; ``celery`` with its defaults (mingle, gossip and heartbeat on);
``celery_without_mingle`` (``--without-mingle`` only). Workers log at INFO so the
"ready." line is written.

Per run:

* ``ping_s``: process spawn until the node's ``ping`` reply is received. The client pings
  in a loop (``--ping-timeout`` each, default 50 ms); a ping sent before the node listens
  is lost, so this is an upper bound with about that much resolution. Celery's control
  client pings every worker (``--ping-client celery``, the wire is the same): tuiq's own
  ``control.ping`` closes its connection after each call, which waits for kombu's pending
  BRPOP on Redis. The client's kombu ``polling_interval`` (BRPOP timeout) is 20 ms: with
  the default 1 s, a reply is only read once the BRPOP on the previous reply queue ends.
* ``ready_log_s``: spawn until the time stamp of the worker's "<node> ready." log line
  (its own clock, millisecond resolution).
* ``rss_kib`` / ``pss_kib``: VmRSS summed over the main process and all its descendants
  (``/proc/<pid>/status``) and the proportional set size (``smaps_rollup``, shared pages
  split between processes), ``--settle`` seconds after ping.

Prints one JSON object with the medians and the ratios tuiq/celery (lower is better).
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import datetime
from typing import Any

from bench.common import (
    broker_urls,
    client_app,
    close_app,
    compile_sources,
    delete_queue,
    emit,
    median,
    note,
    ping,
    pss_kib,
    ratio,
    start_worker,
    status_kib,
    unique,
)

VARIANTS = {
    "tuiq": ("tuiq", {}),
    "celery": ("celery", {"celery_defaults": True}),
    "celery_without_mingle": ("celery", {"celery_defaults": True,
                                         "extra": ["--without-mingle"]}),
}
_READY = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})[^\]]*\]\s+\S+ ready\.")


def ready_log_time(text: str) -> float | None:
    """The wall-clock time stamp of the "ready." line, or None."""
    match = _READY.search(text)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def measure(variant: str, kind: str, settle: float, ping_timeout: float,
            ping_client: str) -> dict[str, Any]:
    """One start: time to ping, time to the ready line, idle memory."""
    engine, options = VARIANTS[variant]
    broker, backend = broker_urls(kind)
    queue = unique(f"su-{engine}")
    pinger = engine if ping_client == "own" else "celery"
    app, _ = client_app(pinger, broker, None, fast_poll=True)
    ping(pinger, app, "nobody@nowhere", timeout=0.05)  # warm the client's imports
    compile_sources()  # once, and not inside the timed span
    wall_spawn = time.time()
    worker = start_worker(engine, broker, backend, queue, loglevel="INFO", **options)
    try:
        deadline = time.monotonic() + 30
        while True:
            worker.check_alive()
            if ping(pinger, app, worker.nodename, timeout=ping_timeout):
                ping_s = time.monotonic() - worker.spawned
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"no ping reply:\n{worker.log()[-2000:]}")
        time.sleep(settle)
        pids = worker.tree()
        rss = {pid: status_kib(pid) for pid in pids}
        pss = sum(pss_kib(pid) for pid in pids)
        log_ready = ready_log_time(worker.log())
    finally:
        worker.stop()
        close_app(pinger, app)
        delete_queue(broker, queue)
    # Popen returns after the fork; wall_spawn is taken just before it.
    return {
        "ping_s": round(ping_s, 3),
        "ready_log_s": round(log_ready - wall_spawn, 3) if log_ready else None,
        "rss_kib": sum(rss.values()),
        "rss_main_kib": rss[pids[0]],
        "pss_kib": pss,
        "processes": len(pids),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--broker", default="redis", choices=("redis", "rabbitmq", "embedded"))
    parser.add_argument("--settle", type=float, default=2.0,
                        help="seconds idle after ping before memory is read")
    parser.add_argument("--ping-timeout", type=float, default=0.05)
    parser.add_argument("--ping-client", choices=("celery", "own"), default="celery",
                        help="who pings: Celery's client for every worker (default), or "
                             "each engine's own")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for attempt in range(args.repeat):
        for variant in variants:  # interleaved, so drift hits every variant alike
            note(f"{variant} run {attempt + 1}/{args.repeat}")
            runs[variant].append(measure(variant, args.broker, args.settle, args.ping_timeout,
                                         args.ping_client))
            note(f"  -> {runs[variant][-1]}")
    report: dict[str, Any] = {
        "benchmark": "startup", "broker": args.broker, "repeat": args.repeat,
        "pool": "prefork", "concurrency": 2, "loglevel": "INFO",
        "ping_client": args.ping_client, "variants": {},
    }
    for variant, results in runs.items():
        summary: dict[str, Any] = {}
        for key in ("ping_s", "ready_log_s", "rss_kib", "rss_main_kib", "pss_kib"):
            values = [r[key] for r in results if r[key] is not None]
            summary[key] = round(median(values), 3) if values else None
        summary["processes"] = results[0]["processes"]
        summary["runs_ping_s"] = [r["ping_s"] for r in results]
        summary["runs_ready_log_s"] = [r["ready_log_s"] for r in results]
        report["variants"][variant] = summary
    tuiq = report["variants"].get("tuiq")
    ratios: dict[str, Any] = {}
    for other in ("celery", "celery_without_mingle"):
        peer = report["variants"].get(other)
        if tuiq and peer:
            ratios[f"tuiq/{other}"] = {
                key: ratio(tuiq[key], peer[key])
                for key in ("ping_s", "ready_log_s", "rss_kib", "pss_kib")
            }
    report["ratios"] = ratios
    emit(report)


if __name__ == "__main__":
    main()
