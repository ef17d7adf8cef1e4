"""What each field of an ``inspect stats`` reply means (the Workers Guide's list).

The node detail's Stats tab shows every field of the reply, flattened to dotted keys,
with these explanations beside the ones the guide documents, including each
``getrusage(2)`` figure of ``rusage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Dotted stats key → what it means.
STATS_HELP: dict[str, str] = {
    "broker.connect_timeout": "seconds to wait when opening a broker connection",
    "broker.heartbeat": "AMQP heartbeat interval in seconds (set by the client)",
    "broker.hostname": "the broker's host",
    "broker.insist": "no longer used",
    "broker.login_method": "login method used to connect to the broker",
    "broker.port": "the broker's port",
    "broker.ssl": "whether SSL is on",
    "broker.transport": "transport (redis, amqp...)",
    "broker.transport_options": "options passed to the transport",
    "broker.uri_prefix": "URL scheme prefix some transports need (redis+socket://)",
    "broker.userid": "user id used to connect",
    "broker.virtual_host": "virtual host (the database number on Redis)",
    "clock": "the node's logical (Lamport) clock",
    "pid": "process id of the node's main process",
    "prefetch_count": "current prefetch count of the task consumer",
    "uptime": "seconds since the node started",
    "pool.implementation": "pool class",
    "pool.max-concurrency": "maximum number of processes / threads",
    "pool.max-tasks-per-child": "tasks a child runs before it is replaced",
    "pool.processes": "process ids of the pool's children",
    "pool.put-guarded-by-semaphore": "internal",
    "pool.timeouts": "default time limits [soft, hard]",
    "pool.writes": "prefork: how writes were spread over the children",
    "rusage.utime": "user CPU time used by the main process (seconds)",
    "rusage.stime": "system (kernel) CPU time used by the main process (seconds)",
    "rusage.maxrss": "maximum resident set size (kilobytes)",
    "rusage.idrss": "unshared data memory (kilobytes × ticks of execution)",
    "rusage.isrss": "unshared stack memory (kilobytes × ticks of execution)",
    "rusage.ixrss": "memory shared with other processes (kilobytes × ticks of execution)",
    "rusage.inblock": "times the file system read from disk for the process",
    "rusage.oublock": "times the file system wrote to disk for the process",
    "rusage.majflt": "page faults serviced by doing I/O",
    "rusage.minflt": "page faults serviced without I/O",
    "rusage.msgrcv": "IPC messages received",
    "rusage.msgsnd": "IPC messages sent",
    "rusage.nvcsw": "voluntary context switches",
    "rusage.nivcsw": "involuntary context switches",
    "rusage.nsignals": "signals received",
    "rusage.nswap": "times the process was swapped out of memory",
    "autoscaler.max": "autoscale: most processes",
    "autoscaler.min": "autoscale: fewest processes",
    "autoscaler.current": "autoscale: processes now",
    "autoscaler.qty": "autoscale: requests waiting",
}

#: Section order in the Stats tab; anything else follows in the reply's order.
SECTION_ORDER = ("pid", "uptime", "clock", "prefetch_count", "pool", "autoscaler", "rusage",
                 "broker", "total")


def stats_rows(stats: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """``(dotted key, value, meaning)`` for every field of a stats reply, in reading order.

    Nested dicts are flattened (``rusage.maxrss``); lists and empty dicts stay values;
    ``total`` lists one row per task name.
    """
    ordered = [key for key in SECTION_ORDER if key in stats]
    ordered += [key for key in stats if key not in SECTION_ORDER]
    rows: list[tuple[str, Any, str]] = []
    for key in ordered:
        rows.extend(_flatten(key, stats[key]))
    return rows


def _flatten(name: str, value: Any) -> list[tuple[str, Any, str]]:
    if isinstance(value, Mapping) and value:
        rows: list[tuple[str, Any, str]] = []
        for key, inner in value.items():
            rows.extend(_flatten(f"{name}.{key}", inner))
        return rows
    return [(name, value, STATS_HELP.get(name, _total_help(name)))]


def _total_help(name: str) -> str:
    if name.startswith("total."):
        return "tasks of this name accepted since the node started"
    return ""
