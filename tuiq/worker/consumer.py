"""The consumer: one thread that owns the broker connection.

It receives task messages, keeps prefetched and ETA requests, hands work to
the pool when a slot is free (or, within the pool's look-ahead, just before),
and acknowledges or rejects every message. Pool
callbacks made on the loop thread (the prefork pool registered with the loop)
are handled at once; those from other threads arrive through a queue plus a
wake-up pipe, so the channel is only ever touched here (kombu channels are
not thread-safe).
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kombu import Consumer as KombuConsumer
from kombu.asynchronous import Hub
from kombu.common import QoS
from kombu.exceptions import ContentDisallowed, DecodeError

from tuiq import states
from tuiq.exceptions import InvalidTaskError, NotRegistered, TaskRevokedError
from tuiq.protocol.body import decode_body
from tuiq.protocol.task import parse_task_message
from tuiq.transport import flush as flush_bookkeeping
from tuiq.worker.pool import CANCELLED
from tuiq.worker.ratelimit import TokenBucket, parse_rate
from tuiq.worker.request import Request

if TYPE_CHECKING:
    from tuiq.worker.worker import Worker

logger = logging.getLogger("tuiq.worker")


#: Seconds a task's process must have been running it before a terminate kills it.
TERMINATE_GRACE = 0.1


class Consumer:
    """Task consumption and settlement, driven by a kombu event loop (``Hub``)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.app = worker.app
        self.pool = worker.pool
        self.hostname = worker.hostname
        self.connection = None
        self.hub: Hub | None = None
        self.task_consumer: KombuConsumer | None = None
        self.qos: QoS | None = None
        self.generation = 0
        self.ready: collections.deque[Request] = collections.deque()
        # Keyed by the Request object, not the task id: a retry or a redelivery
        # can bring a second message with the same id while the first is held.
        self.active: dict[Request, Request] = {}
        self.scheduled: dict[Request, tuple[Request, float]] = {}
        self.rate_limited: dict[str, collections.deque[Request]] = {}
        self.buckets: dict[str, TokenBucket | None] = {}
        self._inbox: collections.deque[Callable[[], None]] = collections.deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.consuming = False
        #: True while start-up sync (mingle) runs: tasks are received but not started,
        #: so ids revoked elsewhere are known before anything runs.
        self.holding = False

    # threads -> loop -------------------------------------------------------------
    def call_in_loop(self, fn: Callable[[], None], wake: bool = True) -> None:
        """Run ``fn`` on the consumer thread soon (safe from any thread).

        With ``wake=False`` it runs at the loop's next wake-up, whatever causes it.
        """
        self._inbox.append(fn)
        if not wake:
            return
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # the pipe is full: the loop is already due to wake

    #: The thread that runs the loop (set by ``start``).
    _loop_thread: int | None = None

    def _on_loop_thread(self) -> bool:
        # A solo pool calls back from inside start(): running the outcome there
        # would recurse into dispatch() once per waiting task, so it is posted.
        return threading.get_ident() == self._loop_thread and not self.pool.runs_inline

    def _from_pool(self, fn: Callable[..., None], *args: Any) -> None:
        """Run a pool callback's handler: now on the loop thread, else posted to the loop."""
        if self._on_loop_thread():
            self._run_guarded(fn, *args)
        else:
            self.call_in_loop(lambda: fn(*args))

    @staticmethod
    def _run_guarded(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - one bad callback must not stop the loop
            logger.exception("Error in worker loop callback")

    def _drain_inbox(self, *args: Any) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        self.run_inbox()

    def run_inbox(self) -> None:
        """Run callbacks posted by other threads."""
        inbox = self._inbox
        while inbox:
            fn = inbox.popleft()
            try:
                fn()
            except Exception:  # noqa: BLE001 - one bad callback must not stop the loop
                logger.exception("Error in worker loop callback")

    # connection lifecycle -------------------------------------------------------------
    def attach(self, connection, hub: Hub) -> None:
        """Start consuming the worker's queues on ``connection`` inside ``hub``."""
        self.generation += 1
        self.connection = connection
        self.hub = hub
        hub.add_reader(self._wake_r, self._drain_inbox)
        channel = connection.default_channel
        prefetch = self.prefetch_count()
        is_amqp = connection.transport.driver_type == "amqp"

        def set_qos(prefetch_count: int) -> None:
            channel.basic_qos(0, prefetch_count, is_amqp)

        self.qos = QoS(set_qos, prefetch)
        self.qos.update()
        self.task_consumer = KombuConsumer(
            channel, queues=list(self.worker.queues.values()), on_message=self.on_message,
            accept=None, no_ack=False, auto_declare=True,
        )
        self.task_consumer.consume()
        self.consuming = True
        logger.debug("basic.qos: prefetch_count->%s", prefetch)

    def detach(self) -> None:
        """Forget everything tied to a lost connection (the broker redelivers it)."""
        self.consuming = False
        self.task_consumer = None
        # Unacknowledged jobs still in the pool's pipe come back from the broker.
        self.call_off(lambda request: not request.acknowledged, "handed back")
        for request in self.ready:
            request.settled = True
        for entry in self.scheduled.values():
            entry[0].settled = True
        dropped = len(self.ready) + len(self.scheduled) + sum(
            len(q) for q in self.rate_limited.values())
        if dropped:
            logger.warning("Dropped %d prefetched task(s); the broker will deliver them again",
                           dropped)
        self.ready.clear()
        self.scheduled.clear()
        self.rate_limited.clear()

    def prefetch_count(self) -> int:
        """``concurrency × worker_prefetch_multiplier`` (0: unlimited).

        With autoscale the window is sized for the most processes, so waiting
        work shows up here and the autoscaler sees it.
        """
        multiplier = self.app.conf.worker_prefetch_multiplier
        if self.worker.prefetch_multiplier is not None:
            multiplier = self.worker.prefetch_multiplier
        slots = self.pool.concurrency
        if self.worker.autoscaler is not None:
            slots = self.worker.autoscaler.max_concurrency
        return int(slots * multiplier)

    def stop_consuming(self) -> None:
        """Cancel the task consumer: no new messages arrive."""
        if self.task_consumer is not None and self.consuming:
            self.consuming = False
            try:
                self.task_consumer.cancel()
            except Exception as exc:  # noqa: BLE001 - the connection may be gone already
                logger.debug("cancel consumer: %r", exc)

    def hand_back(self) -> int:
        """Requeue every request that was received but not started.

        Jobs waiting in the pool's pipe are called off too; each goes back to
        the broker when the pool reports it skipped (a process that took one
        first runs it).
        """
        count = self.call_off(lambda request: not request.acknowledged, "handed back")
        pending = list(self.ready) + [r for r, _ in self.scheduled.values()]
        for queue in self.rate_limited.values():
            pending.extend(queue)
        for request in pending:
            if request.settled or request.generation != self.generation:
                continue
            request.settled = True
            try:
                request.reject(requeue=True)
                count += 1
            except Exception as exc:  # noqa: BLE001
                logger.warning("Could not hand back %r: %r", request, exc)
        self.ready.clear()
        self.scheduled.clear()
        self.rate_limited.clear()
        return count

    # receiving -------------------------------------------------------------------
    def on_message(self, message) -> None:
        """Validate a task message and reserve it; bad messages are rejected, never looped."""
        try:
            self._on_message(message)
        except Exception:  # noqa: BLE001 - a message must never take the worker down
            logger.exception("Unexpected error handling a message; rejecting it")
            try:
                message.reject(requeue=False)
            except Exception:  # noqa: BLE001
                pass

    def _on_message(self, message) -> None:
        try:
            if message.content_type not in self._accept():
                raise ContentDisallowed(message.content_type)
            payload = decode_body(message)
        except ContentDisallowed:
            logger.error("Refusing to deserialize untrusted content of type %s (%s); "
                         "message rejected", message.content_type,
                         (message.headers or {}).get("id", "no id"))
            message.reject(requeue=False)
            return
        except DecodeError as exc:
            logger.error("Can't decode message body: %r; message dropped", exc)
            message.ack()
            return
        try:
            task_message = parse_task_message(message.headers, payload, message.properties,
                                              message.delivery_info)
        except InvalidTaskError as exc:
            logger.error("Received invalid task message: %s; message rejected", exc)
            message.reject(requeue=False)
            return
        try:
            task = self.app.tasks[task_message.name]
        except NotRegistered as exc:
            logger.error("Received unregistered task of type %r; message rejected",
                         task_message.name)
            self._store_quietly(self.app.backend.mark_as_failure, task_message.id, exc)
            message.reject(requeue=False)
            self.worker.on_task_failed_early(task_message, exc)
            return
        request = Request(message, task_message, task, self.hostname, self.generation)
        try:
            request.time_limits()
        except InvalidTaskError as exc:
            logger.error("Received invalid task message: %s; message rejected", exc)
            message.reject(requeue=False)
            return
        if self._discard_if_revoked(request):
            return
        self.worker.on_task_received(request)
        if task_message.eta is not None:
            delay = (task_message.eta - datetime.now(UTC)).total_seconds()
            if delay > 0:
                self.scheduled[request] = (request, time.time() + delay)
                self.qos.increment_eventually()
                self.hub.call_later(delay, self._eta_due, request)
                logger.info("Task %s[%s] received, ETA %s", request.name, request.id,
                            task_message.eta.isoformat())
                return
        logger.info("Task %s[%s] received", request.name, request.id)
        self.reserve(request)

    def _accept(self) -> set[str]:
        accepted = getattr(self, "_accept_cache", None)
        if accepted is None:
            from kombu.serialization import prepare_accept_content

            accepted = set(prepare_accept_content(self.app.conf.accept_content))
            self._accept_cache = accepted
        return accepted

    def _store_quietly(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the backend may be down; log and go on
            logger.error("Could not store result: %r", exc)

    def _eta_due(self, request: Request) -> None:
        if self.scheduled.pop(request, None) is None or request.settled:
            return
        self.qos.decrement_eventually()
        if not self._discard_if_revoked(request):
            self.reserve(request)

    def _discard_if_revoked(self, request: Request) -> bool:
        msg = request.task_message
        reason = None
        if request.id in self.worker.revoked:
            reason = "revoked"
        elif self.worker.revoked_stamps and request.matching_stamps(self.worker.revoked_stamps):
            reason = "revoked"
        elif msg.expires is not None and msg.expires <= datetime.now(UTC):
            reason = "expired"
            self.worker.revoked.add(request.id)
        if reason is None:
            return False
        self._revoke_unstarted(request, reason)
        return True

    def _revoke_unstarted(self, request: Request, reason: str) -> None:
        """Store REVOKED for a task that never ran, tell its workflow, and acknowledge it."""
        logger.info("Discarding %s task %s[%s]", reason, request.name, request.id)
        self._store_quietly(self.app.backend.store_result, request.id,
                            TaskRevokedError(reason), states.REVOKED)
        self._report_to_workflow(request, states.REVOKED, TaskRevokedError(reason))
        request.settled = True
        if request.generation == self.generation and self.connection is not None:
            request.ack()
        self.worker.on_task_revoked(request, expired=reason == "expired")

    # dispatching ------------------------------------------------------------------
    def reserve(self, request: Request) -> None:
        """Queue ``request`` for the pool, honouring its task's rate limit."""
        bucket = self._bucket_for(request.name)
        if bucket is not None:
            waiting = self.rate_limited.setdefault(request.name, collections.deque())
            if waiting or not bucket.can_consume(1):
                waiting.append(request)
                if len(waiting) == 1:
                    self.hub.call_later(bucket.expected_time(1), self._release_rate_limited,
                                        request.name)
                return
        self.ready.append(request)
        self.dispatch()

    def _bucket_for(self, name: str) -> TokenBucket | None:
        if name in self.buckets:
            return self.buckets[name]
        bucket = None
        if not self.app.conf.worker_disable_rate_limits:
            task = self.app.tasks.get(name)
            rate = task.rate_limit if task is not None else None
            if rate is None:
                rate = self.app.conf.task_default_rate_limit
            per_second = parse_rate(rate) if rate is not None else None
            if per_second:
                bucket = TokenBucket(per_second, 1)
        self.buckets[name] = bucket
        return bucket

    def _release_rate_limited(self, name: str) -> None:
        waiting = self.rate_limited.get(name)
        bucket = self.buckets.get(name)
        if not waiting:
            return
        if bucket is None:
            self.ready.extend(waiting)
            waiting.clear()
        else:
            while waiting and bucket.can_consume(1):
                self.ready.append(waiting.popleft())
            if waiting:
                self.hub.call_later(bucket.expected_time(1), self._release_rate_limited, name)
        self.dispatch()

    def dispatch(self) -> None:
        """Hand ready requests to the pool while it has free slots."""
        worker = self.worker
        if self.holding:
            return
        pool = self.pool
        while self.ready and not worker.stopping:
            # Past one job per process, a job may wait in the pipe for a busy
            # process: that process takes it without waiting for this loop.
            queued = len(self.active) - pool.concurrency
            if queued >= 0 and not pool.room_ahead(queued):
                return
            request = self.ready.popleft()
            if request.settled or self._discard_if_revoked(request):
                continue
            if not self.start(request, ahead=queued >= 0):
                self.ready.appendleft(request)
                return

    def start(self, request: Request, ahead: bool = False) -> bool:
        """Hand ``request`` to the pool; False if the pool cannot queue it ``ahead`` now.

        Early-ack tasks are acknowledged now, or, in a pool that says so, once a
        process takes them: a job still waiting in the pipe can be handed back.
        """
        if not request.acks_late:
            if not self.pool.acks_on_accept:
                request.ack()
        elif self.connection is not None:
            # Record the delivery in the broker's unacked bookkeeping before the
            # task can start (a solo pool runs it inside this pass), so a crash
            # cannot lose it. One flush covers every delivery of the pass.
            flush_bookkeeping(self.connection.default_channel)
        soft, hard = request.time_limits()
        generation = self.generation
        # start() always runs on the loop thread: pool callbacks made on it run at once.
        self._loop_thread = threading.get_ident()
        token = self.pool.apply(
            request.job_payload(),
            on_accept=lambda pid: self._on_pool_accept(request, pid),
            on_done=lambda summary: self._from_pool(self._done, request, summary, generation),
            on_error=lambda exc, text: self._from_pool(self._failed, request, exc, text,
                                                       generation),
            soft=soft, hard=hard, ahead=ahead,
        )
        if token is None and ahead:
            return False
        request.pool_token = token
        self.active[request] = request
        return True

    def _on_pool_accept(self, request: Request, pid: int) -> None:
        if self._on_loop_thread():
            self._run_guarded(self._accepted, request, pid)
            return
        # The pid is needed at once (terminate); the notification can wait for
        # the loop's next wake-up, which the task's result brings anyway.
        request.worker_pid = pid
        request.time_start = time.time()
        self.call_in_loop(lambda: self._accepted(request, pid),
                          wake=request.terminate_signal is not None)

    def _accepted(self, request: Request, pid: int) -> None:
        request.worker_pid = pid
        request.time_accepted = time.monotonic()
        if request.time_start is None:
            request.time_start = time.time()
        if request.called_off is not None:
            # Almost always the child is about to report the job skipped; if it
            # took the job a moment before it was called off, the task runs (and
            # a terminate asked for it still applies once the grace has passed).
            self._terminate_if_asked(request)
            return
        if self.pool.acks_on_accept and not request.acks_late and \
                request.generation == self.generation and self.connection is not None:
            request.ack()
        self.worker.stats.task_accepted(request.name)
        self._terminate_if_asked(request)
        self.worker.on_task_started(request)

    def _terminate_if_asked(self, request: Request) -> None:
        """Send a terminate asked for this task, once its process can safely die."""
        if request.terminate_signal is None or request.worker_pid is None or request.settled:
            return
        # A child that has just written its accept may still hold the lock of the
        # pool's shared result pipe; killed then, it would leave every other child
        # unable to report. So a kill waits until the accept is a moment old.
        accepted = request.time_accepted
        wait = TERMINATE_GRACE if accepted is None else \
            TERMINATE_GRACE - (time.monotonic() - accepted)
        if wait > 0 and self.hub is not None:
            self.hub.call_later(wait, self._terminate_if_asked, request)
            return
        # The task may have ended with its result still unread, its process
        # already on the next job from the pipe: that job must not be killed.
        self.pool.drain_results()
        if request.settled:
            return
        signum, request.terminate_signal = request.terminate_signal, None
        request.terminated_by = signum
        self.pool.terminate_job(request.worker_pid, signum)

    def _settle(self, request: Request, generation: int, ack: bool = True,
                requeue: bool | None = None, report: bool = True) -> None:
        self.active.pop(request, None)
        request.settled = True
        if requeue is not None and report:
            self.worker.on_task_rejected(request, requeue=requeue)
        if generation == self.generation and self.connection is not None:
            try:
                if requeue is not None:
                    request.reject(requeue=requeue)
                elif ack:
                    request.ack()
            except Exception as exc:  # noqa: BLE001 - the connection may have just gone
                logger.warning("Could not settle %r: %r", request, exc)
        self.dispatch()

    def _done(self, request: Request, summary: dict[str, Any], generation: int) -> None:
        state = summary["state"]
        if state == CANCELLED:
            if summary.get("expired"):
                self.worker.revoked.add(request.id)
                request.called_off = "expired"
            self._called_off(request, generation)
            return
        self.worker.on_task_finished(request, summary)
        if state == states.REJECTED:
            self._settle(request, generation, requeue=bool(summary.get("requeue")))
        elif state == states.FAILURE and request.acks_late and \
                not request.acks_on_failure_or_timeout:
            self._settle(request, generation, requeue=False)
        else:
            self._settle(request, generation)

    def _failed(self, request: Request, exc: BaseException, text: str | None,
                generation: int) -> None:
        from billiard.exceptions import TimeLimitExceeded, WorkerLostError

        if request.id in self.worker.terminated:
            # Killed by ``revoke(terminate=True)``: Celery reports it REVOKED.
            logger.warning("Task %s[%s] terminated: %r", request.name, request.id, exc)
            self._store_quietly(self.app.backend.store_result, request.id,
                                TaskRevokedError("terminated"), states.REVOKED)
            self._report_to_workflow(request, states.REVOKED, TaskRevokedError("terminated"))
            self.worker.on_task_revoked(request, terminated=True, signum=request.terminated_by)
            self._settle(request, generation)
            return
        if isinstance(exc, WorkerLostError) and request.acks_late and \
                request.reject_on_worker_lost:
            logger.error("Task %s[%s] lost its process; requeued: %s", request.name,
                         request.id, exc)
            self._settle(request, generation, requeue=True)
            return
        if isinstance(exc, TimeLimitExceeded):
            logger.error("Task %s[%s] hard time limit (%ss) exceeded; process replaced",
                         request.name, request.id, exc.args[0] if exc.args else "?")
        else:
            logger.error("Task %s[%s] failed in the pool: %r", request.name, request.id, exc)
        self._store_quietly(self.app.backend.mark_as_failure, request.id, exc,
                            traceback=None if isinstance(exc, WorkerLostError) else text)
        self._report_to_workflow(request, states.FAILURE, exc)
        self.worker.on_task_finished(request, {
            "state": states.FAILURE, "exception": repr(exc), "traceback": text or "",
            "runtime": time.time() - (request.time_start or time.time()),
        })
        # PROTOCOL.md §7.1: a timed-out late-ack task goes back to the queue
        # when acks on failure or timeout are off.
        requeue = True if isinstance(exc, TimeLimitExceeded) and request.acks_late and \
            not request.acks_on_failure_or_timeout else None
        self._settle(request, generation, requeue=requeue)

    def _report_to_workflow(self, request: Request, state: str, exc: BaseException) -> None:
        """Tell the task's chord and errbacks about an outcome decided here, not in the pool."""
        embed = request.task_message.embed
        if not (embed.get("chord") or embed.get("errbacks")):
            return
        from tuiq.worker import trace

        context = trace.build_request(request.job_payload())
        try:
            if context.chord:
                trace.chord_part_return(self.app.backend, context, state, exc)
            if context.errbacks:
                trace.send_follow_ups(self.app, context.errbacks, (context.id,), context)
        except Exception as error:  # noqa: BLE001 - the broker or backend may be down
            logger.error("Task %s[%s]: could not notify its workflow: %r", request.name,
                         request.id, error)

    # revokes ------------------------------------------------------------------------
    def terminate(self, task_id: str, signum: int) -> bool:
        """Signal the process running ``task_id``; False if it is not running here.

        A task handed to the pool but not yet taken by a process is signalled
        as soon as the pool says which process took it.
        """
        running = [r for r in self.active if r.id == task_id]
        for request in running:
            request.terminate_signal = signum
            if request.worker_pid is not None:
                self._terminate_if_asked(request)
        return bool(running)

    def call_off(self, wanted: Callable[[Request], bool], reason: str) -> int:
        """Call off the jobs in the pool's pipe that no process has taken and ``wanted`` picks.

        Returns how many were called off. The pool reports each one skipped
        (see ``_called_off``); a process that took one a moment earlier runs it.
        """
        count = 0
        for request in self.active:
            if request.started or request.called_off is not None or request.pool_token is None:
                continue
            if wanted(request):
                request.called_off = reason
                self.pool.cancel(request.pool_token)
                count += 1
        return count

    def _called_off(self, request: Request, generation: int) -> None:
        """The pool skipped a called-off job: requeue it, or settle it as revoked."""
        if request.called_off not in ("revoked", "expired"):
            if request.called_off is None:
                logger.warning("Pool skipped %r, which was not called off; requeued", request)
            self._settle(request, generation, ack=False, requeue=True, report=False)
            return
        self.active.pop(request, None)
        self._revoke_unstarted(request, request.called_off)
        self.dispatch()

    def abandon_unstarted(self) -> int:
        """Requeue the jobs no pool process ever took (a lost pipe job must not hang a stop)."""
        lost = [request for request in self.active if not request.started]
        for request in lost:
            self._settle(request, request.generation, ack=False, requeue=True, report=False)
        return len(lost)

    def running_requests(self) -> list[Request]:
        """Requests a pool process has taken (``inspect active``)."""
        return [request for request in self.active if request.started]

    def running_count(self) -> int:
        """How many tasks pool processes are running."""
        return len(self.running_requests())

    # run-time changes by remote control ----------------------------------------------
    def reserved_requests(self) -> list[Request]:
        """Requests received and waiting for a process (rate-limited ones too).

        Jobs waiting in the pool's pipe come first: a process takes them next.
        """
        waiting = [request for request in self.active
                   if not request.started and request.called_off is None]
        waiting.extend(self.ready)
        for queue in self.rate_limited.values():
            waiting.extend(queue)
        return [request for request in waiting if not request.settled]

    def release_hold(self) -> None:
        """End the start-up hold and start what is waiting."""
        if self.holding:
            self.holding = False
            self.dispatch()

    def reset_rate_limits(self) -> None:
        """Re-read every task's rate limit; waiting tasks follow the new rates."""
        self.buckets.clear()
        waiting = [request for queue in self.rate_limited.values() for request in queue]
        self.rate_limited.clear()
        for request in waiting:
            self.reserve(request)

    def adjust_prefetch(self, processes: int) -> None:
        """Widen (or narrow) the prefetch window for ``processes`` more (or fewer) slots."""
        if self.qos is None:
            return
        multiplier = self.app.conf.worker_prefetch_multiplier
        if self.worker.prefetch_multiplier is not None:
            multiplier = self.worker.prefetch_multiplier
        if not multiplier:
            return
        delta = processes * multiplier
        if delta > 0:
            self.qos.increment_eventually(delta)
        elif delta < 0:
            self.qos.decrement_eventually(-delta)

    def add_queue(self, queue) -> None:
        """Start consuming ``queue`` now (it is declared first)."""
        if self.task_consumer is None or not self.consuming:
            return  # attach() consumes every queue of the worker on (re)connect
        self.task_consumer.add_queue(queue)
        self.task_consumer.consume()

    def cancel_queue(self, name: str) -> None:
        """Stop consuming the queue called ``name``."""
        if self.task_consumer is not None:
            self.task_consumer.cancel_by_queue(name)
