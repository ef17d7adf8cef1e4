"""Execution pools: prefork (billiard), threads and solo, behind one small interface.

A pool runs ``execute_job`` for a request and reports back through three
callbacks (accepted, done, failed) which may fire on other threads; the
worker turns them into messages for its event loop.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import billiard
import billiard.pool
from billiard.einfo import ExceptionInfo, ExceptionWithTraceback

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

    def processes(self) -> list[int]:
        """Pids of the pool's processes."""
        return [os.getpid()]

    def info(self) -> dict[str, Any]:
        """The ``pool`` section of ``inspect stats``."""
        return {"implementation": self.implementation, "max-concurrency": self.concurrency}


class _DirectPool(billiard.pool.Pool):
    """billiard's pool, with jobs written to the children's pipe by the caller.

    billiard hands each job to a task-handler thread through a queue, which
    costs a thread wake-up per task. The worker submits jobs from its one loop
    thread, and only when a child is free, so it writes the job itself.
    """

    def apply_async(self, func, args=(), kwds=None, callback=None, error_callback=None,
                    accept_callback=None, timeout_callback=None, waitforslot=None,
                    soft_timeout=None, timeout=None, lost_worker_timeout=None,
                    callbacks_propagate=(), correlation_id=None):
        """Register the job and write it to the pool's input pipe now."""
        if self._state != billiard.pool.RUN:
            return None
        soft_timeout = soft_timeout or self.soft_timeout
        timeout = timeout or self.timeout
        result = billiard.pool.ApplyResult(
            self._cache, callback, accept_callback, timeout_callback, error_callback,
            soft_timeout, timeout, lost_worker_timeout or self.lost_worker_timeout,
            on_timeout_set=self.on_timeout_set, on_timeout_cancel=self.on_timeout_cancel,
            callbacks_propagate=callbacks_propagate, send_ack=None,
            correlation_id=correlation_id,
        )
        if timeout or soft_timeout:
            self._start_timeout_handler()
        self._quick_put((billiard.pool.TASK, (result._job, None, func, args, kwds or {})))
        return result


class PreforkPool(BasePool):
    """Child processes from billiard: real parallelism, time limits, lost-child detection."""

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
        pool.close()  # the supervisor stops replacing children
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
