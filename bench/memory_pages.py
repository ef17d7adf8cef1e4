"""Where an idle prefork worker's memory goes, page by page: tuiq vs Celery.

    python -m bench.memory_pages [--broker redis|rabbitmq|embedded] [--settle 3] [--repeat 1]

Starts each engine's worker (prefork ``-c 2``, ``-l INFO``; Celery with its defaults),
waits for its ping, lets it idle ``--settle`` seconds, then reads every resident page
of the main process and of each pool child from ``/proc/<pid>/pagemap`` and compares
the physical frames at the same virtual address:

* ``shared_kib``: the frame is also mapped by another process of the tree (what the
  fork shares and nobody has written since);
* ``copied_kib``: the address is resident in another process of the tree, but with a
  different frame: a copy-on-write copy made after the fork (or the original that
  every other process copied away from);
* ``new_kib``: the address is resident in no other process (mappings made after
  the fork).

For the whole tree: ``unique_kib`` counts each physical frame once (the tree's own
footprint), ``copies_kib`` is what the copies add to the frames shared at fork
(per address, every frame after the first), and ``pss_kib`` is the kernel's
proportional set size summed over the tree, as ``startup.py`` reports it. Every
figure is split by mapping: ``anon`` (the Python heap's arenas), ``heap`` (malloc),
``file`` (libraries and their data) and ``stack``.

Reading frame numbers needs root (CAP_SYS_ADMIN): without it the kernel reports
zero frames and the script stops with a one-line error.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time
from collections import Counter, defaultdict
from typing import Any

from bench.common import (
    ENGINES,
    broker_urls,
    client_app,
    close_app,
    compile_sources,
    emit,
    note,
    parse_list,
    process_tree,
    pss_kib,
    start_worker,
    unique,
)

PAGE_KIB = 4
_PRESENT = 1 << 63
_FRAME_MASK = (1 << 55) - 1


def mapping_kind(name: str) -> str:
    """``anon``, ``heap``, ``stack``, ``file`` or another bracketed kernel name."""
    if not name:
        return "anon"
    if name.startswith("/"):
        return "file"
    return name.strip("[]").split(":")[0]


def resident_frames(pid: int) -> dict[int, tuple[int, str]]:
    """Virtual page address -> (physical frame, mapping kind) for every resident page."""
    frames: dict[int, tuple[int, str]] = {}
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            kind = mapping_kind(fields[5].strip() if len(fields) > 5 else "")
            if kind == "vsyscall":
                continue
            pagemap.seek((start >> 12) * 8)
            data = pagemap.read(((end - start) >> 12) * 8)
            for index, (entry,) in enumerate(struct.iter_unpack("Q", data)):
                if entry & _PRESENT:
                    frames[start + (index << 12)] = (entry & _FRAME_MASK, kind)
    return frames


def classify(tree: list[int]) -> dict[str, Any]:
    """Per-process shared/copied/new pages and the tree's unique frames and copies."""
    frames = {pid: resident_frames(pid) for pid in tree}
    if not any(frame for pages in frames.values() for frame, _ in pages.values()):
        raise SystemExit("memory_pages: page frame numbers read as 0: run as root")
    processes = []
    for role_index, pid in enumerate(tree):
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        others = [frames[other] for other in tree if other != pid]
        for address, (frame, kind) in frames[pid].items():
            seen = [pages[address][0] for pages in others if address in pages]
            state = "shared" if frame in seen else "copied" if seen else "new"
            counts[state][kind] += PAGE_KIB
        processes.append({
            "pid": pid, "role": "main" if role_index == 0 else "child",
            "pss_kib": pss_kib(pid),
            **{f"{state}_kib": dict(counts[state]) for state in ("shared", "copied", "new")},
        })
    by_address: dict[int, set[int]] = defaultdict(set)
    kinds: dict[int, str] = {}
    for pages in frames.values():
        for address, (frame, kind) in pages.items():
            by_address[address].add(frame)
            kinds[address] = kind
    unique_kib: Counter[str] = Counter()
    copies_kib: Counter[str] = Counter()
    for address, distinct in by_address.items():
        unique_kib[kinds[address]] += PAGE_KIB * len(distinct)
        copies_kib[kinds[address]] += PAGE_KIB * (len(distinct) - 1)
    return {
        "processes": processes,
        "tree": {
            "unique_kib": sum(unique_kib.values()), "unique_by_kind_kib": dict(unique_kib),
            "copies_kib": sum(copies_kib.values()), "copies_by_kind_kib": dict(copies_kib),
            "pss_kib": sum(p["pss_kib"] for p in processes),
        },
    }


def measure(engine: str, kind: str, settle: float) -> dict[str, Any]:
    """One idle worker of ``engine``, classified ``settle`` seconds after it answered."""
    broker, backend = broker_urls(kind)
    app, _ = client_app(engine, broker, None, fast_poll=True)
    options = {"celery_defaults": True} if engine == "celery" else {}
    worker = start_worker(engine, broker, backend, unique(f"mp-{engine}"), loglevel="INFO",
                          ready_app=app, **options)
    try:
        time.sleep(settle)
        tree = process_tree(worker.pid)
        if len(tree) != 3:
            raise SystemExit(f"memory_pages: expected a main process and 2 children, "
                             f"found {len(tree)} processes")
        return classify(tree)
    finally:
        worker.stop()
        close_app(engine, app)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="redis", choices=("redis", "rabbitmq", "embedded"))
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds idle after the ping before the pages are read")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    engines = parse_list(args.engines, ENGINES)
    compile_sources()
    runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
    for attempt in range(args.repeat):
        for engine in engines:
            note(f"{engine} run {attempt + 1}/{args.repeat}")
            runs[engine].append(measure(engine, args.broker, args.settle))
            note(f"  -> {runs[engine][-1]['tree']}")
    report: dict[str, Any] = {
        "benchmark": "memory_pages", "broker": args.broker, "settle_s": args.settle,
        "pool": "prefork", "concurrency": 2, "engines": runs,
    }
    if len(engines) == 2:
        last = {engine: runs[engine][-1]["tree"] for engine in engines}
        report["ratios"] = {
            key: round(last["tuiq"][key] / last["celery"][key], 3)
            for key in ("unique_kib", "copies_kib", "pss_kib")
        }
    emit(report)


if __name__ == "__main__":
    sys.exit(main())
