"""The figures of a node as the console shows them, read from a ``WorkerInfo``.

Events give liveness, software, active/processed counts and load; the ``stats`` poll gives
the pool, CPU and memory use and uptime; ``active_queues`` the queues. A figure whose poll
has not answered yet is the missing mark, never a guess.
"""

from __future__ import annotations

from typing import Any

from tuiq.events.models import WorkerInfo
from tuiq.tui.views import formatting as fmt

#: ``sw_ident`` → the short name shown for the node's software.
SOFTWARE = {"py-celery": "celery", "py-tuiq": "tuiq"}
#: A pool class name that says nothing by itself (Celery's ``<module>:TaskPool``).
_GENERIC_POOL = "TaskPool"
#: Celery's pool modules, by the name users pass to ``--pool``.
_POOL_MODULES = {"thread": "threads"}


def software(worker: WorkerInfo) -> str:
    """``tuiq`` or ``celery`` (or the raw ``sw_ident`` of anything else)."""
    if worker.sw_ident is None:
        return fmt.MISSING
    return SOFTWARE.get(worker.sw_ident, worker.sw_ident)


def software_version(worker: WorkerInfo) -> str:
    """``tuiq 0.1.0 (Linux)``: ident, version and system as the events report them."""
    parts = [software(worker)]
    if worker.sw_ver:
        parts.append(worker.sw_ver)
    if worker.sw_sys:
        parts.append(f"({worker.sw_sys})")
    return " ".join(parts)


def stats_section(worker: WorkerInfo, name: str) -> dict[str, Any]:
    """One dict-valued section of the ``stats`` reply (empty when absent or "N/A")."""
    stats = worker.stats or {}
    section = stats.get(name)
    return section if isinstance(section, dict) else {}


def pool_name(implementation: Any) -> str:
    """The pool's short name: ``tuiq.worker.pool:PreforkPool`` → ``prefork``.

    Celery names its pools ``celery.concurrency.<name>:TaskPool``; the module tells.
    """
    if not isinstance(implementation, str) or not implementation:
        return fmt.MISSING
    module, _, cls = implementation.rpartition(":")
    if cls == _GENERIC_POOL or not cls:
        name = module.rsplit(".", 1)[-1]
        return _POOL_MODULES.get(name, name)
    name = cls[: -len("Pool")] if cls.endswith("Pool") and len(cls) > 4 else cls
    return name.lower()


def pool_label(worker: WorkerInfo) -> str:
    """Pool and concurrency: ``prefork/4``, or ``prefork/2-8`` when autoscaling."""
    pool = stats_section(worker, "pool")
    if not pool:
        return fmt.MISSING
    name = pool_name(pool.get("implementation"))
    scaler = stats_section(worker, "autoscaler")
    if scaler.get("min") is not None and scaler.get("max") is not None:
        return f"{name}/{scaler['min']}-{scaler['max']}"
    concurrency = pool.get("max-concurrency")
    return f"{name}/{concurrency}" if concurrency is not None else name


def list_length(values: list | None) -> str:
    """The length of a polled list, or the missing mark before the first poll."""
    return fmt.MISSING if values is None else str(len(values))


def cpu_times(worker: WorkerInfo) -> str:
    """User and system CPU seconds of the node's main process (``rusage``)."""
    rusage = stats_section(worker, "rusage")
    return fmt.seconds_pair(rusage.get("utime"), rusage.get("stime"))


def max_rss(worker: WorkerInfo) -> str:
    """Peak resident memory of the node's main process (``rusage.maxrss``, KiB)."""
    return fmt.kilobytes(stats_section(worker, "rusage").get("maxrss"))


def uptime_seconds(worker: WorkerInfo, now: float) -> float | None:
    """Seconds since the node started, counted on from the last ``stats`` poll."""
    stats = worker.stats or {}
    uptime = stats.get("uptime")
    if not isinstance(uptime, int | float) or worker.inspected_at is None:
        return None
    return uptime + max(now - worker.inspected_at, 0.0)


def uptime_label(worker: WorkerInfo, now: float) -> str:
    """The node's uptime while it is alive; the missing mark once it is offline."""
    if not worker.alive(now):
        return fmt.MISSING
    return fmt.uptime(uptime_seconds(worker, now))


def queue_names(worker: WorkerInfo) -> str:
    """The queues the node consumes from (``active_queues``), comma separated."""
    if worker.queues is None:
        return fmt.MISSING
    names = [str(q.get("name")) if isinstance(q, dict) else str(q) for q in worker.queues]
    return ", ".join(names) if names else "(none)"
