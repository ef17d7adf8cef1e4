"""``Worker``: the lifecycle of a worker node, top to bottom.

``Worker.start()`` makes the pool, connects, starts the consumer and the
control node inside one kombu event loop, and runs until a shutdown is
requested. A lost connection is logged and re-established with back-off;
warm shutdown finishes what is running and hands back what is not.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

from kombu import Queue
from kombu.asynchronous import Hub

from tuiq import states
from tuiq.broker import mask_url
from tuiq.control.node import create_node, make_mailbox
from tuiq.events.dispatcher import EventDispatcher
from tuiq.exceptions import BrokerUnavailable, TuiqError
from tuiq.transport import enable_batching
from tuiq.transport import flush as flush_bookkeeping
from tuiq.worker import trace
from tuiq.worker.consumer import Consumer
from tuiq.worker.control_state import ControlState
from tuiq.worker.heartbeat import Heart
from tuiq.worker.introspect import MemorySampler
from tuiq.worker.mingle import MINGLE_TRANSPORTS, start_mingle
from tuiq.worker.pool import create_pool
from tuiq.worker.signals import install_signal_handlers
from tuiq.worker.state import LimitedSet, WorkerStats
from tuiq.worker.statedb import StateDB

logger = logging.getLogger("tuiq.worker")

EXIT_OK = 0
EXIT_FAILURE = 1


#: Seconds a warm shutdown waits for jobs that no pool process has taken.
UNSTARTED_WAIT = 5.0


class WorkerShutdown(Exception):
    """Raised inside the loop to leave it."""


class PoolStartFailed(TuiqError):
    """The pool's processes could not be started (a fork refused, for instance)."""


class Worker:
    """A worker node: consumer, pool, control node and timers."""

    def __init__(self, app, hostname: str, concurrency: int | None = None,
                 pool: str = "prefork", queues: list[str] | None = None,
                 prefetch_multiplier: int | None = None, max_tasks_per_child: int | None = None,
                 max_memory_per_child: int | None = None, purge: bool = False,
                 send_events: bool = False, log_setup=None,
                 autoscale: tuple[int, int] | None = None, statedb: str | None = None,
                 mingle: bool = True, heartbeat: bool = True,
                 heartbeat_interval: float | None = None) -> None:
        self.app = app
        conf = app.conf
        self.hostname = hostname
        self.pool_kind = pool or conf.worker_pool
        self.concurrency = concurrency or conf.worker_concurrency or os.cpu_count() or 1
        if self.pool_kind == "solo":
            self.concurrency = 1
            autoscale = None
        if autoscale:
            # The pool starts small; the autoscaler grows it (never below one process).
            self.concurrency = max(autoscale[1], 1)
        self.prefetch_multiplier = prefetch_multiplier
        self.purge = purge
        #: Monitoring events: worker events unless ``heartbeat`` is off, task events
        #: with ``send_events`` (``-E``) until ``disable_events``.
        self.events = EventDispatcher(
            app, hostname, task_events=bool(send_events or conf.worker_send_task_events),
            worker_events=heartbeat)
        self.heartbeat_interval = _positive_seconds(
            heartbeat_interval or conf.worker_heartbeat_interval, "worker_heartbeat_interval")
        self.heart: Heart | None = None
        self.queues = self._select_queues(queues)
        self.pool = create_pool(
            self.pool_kind, self.concurrency,
            **({"max_tasks_per_child": max_tasks_per_child or conf.worker_max_tasks_per_child,
                "max_memory_per_child": max_memory_per_child
                or conf.worker_max_memory_per_child,
                "lost_wait": conf.worker_lost_wait, "log_setup": log_setup,
                "lookahead": conf.worker_pool_lookahead,
                "allow_restart": bool(conf.worker_pool_restarts)}
               if self.pool_kind == "prefork" else {}),
        )
        self.revoked = LimitedSet()
        #: Ids revoked with ``terminate``: a process killed for one is REVOKED, not lost.
        self.terminated = LimitedSet()
        #: ``revoke_by_stamped_headers``: stamp name to revoked values (not persistent).
        self.revoked_stamps: dict[str, set[Any]] = {}
        self.autoscaler = self._make_autoscaler(autoscale) if autoscale else None
        self.memory = MemorySampler()
        self.statedb = StateDB(statedb) if statedb else None
        self.mingle = mingle
        self.stats = WorkerStats()
        self.stopping = False
        self.cold = False
        self.restart_requested = False
        self.shutdown_reason = ""
        self.consumer: Consumer | None = None
        self.exitcode = EXIT_OK
        self.ready_at: float | None = None
        #: During a warm shutdown: since when only jobs no process took are left.
        self._unstarted_since: float | None = None
        self._pool_started = False
        #: Start-up sync threads: none may be alive when the pool forks.
        self._mingle_threads: list[threading.Thread] = []

    @property
    def send_events(self) -> bool:
        """Whether task events are sent (``-E``; ``enable_events``/``disable_events``)."""
        return self.events.task_events

    @send_events.setter
    def send_events(self, enabled: bool) -> None:
        self.events.task_events = bool(enabled)

    # configuration ---------------------------------------------------------------
    def _make_autoscaler(self, autoscale: tuple[int, int]):
        from kombu.utils.imports import symbol_by_name

        cls = symbol_by_name(self.app.conf.worker_autoscaler)
        return cls(self, autoscale[0], autoscale[1],
                   keepalive=self.app.conf.worker_autoscale_keepalive)

    def _select_queues(self, names: list[str] | None) -> dict[str, Queue]:
        if not names:
            return dict(self.app.queues())
        return {name: self.app.queue_for(name) for name in names}

    # lifecycle ------------------------------------------------------------------------
    def start(self) -> int:
        """Run the worker until it is shut down; returns the exit code."""
        trace.set_worker_app(self.app, self.hostname)
        self.app.import_modules()
        self._load_state()
        install_signal_handlers(self)
        self.consumer = Consumer(self)
        try:
            self._run_connected()
        except KeyboardInterrupt:
            self.cold = True
            self.exitcode = EXIT_FAILURE
        finally:
            self._stop_pool()
            self._save_state()
        return self.exitcode

    def _load_state(self) -> None:
        if self.statedb is None:
            return
        try:
            ids, clock = self.statedb.load()
        except Exception as exc:  # noqa: BLE001 - a broken state file must not stop the worker
            logger.error("Cannot read state file %s: %r", self.statedb.path, exc)
            return
        self.revoked.update(ids)
        self.app.clock.adjust(clock)
        logger.info("Loaded %d revoked id(s) from %s", len(ids), self.statedb.path)

    def _save_state(self) -> None:
        if self.statedb is None:
            return
        try:
            self.revoked.purge()
            self.statedb.save(self.revoked.as_list(), self.app.clock.value)
        except Exception as exc:  # noqa: BLE001 - reported, the worker is exiting anyway
            logger.error("Cannot write state file %s: %r", self.statedb.path, exc)

    def _start_mingle(self, connection, consumer: Consumer, hub: Hub) -> bool:
        """Sync revoked ids and the clock with running nodes; hold tasks until done.

        Returns whether a sync was started; the pool is then started when it ends.
        """
        if not self.mingle or connection.transport.driver_type not in MINGLE_TRANSPORTS:
            return False
        consumer.holding = True

        def done(replies) -> None:
            consumer.call_in_loop(lambda: self._mingled(consumer, replies))

        # From the loop's first pass: by then this node's own control queue is
        # subscribed (Redis subscribes on the first tick), so the node answers
        # its own discovery ping and a lone worker does not wait out the timeout.
        hub.call_soon(lambda: self._mingle_threads.append(
            start_mingle(self.app, self.hostname, self.revoked.as_list(),
                         self.app.conf.worker_mingle_timeout, done)))
        return True

    def _mingled(self, consumer: Consumer, replies) -> None:
        self._mingle_threads = [t for t in self._mingle_threads if t.is_alive()]
        for _node, reply in replies:
            self.merge_revoked(reply.get("revoked"))
            remote_clock = reply.get("clock")
            if isinstance(remote_clock, int):
                self.app.clock.adjust(remote_clock)
            else:
                self.app.clock.forward()
        if replies:
            logger.info("mingle: sync with %d node(s)", len(replies))
        else:
            logger.info("mingle: all alone")
        if not self._pool_started and not self.stopping:
            # The sync's thread is ending (and, after a reconnect, an earlier
            # one may be too): fork only once they are gone, so no child is
            # born with another thread's lock held.
            for finished in self._mingle_threads:
                finished.join(timeout=1.0)
            try:
                self._start_pool(consumer.hub)
            except PoolStartFailed as exc:
                logger.critical("%s", exc)
                self.request_shutdown("pool failed to start", cold=True)
                return
        consumer.release_hold()

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
                self._stop_events(offline=False)
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
        if not self._pool_started:
            # Deliveries can come in while the rest is set up (AMQP delivers on
            # any channel call): they wait until the pool is there.
            consumer.holding = True
        # Batching must be on before the first delivery, so every delivery tag is
        # known when acks are grouped.
        enable_batching(connection.default_channel)
        consumer.attach(connection, hub)
        if self.autoscaler is not None:
            hub.call_repeatedly(self.autoscaler.interval, self.autoscaler.maybe_scale)
        mailbox = make_mailbox(self.app)
        node = create_node(self.app, mailbox, self.hostname, ControlState(self),
                           connection.channel())
        node.listen(callback=_guarded(node.handle_message))
        # Before the loop runs, so no task starts ahead of the sync.
        mingling = self._start_mingle(connection, consumer, hub)
        self._start_events(connection, hub)
        if not mingling:
            self._start_pool(hub)
        if not first:
            logger.warning("Reconnected to broker %s", mask_url(self.app.broker_url))
        hub.propagate_errors = connection.connection_errors
        if self._pool_started:
            # Last, after everything that can fail: until the hub is reset below
            # the pool's results, child replacement and time limits run in this
            # loop; before and after (back-off, shutdown) the pool runs them itself.
            self.pool.register_with_event_loop(hub)
            if not mingling:
                consumer.release_hold()
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
        except connection.connection_errors + connection.channel_errors + (OSError,):
            raise
        except BaseException:
            # An unrecoverable error still says goodbye, as Celery's worker does.
            self._stop_events(offline=True)
            raise
        finally:
            try:
                hub.reset()
            except Exception:  # noqa: BLE001
                logger.debug("hub reset failed", exc_info=True)
        self._finish_shutdown(consumer)
        self._stop_events(offline=True)

    def _start_events(self, connection, hub: Hub) -> None:
        """Attach the event dispatcher to this connection; say ``worker-online`` and beat."""
        self.events.attach(connection, hub.call_later)
        consumer = self.consumer
        stats = self.stats
        self.heart = Heart(
            self.events,
            lambda: {"active": consumer.running_count(), "processed": stats.processed},
            self.heartbeat_interval)
        self.heart.start(hub)

    def _stop_events(self, offline: bool) -> None:
        """Send what is buffered and ``worker-offline`` (if the connection still works)."""
        heart, self.heart = self.heart, None
        if offline:
            self.events.flush()
        if heart is not None:
            heart.stop(offline=offline)
        self.events.detach()

    def send_heartbeat(self) -> None:
        """Send a ``worker-heartbeat`` now (the ``heartbeat`` control command)."""
        if self.heart is not None:
            self.heart.beat()

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
        if consumer.active and not consumer.running_count():
            # Only jobs no process has taken are left: they are called off and
            # report back at once, unless a process died holding one.
            since = self._unstarted_since = self._unstarted_since or time.monotonic()
            if time.monotonic() - since > UNSTARTED_WAIT:
                lost = consumer.abandon_unstarted()
                logger.warning("Handed back %d task(s) no pool process took", lost)
        else:
            self._unstarted_since = None
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

    def _start_pool(self, hub: Hub | None = None) -> None:
        """Fork the pool once the worker is connected, set up and synced (mingle).

        Everything the main process builds and first runs until then
        (connections, the consumer, the control node, the event dispatcher,
        the sync) is made before the fork: the memory pages it writes stay
        shared with the children instead of being copied for the main process.
        Until then the consumer holds the tasks it receives; from then on the
        worker is ready.
        """
        if self._pool_started:
            return
        try:
            self.pool.start(hub)
        except Exception as exc:
            raise PoolStartFailed(f"cannot start the {self.pool_kind} pool: {exc}") from exc
        self._pool_started = True
        self.ready_at = time.monotonic()
        logger.info("%s ready.", self.hostname)

    def _stop_pool(self) -> None:
        if not self._pool_started:
            self.app.close()
            return
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

    # remote-control changes ---------------------------------------------------------
    def revokes_changed(self) -> None:
        """The revoked set changed: save it now, so even a killed worker keeps it."""
        self._save_state()

    def merge_revoked(self, revoked: Any) -> None:
        """Add revoked ids from a neighbour: a list, or the older dict forms (keys only)."""
        if isinstance(revoked, dict):
            revoked = list(revoked)
        if isinstance(revoked, list | tuple):
            self.revoked.update(str(task_id) for task_id in revoked)
            self.revokes_changed()

    def resize_pool(self, delta: int) -> None:
        """Grow or shrink the pool by ``delta`` slots and the prefetch window with it."""
        if not hasattr(self.pool, "grow"):
            raise NotImplementedError(f"the {self.pool_kind} pool has a fixed size")
        if delta > 0:
            self.pool.grow(delta)
        else:
            removed = 0
            for _ in range(-delta):
                if self.pool.concurrency <= 1:
                    break
                try:
                    self.pool.shrink(1)
                except ValueError:  # the rest are busy
                    break
                removed += 1
            if not removed:
                raise ValueError("no idle process to remove (a pool keeps at least one)")
            delta = -removed
        self.concurrency = self.pool.concurrency
        if self.consumer is not None:
            self.consumer.adjust_prefetch(delta)
            self.consumer.dispatch()

    # task notifications: logs and task events ------------------------------------------
    def on_task_received(self, request) -> None:
        """A task message was accepted for this worker (not revoked; maybe waiting an ETA)."""
        self.events.task_received(request)

    def on_task_started(self, request) -> None:
        """A pool process started ``request``."""
        self.events.task_started(request)

    def on_task_finished(self, request, summary: dict[str, Any]) -> None:
        """Log a task's outcome and send its event."""
        self.events.task_finished(request, summary)
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
        self.events.task_unknown(task_message)

    def on_task_revoked(self, request, expired: bool = False, terminated: bool = False,
                        signum: int | None = None) -> None:
        """A task was discarded as revoked or expired, or terminated while running."""
        self.events.task_revoked(request, terminated=terminated, signum=signum, expired=expired)

    def on_task_rejected(self, request, requeue: bool) -> None:
        """A task's message was rejected (``requeue``: back to the queue)."""
        self.events.task_rejected(request, requeue)


def _positive_seconds(value: Any, name: str) -> float:
    """``value`` as a number of seconds above zero, or a one-line configuration error."""
    from tuiq.exceptions import ConfigurationError

    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = 0.0
    if not seconds > 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {value!r}")
    return seconds


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


def flush_streams() -> None:
    """Flush stdout and stderr (before exec or exit)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
