"""Execution pools: prefork (billiard), threads and solo, behind one small interface.

A pool runs ``execute_job`` for a request and reports back through three
callbacks (accepted, done, failed). The prefork pool calls them on the
worker's event-loop thread while it is registered with the loop's ``Hub``,
and on a thread of its own otherwise; the other pools call them from their
task threads (threads) or inline (solo). The worker posts what does not
arrive on its loop thread to the loop.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import select
import signal
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import billiard
import billiard.pool
from billiard.einfo import ExceptionInfo, ExceptionWithTraceback
from billiard.exceptions import RestartFreqExceeded

from tuiq.worker import trace

logger = logging.getLogger("tuiq.worker")

OnAccept = Callable[[int], None]
OnDone = Callable[[dict[str, Any]], None]
OnError = Callable[[BaseException, str | None], None]


def _child_init(log_setup: Callable[[int], None] | None, index_counter) -> None:
    # Children ignore INT so a terminal ctrl+c (sent to the whole process
    # group) lets them finish their task during the parent's warm shutdown.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.signal(signal.SIGUSR2, signal.SIG_DFL)
    index = 1
    if index_counter is not None:
        with index_counter.get_lock():
            index_counter.value += 1
            index = index_counter.value
    os.environ["TUIQ_POOL_INDEX"] = str(index)
    if log_setup is not None:
        log_setup(index)


def _restart_wakeup() -> None:
    """A job that does nothing: it lets an idle child see its restart flag."""


class BasePool:
    """What the worker needs from a pool."""

    implementation = "tuiq.worker.pool:BasePool"
    #: True when a task runs inside the worker's own loop (solo).
    runs_inline = False
    #: True when a running task's process can be signalled (revoke with terminate).
    can_terminate = False

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency

    def start(self) -> None:
        """Start the pool's processes or threads."""

    def register_with_event_loop(self, hub: Any) -> None:
        """Do the pool's bookkeeping inside ``hub`` until that hub is closed."""

    def apply(self, job: dict[str, Any], on_accept: OnAccept, on_done: OnDone,
              on_error: OnError, soft: float | None, hard: float | None) -> None:
        """Run ``job``; the callbacks report its outcome."""
        raise NotImplementedError

    def stop(self) -> None:
        """Wait for running jobs, then stop (warm)."""

    def terminate(self) -> None:
        """Stop now, killing running jobs (cold)."""

    def terminate_job(self, pid: int, sig: int) -> None:
        """Send ``sig`` to the process running a job."""
        raise NotImplementedError(f"the {self.implementation} pool cannot terminate tasks")

    def restart(self) -> None:
        """Replace every pool process (``pool_restart``)."""
        raise NotImplementedError(f"the {self.implementation.rsplit(':', 1)[-1]} has no "
                                  "processes to restart")

    def processes(self) -> list[int]:
        """Pids of the pool's processes."""
        return [os.getpid()]

    def info(self) -> dict[str, Any]:
        """The ``pool`` section of ``inspect stats``."""
        return {"implementation": self.implementation, "max-concurrency": self.concurrency}


#: How often exited children are reaped and replaced (as billiard's supervisor thread did).
MAINTAIN_INTERVAL = 0.8
#: How often running jobs are checked against their time limits (as billiard's thread did).
TIMEOUT_INTERVAL = 1.0

_FRAME_HEADER = struct.Struct("!i")


class _PoolWorker(billiard.pool.Worker):
    """billiard's child loop, with the clean-exit signal handlers of its threaded mode.

    billiard ties the set of signals a child turns into a clean exit to whether the
    pool runs threads; the children keep the set they had when it did.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["sigprotection"] = True
        super().__init__(*args, **kwargs)


class _DirectPool(billiard.pool.Pool):
    """billiard's pool without its threads, with jobs written to the children's pipe by the caller.

    billiard hands each job to a task-handler thread and each result to a
    result-handler thread, which costs thread wake-ups per task. The worker
    submits jobs from its one loop thread, only when a child is free, and
    reads results in the same loop (``PreforkPool`` does the bookkeeping the
    supervisor and timeout threads did).
    """

    Worker = _PoolWorker

    def __init__(self, **options: Any) -> None:
        super().__init__(threads=False, **options)
        self._send_job = self._inqueue._writer.send_bytes

    def apply_async(self, func, args=(), kwds=None, callback=None, error_callback=None,
                    accept_callback=None, timeout_callback=None, waitforslot=None,
                    soft_timeout=None, timeout=None, lost_worker_timeout=None,
                    callbacks_propagate=(), correlation_id=None):
        """Register the job and write it to the pool's input pipe now."""
        if self._state != billiard.pool.RUN:
            return None
        result = billiard.pool.ApplyResult(
            self._cache, callback, accept_callback, timeout_callback, error_callback,
            soft_timeout or self.soft_timeout, timeout or self.timeout,
            lost_worker_timeout or self.lost_worker_timeout,
            on_timeout_set=self.on_timeout_set, on_timeout_cancel=self.on_timeout_cancel,
            callbacks_propagate=callbacks_propagate, send_ack=None,
            correlation_id=correlation_id,
        )
        # Plain pickle: billiard's ForkingPickler builds a pickler with a copied
        # dispatch table for every job, and a job holds nothing that needs it.
        self._send_job(pickle.dumps((billiard.pool.TASK, (result._job, None, func, args,
                                                          kwds or {})),
                                    pickle.HIGHEST_PROTOCOL))
        return result


class _ResultPipe:
    """The children's messages (accepted, done, exited), read from the pool's result pipe.

    billiard's reader polls, then reads a header and a body: three system calls
    per message and two messages per task. One read here takes whatever the
    children have written; a message cut short waits in the buffer for the rest.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def read(self) -> list[bytes]:
        """The pickled messages completed by one read; call it only when the pipe is readable."""
        buffer = self._buffer
        buffer += os.read(self.fd, 1 << 16)
        frames = []
        start, end = 0, len(buffer)
        while end - start >= 4:
            (size,) = _FRAME_HEADER.unpack_from(buffer, start)
            if end - start - 4 < size:
                break
            frames.append(bytes(buffer[start + 4:start + 4 + size]))
            start += 4 + size
        del buffer[:start]
        return frames


class PreforkPool(BasePool):
    """Child processes from billiard: real parallelism, time limits, lost-child detection.

    Its bookkeeping (results, replacing exited children, time limits) runs in
    the worker's event loop once ``register_with_event_loop`` is called, and on
    a thread of its own whenever no loop has it (before the first connection,
    during reconnect back-off, at shutdown): exactly one of the two at a time.
    """

    implementation = "tuiq.worker.pool:PreforkPool"
    can_terminate = True

    def __init__(self, concurrency: int, max_tasks_per_child: int | None = None,
                 max_memory_per_child: int | None = None, lost_wait: float = 1.0,
                 log_setup: Callable[[int], None] | None = None,
                 allow_restart: bool = False) -> None:
        super().__init__(concurrency)
        #: Children watch a restart flag between tasks (``pool_restart``); off by default
        #: because checking it costs a little on every task.
        self.allow_restart = allow_restart
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_per_child = max_memory_per_child
        self.lost_wait = lost_wait
        self.log_setup = log_setup
        self._pool: billiard.pool.Pool | None = None
        self._results: _ResultPipe | None = None
        self._hub: Any = None
        self._timers: list[Any] = []
        #: The fallback thread and the two ends of the pipe that stops it.
        self._keeper: tuple[threading.Thread, int, int] | None = None

    def start(self) -> None:
        """Fork the children."""
        counter = billiard.Value("i", 0)
        # Objects alive now are shared with the children copy-on-write; keeping
        # the collector off them stops it from touching (and copying) their pages.
        gc.freeze()
        self._pool = _DirectPool(
            processes=self.concurrency,
            initializer=_child_init,
            initargs=(self.log_setup, counter),
            maxtasksperchild=self.max_tasks_per_child,
            max_memory_per_child=self.max_memory_per_child,
            lost_worker_timeout=self.lost_wait,
            enable_timeouts=True,
            putlocks=False,
            allow_restart=self.allow_restart,
        )
        self._results = _ResultPipe(self._pool._outqueue._reader.fileno())
        self._start_keeper()

    # who drives the pool: the worker's hub, or the fallback thread ---------------------
    def register_with_event_loop(self, hub: Any) -> None:
        """Collect results, replace exited children and enforce time limits inside ``hub``.

        From now until ``hub`` is closed the callbacks run on the hub's thread;
        then the pool's own thread takes over again. Registering with a new hub
        (after a reconnect) leaves the previous one.
        """
        if self._pool is None:
            return
        self._stop_keeper()
        self._leave_hub()
        self._hub = hub
        hub.add_reader(self._results.fd, self._on_results)
        self._timers = [hub.call_repeatedly(MAINTAIN_INTERVAL, self._maintain),
                        hub.call_repeatedly(TIMEOUT_INTERVAL, self._check_timeouts)]
        hub.on_close.add(self._on_hub_closed)

    def _on_hub_closed(self, hub: Any) -> None:
        if hub is self._hub:
            self._leave_hub()
            if self._pool is not None:
                self._start_keeper()

    def _leave_hub(self) -> None:
        hub, self._hub = self._hub, None
        if hub is None:
            return
        hub.on_close.discard(self._on_hub_closed)
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        try:
            hub.remove_reader(self._results.fd)
        except Exception:  # noqa: BLE001 - a closed hub has no poller left to update
            pass

    def _start_keeper(self) -> None:
        if self._keeper is not None:
            return
        stop_r, stop_w = os.pipe()
        thread = threading.Thread(target=self._keep, args=(stop_r,), name="tuiq-pool",
                                  daemon=True)
        self._keeper = (thread, stop_r, stop_w)
        thread.start()

    def _stop_keeper(self) -> None:
        if self._keeper is None:
            return
        thread, stop_r, stop_w = self._keeper
        os.write(stop_w, b"x")
        # Joined, not just told: the thread and a hub must never read the pipe together.
        thread.join()
        os.close(stop_r)
        os.close(stop_w)
        self._keeper = None

    def _keep(self, stop_r: int) -> None:
        # What the hub's reader and timers do, for the times no hub has the pool.
        poller = select.poll()
        poller.register(self._results.fd, select.POLLIN)
        poller.register(stop_r, select.POLLIN)
        now = time.monotonic()
        maintain_due, timeouts_due = now + MAINTAIN_INTERVAL, now + TIMEOUT_INTERVAL
        while True:
            wait = max(min(maintain_due, timeouts_due) - time.monotonic(), 0.0)
            events = poller.poll(wait * 1000)
            if any(fd == stop_r for fd, _ in events):
                return
            try:
                if events:
                    self._on_results()
                now = time.monotonic()
                if now >= maintain_due:
                    maintain_due = now + MAINTAIN_INTERVAL
                    self._maintain()
                if now >= timeouts_due:
                    timeouts_due = now + TIMEOUT_INTERVAL
                    self._check_timeouts()
            except Exception:  # noqa: BLE001 - the thread must outlive one bad pass
                logger.exception("Error in the pool's bookkeeping thread")

    # the bookkeeping ---------------------------------------------------------------------
    def _on_results(self, *args: Any) -> None:
        """Handle what the children reported: a job accepted, a job done, a child exiting."""
        handle = self._pool._result_handler.on_state_change
        for frame in self._results.read():
            try:
                handle(pickle.loads(frame))
            except Exception:  # noqa: BLE001 - one bad message must not lose the others
                logger.exception("Error handling a message from a pool process")

    def _maintain(self) -> None:
        # Reaps exited children and starts their replacements; a job whose child
        # vanished fails with WorkerLostError once worker_lost_wait has passed.
        pool = self._pool
        if pool is None or pool._state != billiard.pool.RUN:
            return
        try:
            pool._maintain_pool()
        except RestartFreqExceeded as exc:
            # As billiard's supervisor thread did: stop replacing, and ask the
            # worker for a warm shutdown.
            logger.error("Pool processes exit as soon as they start (%s); shutting down", exc)
            pool.close()
            os.kill(os.getpid(), signal.SIGTERM)

    def _check_timeouts(self) -> None:
        # Soft limits signal the child; hard limits fail the job and kill the child.
        pool = self._pool
        if pool is not None and pool._timeout_handler is not None:
            pool._timeout_handler.handle_event()

    # jobs ----------------------------------------------------------------------------
    def apply(self, job, on_accept, on_done, on_error, soft, hard):
        """Queue ``job`` for the next free child."""
        def accepted(pid: int, time_accepted: float) -> None:
            on_accept(pid)

        def failed(info: Any) -> None:
            if isinstance(info, ExceptionInfo):
                # billiard 4 wraps the exception (ExceptionWithTraceback, for pickling);
                # report the real one so WorkerLostError/TimeLimitExceeded are stored.
                exc = info.exception
                if isinstance(exc, ExceptionWithTraceback):
                    exc = exc.exc
                on_error(exc, info.traceback)
            else:
                on_error(info if isinstance(info, BaseException) else RuntimeError(repr(info)),
                         None)

        self._pool.apply_async(
            trace.execute_job, (job,), callback=on_done, error_callback=failed,
            accept_callback=accepted, soft_timeout=soft, timeout=hard,
        )

    def stop(self) -> None:
        """End the idle children (the worker stops the pool once no task runs)."""
        self._end_children(signal.SIGTERM)

    def terminate(self) -> None:
        """Kill the children now."""
        self._end_children(signal.SIGKILL)

    def _end_children(self, signum: int, grace: float = 5.0) -> None:
        # Not billiard's close()/join(): a child killed while it waited for work
        # (a TERM to the whole process group does that) dies holding the input
        # queue's lock, and a join that needs the others to read their stop
        # sentinel through that lock never returns.
        pool = self._pool
        if pool is None:
            return
        self._stop_keeper()
        self._leave_hub()
        pool.close()  # no more replacements
        deadline = time.monotonic() + grace
        for _ in range(3):  # a child replaced just before close() is caught next round
            processes = [p for p in list(pool._pool) if p.pid]
            for process in processes:
                if process.exitcode is None:
                    try:
                        os.kill(process.pid, signum)
                    except ProcessLookupError:
                        pass
            for process in processes:
                process.join(timeout=max(deadline - time.monotonic(), 0.05))
                if process.exitcode is None:
                    os.kill(process.pid, signal.SIGKILL)
                    process.join(timeout=1)
            if all(p.exitcode is not None for p in list(pool._pool)):
                break
        self._forget_pool()

    def _forget_pool(self) -> None:
        # billiard's exit-time finalizer takes the pool's input-queue lock; a
        # child killed while waiting for work (a TERM to the whole process
        # group) dies holding it, and the worker would hang at exit. The
        # children are reaped already, so the finalizer has nothing left to do.
        finalizer = getattr(self._pool, "_terminate", None)
        if finalizer is not None:
            finalizer.cancel()
        self._pool = None

    def terminate_job(self, pid: int, sig: int) -> None:
        """Signal the child running a job."""
        if self._pool is not None:
            self._pool.terminate_job(pid, sig)

    def restart(self) -> None:
        """Replace every child, each after its current task (``pool_restart``)."""
        if not self.allow_restart or self._pool is None:
            raise NotImplementedError("pool restarts are not enabled on this worker")
        self._pool.restart()
        # A child checks its restart flag only between jobs, and an idle one is
        # blocked reading the job pipe: one no-op job per child wakes them all.
        for _ in range(self.concurrency):
            self._pool.apply_async(_restart_wakeup)

    def grow(self, n: int = 1) -> None:
        """Add ``n`` children."""
        self._pool.grow(n)
        self.concurrency += n

    def shrink(self, n: int = 1) -> None:
        """Remove ``n`` idle children."""
        self._pool.shrink(n)
        self.concurrency -= n

    def processes(self) -> list[int]:
        """Pids of the children."""
        if self._pool is None:
            return []
        return [p.pid for p in self._pool._pool if p.pid]

    def info(self) -> dict[str, Any]:
        """Pool details for ``inspect stats``."""
        return {
            "implementation": "celery.concurrency.prefork:TaskPool",
            "max-concurrency": self.concurrency,
            "processes": self.processes(),
            "max-tasks-per-child": self.max_tasks_per_child or "N/A",
            "put-guarded-by-semaphore": False,
            "timeouts": [0, 0],
            "writes": "N/A",
        }


class ThreadsPool(BasePool):
    """A thread pool: for I/O-bound tasks; no time limits and no terminate."""

    implementation = "tuiq.worker.pool:ThreadsPool"

    def __init__(self, concurrency: int) -> None:
        super().__init__(concurrency)
        self._executor: ThreadPoolExecutor | None = None

    def start(self) -> None:
        """Start the threads."""
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="tuiq-task")

    def apply(self, job, on_accept, on_done, on_error, soft, hard):
        """Submit ``job`` to a thread."""
        def run() -> None:
            on_accept(os.getpid())
            try:
                summary = trace.execute_job(job)
            except BaseException as exc:  # noqa: BLE001 - reported to the main loop
                import traceback

                on_error(exc, traceback.format_exc())
            else:
                on_done(summary)

        self._executor.submit(run)

    def grow(self, n: int = 1) -> None:
        """Allow ``n`` more threads (started when work comes)."""
        self.concurrency += n
        if self._executor is not None:
            self._executor._max_workers = self.concurrency

    def shrink(self, n: int = 1) -> None:
        """Run at most ``n`` fewer tasks at once (idle threads stay parked)."""
        if self.concurrency - n < 1:
            raise ValueError("a pool keeps at least one thread")
        self.concurrency -= n
        if self._executor is not None:
            self._executor._max_workers = self.concurrency

    def stop(self) -> None:
        """Wait for running tasks."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def terminate(self) -> None:
        """Threads cannot be killed: stop taking work and return."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


class SoloPool(BasePool):
    """Runs each task in the worker's own loop, one at a time."""

    implementation = "tuiq.worker.pool:SoloPool"
    runs_inline = True

    def __init__(self) -> None:
        super().__init__(1)

    def apply(self, job, on_accept, on_done, on_error, soft, hard):
        """Run ``job`` right here."""
        on_accept(os.getpid())
        try:
            summary = trace.execute_job(job)
        except Exception as exc:  # noqa: BLE001 - reported like a pool failure
            import traceback

            on_error(exc, traceback.format_exc())
        else:
            on_done(summary)


def create_pool(kind: str, concurrency: int, **options: Any) -> BasePool:
    """The pool named ``kind``: ``prefork``, ``threads`` or ``solo``."""
    if kind == "prefork":
        return PreforkPool(concurrency, **options)
    if kind == "threads":
        return ThreadsPool(concurrency)
    if kind == "solo":
        return SoloPool()
    raise ValueError(f"unknown pool {kind!r}: choose prefork, threads or solo")
