"""``ControlState``: what remote-control handlers see of the worker, and the changes they make.

Handlers run on the worker's loop thread (the control node lives in the same
event loop), so they read and change the consumer directly; no command waits
behind a running task.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from kombu import Queue

from tuiq import states
from tuiq.control.builtin.replies import nok, ok, signal_number
from tuiq.worker import introspect
from tuiq.worker.ratelimit import parse_rate

if TYPE_CHECKING:
    from tuiq.worker.consumer import Consumer
    from tuiq.worker.worker import Worker

logger = logging.getLogger("tuiq.worker")


class ControlState:
    """The worker as remote-control commands see it (``state`` in a handler)."""

    log = logger

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.app = worker.app
        self.hostname = worker.hostname

    @property
    def consumer(self) -> Consumer:
        """The worker's consumer (``state.consumer.qos`` and so on, as in Celery)."""
        return self.worker.consumer

    # revokes ---------------------------------------------------------------------
    def revoke(self, ids: list[str], terminate: bool = False,
               signal: str | None = None) -> dict[str, Any]:
        """Mark ``ids`` revoked; terminate the running ones if asked."""
        worker = self.worker
        try:
            signum = signal_number(signal or "SIGTERM") if terminate else None
        except ValueError as exc:
            return nok(str(exc))
        worker.revoked.update(ids)
        worker.revokes_changed()
        wanted = set(ids)
        self.consumer.call_off(lambda request: request.id in wanted, "revoked")
        running = {request.id for request in self.consumer.active}
        for task_id in ids:
            if task_id not in running:
                self._store_revoked_if_pending(task_id)
        if not terminate:
            logger.info("Tasks flagged as revoked: %s", ", ".join(ids))
            return ok(f"tasks {set(ids)!r} flagged as revoked")
        if not _can_terminate(self.worker.pool):
            return nok(f"terminate: the {self.worker.pool_kind} pool cannot terminate running "
                       f"tasks; {', '.join(ids)} flagged as revoked")
        worker.terminated.update(ids)
        killed = [task_id for task_id in ids if self.consumer.terminate(task_id, signum)]
        if not killed:
            return ok("terminate: tasks unknown")
        logger.info("Terminating %s (%s)", ", ".join(killed), signum)
        return ok(f"terminate: {', '.join(killed)}")

    def revoke_stamped(self, headers: dict[str, Any], terminate: bool,
                       signal: str | None) -> dict[str, Any]:
        """Revoke by stamp values; with ``terminate``, kill running tasks that match."""
        try:
            signum = signal_number(signal or "SIGTERM") if terminate else None
        except ValueError as exc:
            return nok(str(exc))
        stamps = self.worker.revoked_stamps
        for name, values in headers.items():
            stamps.setdefault(name, set()).update(_as_list(values))
        self.consumer.call_off(lambda request: bool(request.matching_stamps(headers)), "revoked")
        if not terminate:
            return ok(f"headers {headers} flagged as revoked, but not terminated")
        if not _can_terminate(self.worker.pool):
            return nok(f"terminate: the {self.worker.pool_kind} pool cannot terminate running "
                       f"tasks; headers {headers} flagged as revoked")
        matched: dict[str, set[str]] = {}
        for request in list(self.consumer.active):
            hits = request.matching_stamps(headers)
            if hits:
                for name, values in hits.items():
                    matched.setdefault(name, set()).update(values)
                self.worker.terminated.add(request.id)
                self.consumer.terminate(request.id, signum)
        if not matched:
            return ok(f"headers {headers} were not terminated")
        return ok(f"headers {matched} revoked")

    def _store_revoked_if_pending(self, task_id: str) -> None:
        try:
            backend = self.app.backend
            meta = backend.get_task_meta(task_id)
            if meta.get("status") in (states.PENDING, states.RECEIVED, states.RETRY,
                                      states.REJECTED):
                backend.mark_as_revoked(task_id, "revoked")
        except Exception as exc:  # noqa: BLE001 - revoking must work without a backend
            logger.debug("could not store REVOKED for %s: %r", task_id, exc)

    def hello(self, from_node: str, revoked: Any) -> dict[str, Any] | None:
        """Merge a starting node's revoked ids and reply with ours (mingle)."""
        if from_node == self.hostname:
            return None
        logger.info("sync with %s", from_node)
        self.worker.merge_revoked(revoked)
        self.worker.revoked.purge()
        return {"revoked": self.worker.revoked.as_list(), "clock": self.app.clock.forward()}

    # task lists ------------------------------------------------------------------
    def active(self, safe: bool = False) -> list[dict[str, Any]]:
        """TASK_INFO of each running task."""
        return [request.info(safe=safe) for request in self.consumer.running_requests()]

    def reserved(self) -> list[dict[str, Any]]:
        """TASK_INFO of each task waiting for a process (not ETA-scheduled)."""
        return [request.info() for request in self.consumer.reserved_requests()]

    def scheduled(self) -> list[dict[str, Any]]:
        """Each ETA task: ``{"eta", "priority", "request"}`` (priority as Celery's timer's)."""
        return [{"eta": request.task_message.headers.get("eta"), "priority": 6,
                 "request": request.info()}
                for request, _ in sorted(self.consumer.scheduled.values(),
                                         key=lambda entry: entry[1])]

    def query_task(self, ids: list[str]) -> dict[str, Any]:
        """``{id: [where, TASK_INFO]}`` for the wanted ids this worker holds."""
        wanted = set(ids)
        consumer = self.consumer
        found: dict[str, Any] = {}
        places = (("active", consumer.running_requests()),
                  ("reserved", consumer.reserved_requests()),
                  ("scheduled", [r for r, _ in consumer.scheduled.values()]))
        for where, requests in places:
            for request in requests:
                if request.id in wanted and request.id not in found:
                    found[request.id] = [where, request.info()]
        return found

    # statistics ------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Celery's ``stats`` reply."""
        worker = self.worker
        consumer = self.consumer
        conf = self.app.conf
        pool = dict(worker.pool.info())
        if "timeouts" in pool:
            pool["timeouts"] = [conf.task_soft_time_limit or 0, conf.task_time_limit or 0]
        reply = {
            "total": dict(worker.stats.total),
            "pid": os.getpid(),
            "clock": str(self.app.clock.value),
            "uptime": round(time.time() - worker.stats.started_at),
            "pool": pool,
            "broker": introspect.broker_info(consumer.connection),
            "prefetch_count": consumer.qos.value if consumer.qos is not None else 0,
            "rusage": introspect.rusage(),
        }
        if worker.autoscaler is not None:
            reply["autoscaler"] = worker.autoscaler.info()
        return reply

    def conf(self, with_defaults: bool = False) -> dict[str, Any]:
        """Settings, masked and JSON-safe."""
        return introspect.configuration(self.app, with_defaults)

    def report(self) -> str:
        """The bug-report text."""
        return introspect.report(self.app)

    def memsample(self) -> str:
        """Sample resident memory."""
        return self.worker.memory.sample()

    def memdump(self, count: int) -> str:
        """Summarise memory samples."""
        return self.worker.memory.dump(count)

    # limits ----------------------------------------------------------------------
    def set_rate_limit(self, task_name: str, rate: Any) -> dict[str, Any]:
        """Change a task type's rate limit; waiting tasks follow the new rate."""
        try:
            per_second = parse_rate(rate)
        except ValueError as exc:
            return nok(str(exc))
        task = self.app.tasks.get(task_name)
        if task is None:
            logger.error("Rate limit attempt for unknown task %s", task_name)
            return nok("unknown task")
        task.rate_limit = rate if per_second else None
        self.consumer.reset_rate_limits()
        if not per_second:
            logger.info("Rate limits disabled for tasks of type %s", task_name)
            return ok("rate limit disabled successfully")
        logger.info("New rate limit for tasks of type %s: %s.", task_name, rate)
        return ok("new rate limit set successfully")

    # queues ----------------------------------------------------------------------
    def add_consumer(self, name: str, exchange: str | None, exchange_type: str,
                     routing_key: str | None, **options: Any) -> None:
        """Consume ``name`` too (declaring it); nothing happens if already consumed."""
        worker = self.worker
        if name in worker.queues:
            return
        known = self.app.queues().get(name)
        if known is not None and exchange is None and routing_key is None and not options:
            queue = known
        else:
            queue = Queue.from_dict(name, exchange=exchange or name,
                                    exchange_type=exchange_type or "direct",
                                    routing_key=routing_key or name, **options)
        worker.queues[name] = queue
        self.consumer.add_queue(queue)
        logger.info("Started consuming from %s", name)

    def cancel_consumer(self, name: str) -> None:
        """Stop consuming ``name``."""
        if self.worker.queues.pop(name, None) is not None:
            self.consumer.cancel_queue(name)
            logger.info("Stopped consuming from %s", name)

    def active_queues(self) -> list[dict[str, Any]]:
        """The consumed queues as kombu dicts."""
        return [introspect.json_safe(dict(queue.as_dict(recurse=True)))
                for queue in self.worker.queues.values()]

    # pool ------------------------------------------------------------------------
    def resize_pool(self, delta: int) -> dict[str, Any]:
        """Grow (``delta`` > 0) or shrink the pool and the prefetch window with it."""
        verb = "grow" if delta > 0 else "shrink"
        if self.worker.autoscaler is not None:
            return nok(f"pool_{verb} is not supported with autoscale. "
                       "Adjust autoscale range instead.")
        if delta == 0:
            return ok(f"pool will {verb}")
        try:
            self.worker.resize_pool(delta)
        except (NotImplementedError, ValueError) as exc:
            return nok(f"pool_{verb}: {exc}")
        return ok(f"pool will {verb}")

    def restart_pool(self, modules: Any, reload: bool) -> dict[str, Any]:
        """Import (or reload) ``modules`` here, then replace every pool process."""
        if not self.app.conf.worker_pool_restarts:
            return nok("Pool restarts not enabled (set worker_pool_restarts = True)")
        for name in _as_list(modules):
            try:
                if name in sys.modules and reload:
                    importlib.reload(sys.modules[name])
                else:
                    importlib.import_module(name)
            except Exception as exc:  # noqa: BLE001 - reported to the caller
                return nok(f"pool_restart: cannot import {name}: {exc!r}")
        try:
            self.worker.pool.restart()
        except NotImplementedError as exc:
            return nok(f"pool_restart: {exc}")
        logger.info("Pool restart: replacing every pool process")
        return ok("reload started")

    def autoscale(self, maximum: int | None, minimum: int | None) -> dict[str, Any]:
        """Change the autoscale range."""
        autoscaler = self.worker.autoscaler
        if autoscaler is None:
            return nok("Autoscale not enabled (start the worker with --autoscale=MAX,MIN)")
        try:
            new_max, new_min = autoscaler.update(maximum, minimum)
        except ValueError as exc:
            return nok(f"autoscale: {exc}")
        return ok(f"autoscale now max={new_max} min={new_min}")

    # events ----------------------------------------------------------------------
    def set_events(self, enabled: bool) -> dict[str, Any]:
        """Turn task events on or off."""
        worker = self.worker
        word = "enabled" if enabled else "disabled"
        if worker.send_events == enabled:
            return ok(f"task events already {word}")
        worker.send_events = enabled
        logger.info("Events of group {task} %s by remote.", word)
        return ok(f"task events {word}")

    def heartbeat(self) -> None:
        """Send a heartbeat event now, if the worker sends events."""
        send = getattr(self.worker, "send_heartbeat", None)
        if send is not None:
            send()

    def request_shutdown(self, reason: str) -> None:
        """Warm shutdown by remote command (the worker logs the reason once)."""
        self.worker.request_shutdown(reason)


def _can_terminate(pool) -> bool:
    return bool(getattr(pool, "can_terminate", False))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return list(value)
    return [value]
