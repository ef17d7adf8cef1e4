"""``Worker``: the lifecycle of a worker node, top to bottom.

``Worker.start()`` makes the pool, connects, starts the consumer and the
control node inside one kombu event loop, and runs until a shutdown is
requested. A lost connection is logged and re-established with back-off;
warm shutdown finishes what is running and hands back what is not.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Any

from kombu import Queue
from kombu.asynchronous import Hub

from tuiq import states
from tuiq.broker import mask_url
from tuiq.control.node import create_node, make_mailbox
from tuiq.exceptions import BrokerUnavailable
from tuiq.transport import enable_batching
from tuiq.transport import flush as flush_bookkeeping
from tuiq.worker import trace
from tuiq.worker.consumer import Consumer
from tuiq.worker.pool import create_pool
from tuiq.worker.signals import install_signal_handlers
from tuiq.worker.state import LimitedSet, WorkerStats

logger = logging.getLogger("tuiq.worker")

EXIT_OK = 0
EXIT_FAILURE = 1


class WorkerShutdown(Exception):
    """Raised inside the loop to leave it."""


class Worker:
    """A worker node: consumer, pool, control node and timers."""

    def __init__(self, app, hostname: str, concurrency: int | None = None,
                 pool: str = "prefork", queues: list[str] | None = None,
                 prefetch_multiplier: int | None = None, max_tasks_per_child: int | None = None,
                 max_memory_per_child: int | None = None, purge: bool = False,
                 send_events: bool = False, log_setup=None) -> None:
        self.app = app
        conf = app.conf
        self.hostname = hostname
        self.pool_kind = pool or conf.worker_pool
        self.concurrency = concurrency or conf.worker_concurrency or os.cpu_count() or 1
        if self.pool_kind == "solo":
            self.concurrency = 1
        self.prefetch_multiplier = prefetch_multiplier
        self.purge = purge
        self.send_events = send_events or conf.worker_send_task_events
        self.queues = self._select_queues(queues)
        self.pool = create_pool(
            self.pool_kind, self.concurrency,
            **({"max_tasks_per_child": max_tasks_per_child or conf.worker_max_tasks_per_child,
                "max_memory_per_child": max_memory_per_child
                or conf.worker_max_memory_per_child,
                "lost_wait": conf.worker_lost_wait, "log_setup": log_setup}
               if self.pool_kind == "prefork" else {}),
        )
        self.revoked = LimitedSet()
        #: Ids revoked with ``terminate``: a process killed for one is REVOKED, not lost.
        self.terminated = LimitedSet()
        self.stats = WorkerStats()
        self.stopping = False
        self.cold = False
        self.restart_requested = False
        self.shutdown_reason = ""
        self.consumer: Consumer | None = None
        self.exitcode = EXIT_OK
        self.ready_at: float | None = None

    # configuration ---------------------------------------------------------------
    def _select_queues(self, names: list[str] | None) -> dict[str, Queue]:
        if not names:
            return dict(self.app.queues())
        return {name: self.app.queue_for(name) for name in names}

    # lifecycle ------------------------------------------------------------------------
    def start(self) -> int:
        """Run the worker until it is shut down; returns the exit code."""
        trace.set_worker_app(self.app, self.hostname)
        self.app.import_modules()
        install_signal_handlers(self)
        self.pool.start()
        self.consumer = Consumer(self)
        try:
            self._run_connected()
        except KeyboardInterrupt:
            self.cold = True
            self.exitcode = EXIT_FAILURE
        finally:
            self._stop_pool()
        return self.exitcode

    def _connect(self, first: bool):
        from kombu.exceptions import OperationalError

        connection = self.app.connection()

        def errback(exc: BaseException, interval: float) -> None:
            logger.error("Cannot connect to %s: %s. Trying again in %.1fs...",
                         mask_url(self.app.broker_url), exc, interval)
            if self.stopping:
                raise WorkerShutdown()

        try:
            connection.ensure_connection(
                errback=errback, max_retries=None if not first else 0,
                interval_start=1, interval_step=2, interval_max=10,
            )
        except (OperationalError, OSError) as exc:
            raise BrokerLost(f"cannot reach broker {mask_url(self.app.broker_url)}: {exc}") \
                from exc
        return connection

    def _run_connected(self) -> None:
        first = True
        while not self.stopping:
            try:
                # The first connection fails fast (one clear error); later ones
                # retry with back-off inside ensure_connection until they succeed.
                connection = self._connect(first)
            except WorkerShutdown:
                return
            try:
                self._serve(connection, first)
                return
            except connection.connection_errors + connection.channel_errors + (OSError,) as exc:
                logger.error("Connection to broker lost: %r. Reconnecting...", exc)
                if self.consumer is not None:
                    self.consumer.detach()
            finally:
                try:
                    connection.release()
                except Exception:  # noqa: BLE001 - closing a dead connection may fail
                    pass
            first = False
            self._sleep_interruptibly(1.0)

    def _sleep_interruptibly(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.05)

    def _serve(self, connection, first: bool) -> None:
        hub = Hub()
        connection.transport.register_with_event_loop(connection.connection, hub)
        if not connection.transport.implements.asynchronous:
            # Polling transports (filesystem://) have no socket for the loop to
            # watch: poll them from a timer instead.
            interval = min(float(connection.transport.polling_interval or 0.1), 0.1)
            hub.call_repeatedly(interval, self._poll_transport, connection)
        self._enable_amqp_heartbeats(hub, connection)
        if first and self.purge:
            count = self._purge(connection)
            logger.warning("Purged %d message(s) from %s", count, ", ".join(self.queues))
        consumer = self.consumer
        # Batching must be on before the first delivery, so every delivery tag is
        # known when acks are grouped.
        enable_batching(connection.default_channel)
        consumer.attach(connection, hub)
        mailbox = make_mailbox(self.app)
        node = create_node(self.app, mailbox, self.hostname, ControlState(self),
                           connection.channel())
        node.listen(callback=_guarded(node.handle_message))
        if first:
            self.ready_at = time.monotonic()
            logger.info("%s ready.", self.hostname)
        else:
            logger.warning("Reconnected to broker %s", mask_url(self.app.broker_url))
        hub.propagate_errors = connection.connection_errors
        loop = hub.create_loop()
        channel = connection.default_channel
        try:
            while True:
                if self.stopping:
                    if not self._drain_for_shutdown(consumer):
                        break
                consumer.run_inbox()
                if consumer.qos.prev != consumer.qos.value:
                    consumer.qos.update()
                # Deliveries and acks of the last pass reach Redis in one pipeline,
                # before the loop may block waiting for the next event.
                flush_bookkeeping(channel)
                try:
                    next(loop)
                except StopIteration:
                    loop = hub.create_loop()
        finally:
            try:
                hub.reset()
            except Exception:  # noqa: BLE001
                logger.debug("hub reset failed", exc_info=True)
        self._finish_shutdown(consumer)

    def _poll_transport(self, connection) -> None:
        """Take what a polling transport has ready, up to the prefetch window."""
        for _ in range(max(self.consumer.prefetch_count(), 1)):
            try:
                connection.drain_events(timeout=0)
            except TimeoutError:
                return

    def _drain_for_shutdown(self, consumer: Consumer) -> bool:
        """Keep the loop alive while running tasks finish; False when done."""
        if not getattr(self, "_shutdown_started", False):
            self._shutdown_started = True
            consumer.stop_consuming()
            handed = consumer.hand_back()
            if handed:
                logger.info("Handed back %d task(s) that had not started", handed)
            if self.cold:
                return False
            if consumer.active:
                logger.info("Waiting for %d running task(s) to finish...", len(consumer.active))
        if self.cold:
            return False
        return bool(consumer.active)

    def _finish_shutdown(self, consumer: Consumer) -> None:
        consumer.run_inbox()
        if consumer.connection is not None:
            flush_bookkeeping(consumer.connection.default_channel)

    def _enable_amqp_heartbeats(self, hub: Hub, connection) -> None:
        interval = connection.get_heartbeat_interval()
        if interval and connection.supports_heartbeats:
            hub.call_repeatedly(interval / 2.0, connection.heartbeat_check, 2.0)

    def _purge(self, connection) -> int:
        count = 0
        channel = connection.default_channel
        for queue in self.queues.values():
            bound = queue(channel)
            bound.declare()
            count += bound.purge() or 0
        return count

    def _stop_pool(self) -> None:
        if self.cold:
            logger.warning("Cold shutdown: terminating pool processes")
            self.pool.terminate()
        else:
            self.pool.stop()
        self.app.close()

    def request_shutdown(self, reason: str = "", cold: bool = False) -> None:
        """Begin a warm (or cold) shutdown; safe to call from a signal handler.

        A cold shutdown kills running tasks, so the worker then exits with
        status 1, as Celery does (``EX_FAILURE``); a warm one exits with 0.
        """
        if cold and not self.cold:
            self.cold = True
            self.exitcode = EXIT_FAILURE
            if self.stopping:  # a warm shutdown escalated (INT twice): say so
                logger.warning("%s: cold shutdown", reason or "shutdown")
        if not self.stopping:
            self.stopping = True
            self.shutdown_reason = reason
            logger.warning("%s: %s shutdown", reason or "shutdown", "cold" if cold else "warm")
        if self.consumer is not None:
            self.consumer.call_in_loop(lambda: None)

    # task notifications (logging now; events build on these) ---------------------------
    def stats_received(self, request) -> None:
        """A task message was accepted for this worker."""

    def on_task_started(self, request) -> None:
        """A pool process started ``request``."""

    def on_task_finished(self, request, summary: dict[str, Any]) -> None:
        """Log a task's outcome."""
        state = summary["state"]
        runtime = summary.get("runtime", 0.0)
        if state == states.SUCCESS:
            logger.info("Task %s[%s] succeeded in %.6fs: %s", request.name, request.id,
                        runtime, summary.get("result"))
        elif state == states.FAILURE:
            if summary.get("expected"):
                logger.info("Task %s[%s] raised expected: %s", request.name, request.id,
                            summary.get("exception"))
            else:
                logger.error("Task %s[%s] raised unexpected: %s\n%s", request.name, request.id,
                             summary.get("exception"), summary.get("traceback", "").rstrip())
        elif state == states.RETRY:
            logger.info("Task %s[%s] retry: %s", request.name, request.id,
                        summary.get("reason"))
        elif state == states.REJECTED:
            logger.info("Task %s[%s] rejected (requeue=%s)", request.name, request.id,
                        summary.get("requeue"))
        elif state == states.IGNORED:
            logger.info("Task %s[%s] ignored", request.name, request.id)

    def on_task_failed_early(self, task_message, exc: BaseException) -> None:
        """A task failed before it could run (unregistered)."""

    def on_task_revoked(self, request, expired: bool = False) -> None:
        """A task was discarded because it was revoked or expired."""

    def on_task_rejected(self, request, requeue: bool) -> None:
        """A task's message was rejected."""


def _guarded(handle_message):
    """Wrap the control node's handler: a malformed command is logged, never fatal."""
    def on_message(body, message) -> None:
        try:
            if not isinstance(body, dict):
                raise TypeError(f"control message body is a {type(body).__name__}, not a dict")
            handle_message(body, message)
        except Exception as exc:  # noqa: BLE001 - one bad broadcast must not stop workers
            logger.error("Ignored malformed control message: %r", exc)

    return on_message


class BrokerLost(BrokerUnavailable):
    """The broker could not be reached at start-up."""


class ControlState:
    """What remote-control handlers see of the worker."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.app = worker.app
        self.hostname = worker.hostname

    @property
    def consumer(self) -> Consumer:
        """The worker's consumer."""
        return self.worker.consumer

    def revoke(self, ids: list[str], terminate: bool = False,
               signal: str | None = None) -> dict[str, Any]:
        """Mark ``ids`` revoked; terminate the running ones if asked."""
        worker = self.worker
        worker.revoked.update(ids)
        if terminate:
            signum = _signal_number(signal or "SIGTERM")
            worker.terminated.update(ids)
            killed = [task_id for task_id in ids if worker.consumer.terminate(task_id, signum)]
            if not killed:
                return {"ok": "terminate: tasks unknown"}
            return {"ok": f"terminate: {', '.join(killed)}"}
        active = {request.id for request in worker.consumer.active}
        for task_id in ids:
            if task_id not in active:
                self._store_revoked_if_pending(task_id)
        return {"ok": f"tasks {set(ids)!r} flagged as revoked"}

    def _store_revoked_if_pending(self, task_id: str) -> None:
        try:
            backend = self.app.backend
            meta = backend.get_task_meta(task_id)
            if meta.get("status") in (states.PENDING, states.RECEIVED, states.RETRY,
                                      states.REJECTED):
                backend.mark_as_revoked(task_id, "revoked")
        except Exception as exc:  # noqa: BLE001 - revoking must work without a backend
            logger.debug("could not store REVOKED for %s: %r", task_id, exc)

    def request_shutdown(self, reason: str) -> None:
        """Warm shutdown by remote command."""
        self.worker.request_shutdown(reason)


def _signal_number(name: str | int) -> int:
    if isinstance(name, int):
        return name
    text = str(name).upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(getattr(signal, text))
    except AttributeError:
        raise ValueError(f"unknown signal: {name}") from None


def flush_streams() -> None:
    """Flush stdout and stderr (before exec or exit)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
