"""Execution pools: prefork (billiard), threads and solo, behind one small interface.

A pool runs ``execute_job`` for a request and reports back through three
callbacks (accepted, done, failed). The prefork pool calls them on the
worker's event-loop thread while it is registered with the loop's ``Hub``,
and on a thread of its own otherwise; the other pools call them from their
task threads (threads) or inline (solo). The worker posts what does not
arrive on its loop thread to the loop.
"""

from __future__ import annotations

import fcntl
import gc
import itertools
import logging
import mmap
import os
import pickle
import select
import signal
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
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


#: The state of a job's summary when it was called off before a process took it.
CANCELLED = "tuiq.cancelled"
#: Slots of the cancel ring; jobs in the pipe at once must stay far below this.
CANCEL_SLOTS = 4096
#: The pipe size assumed where the system cannot tell it (macOS pipes start at 16 KiB).
DEFAULT_PIPE_SIZE = 16 * 1024
#: Job tokens, unique in the process: a cancel mark can never match another pool's job.
_token_counter = itertools.count(1)


def pipe_size(fd: int) -> int:
    """The capacity of the pipe ``fd`` (Linux), else :data:`DEFAULT_PIPE_SIZE`."""
    try:
        return int(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ))
    except (AttributeError, OSError):
        return DEFAULT_PIPE_SIZE

#: Shared with every child (mapped before the fork): slot ``token % CANCEL_SLOTS``
#: holds ``token`` once that job has been called off.
_cancel_ring: memoryview | None = None


def run_job(job: dict[str, Any], token: int) -> dict[str, Any]:
    """Run a job in a child, unless the main process called it off while it waited in the pipe."""
    ring = _cancel_ring
    if ring is not None and ring[token % CANCEL_SLOTS] == token:
        return {"state": CANCELLED}
    expires = (job.get("headers") or {}).get("expires")
    if expires and _expired(expires):
        # It waited in the pipe past its expiry: the main process revokes it.
        return {"state": CANCELLED, "expired": True}
    return trace.execute_job(job)


def _expired(expires: str) -> bool:
    from tuiq.protocol.task import parse_iso

    try:
        return parse_iso(expires) <= datetime.now(UTC)
    except (TypeError, ValueError):
        return False


class BasePool:
    """What the worker needs from a pool."""

    implementation = "tuiq.worker.pool:BasePool"
    #: True when a task runs inside the worker's own loop (solo).
    runs_inline = False
    #: True when a running task's process can be signalled (revoke with terminate).
    can_terminate = False
    #: True when a job is acknowledged once a process takes it, not when it is handed over.
    acks_on_accept = False

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency

    def start(self, hub: Any = None) -> None:
        """Start the pool's processes or threads; with ``hub``, registered with it too."""
        if hub is not None:
            self.register_with_event_loop(hub)

    def register_with_event_loop(self, hub: Any) -> None:
        """Do the pool's bookkeeping inside ``hub`` until that hub is closed."""

    def apply(self, job: dict[str, Any], on_accept: OnAccept, on_done: OnDone,
              on_error: OnError, soft: float | None, hard: float | None,
              ahead: bool = False) -> int | None:
        """Run ``job``; the callbacks report its outcome.

        Returns a token for :meth:`cancel`, or None when ``ahead`` was asked and
        the pool cannot queue this job behind the running ones now.
        """
        raise NotImplementedError

    def room_ahead(self, queued: int) -> bool:
        """Whether one more job may wait for a busy process, ``queued`` already waiting."""
        return False

    def cancel(self, token: int) -> None:
        """Call off a job that no process has taken yet (its summary says ``CANCELLED``)."""

    def drain_results(self) -> None:
        """Handle every outcome the pool has already reported (never blocks)."""

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

    def after_fork(self) -> None:
        """In the child: report with plain pickle, as the jobs come (see ``encode_job``)."""
        super().after_fork()
        queue = self.outq
        send_payload = queue.send_payload  # keeps the queue's write lock
        dumps, protocol = pickle.dumps, pickle.HIGHEST_PROTOCOL
        queue.put = lambda obj: send_payload(dumps(obj, protocol))


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
        result = self.register(callback=callback, error_callback=error_callback,
                               accept_callback=accept_callback,
                               timeout_callback=timeout_callback, soft_timeout=soft_timeout,
                               timeout=timeout, lost_worker_timeout=lost_worker_timeout)
        if result is not None:
            self.write(self.encode_job(result, func, args, kwds))
        return result

    def register(self, callback=None, error_callback=None, accept_callback=None,
                 timeout_callback=None, soft_timeout=None, timeout=None,
                 lost_worker_timeout=None) -> _LoopResult | None:
        """A job's result slot, whose callbacks the children's reports call; None once closed."""
        if self._state != billiard.pool.RUN:
            return None
        return _LoopResult(
            self._cache, callback, accept_callback, timeout_callback, error_callback,
            soft_timeout or self.soft_timeout, timeout or self.timeout,
            lost_worker_timeout or self.lost_worker_timeout,
            on_timeout_set=self.on_timeout_set, on_timeout_cancel=self.on_timeout_cancel,
        )

    @staticmethod
    def encode_job(result: billiard.pool.ApplyResult, func, args=(), kwds=None) -> bytes:
        """The bytes a child reads for ``result``'s job."""
        # Plain pickle: billiard's ForkingPickler builds a pickler with a copied
        # dispatch table for every job, and a job holds nothing that needs it.
        return pickle.dumps((billiard.pool.TASK, (result._job, None, func, args, kwds or {})),
                            pickle.HIGHEST_PROTOCOL)

    def write(self, payload: bytes) -> None:
        """Write an encoded job to the children's pipe."""
        self._send_job(payload)


class _NoLock:
    """A mutex for a result that only one thread ever touches."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _Flag:
    """``threading.Event``'s set/is_set, without the condition it builds for waiters."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        return self._set


_NO_LOCK = _NoLock()


class _LoopResult(billiard.pool.ApplyResult):
    """billiard's job result, without a lock and an event per job.

    The pool's reports are handled on one thread at a time (the loop, or the
    keeper thread when no loop has the pool) and nothing waits on a result, so
    the lock and the event billiard makes for each job only cost time.
    """

    def __init__(self, cache, callback, accept_callback, timeout_callback, error_callback,
                 soft_timeout, timeout, lost_worker_timeout, on_timeout_set,
                 on_timeout_cancel) -> None:
        self.correlation_id = None
        self._mutex = _NO_LOCK
        self._event = _Flag()
        self._job = next(billiard.pool.job_counter)
        self._cache = cache
        self._callback = callback
        self._accept_callback = accept_callback
        self._error_callback = error_callback
        self._timeout_callback = timeout_callback
        self._timeout = timeout
        self._soft_timeout = soft_timeout
        self._lost_worker_timeout = lost_worker_timeout
        self._on_timeout_set = on_timeout_set
        self._on_timeout_cancel = on_timeout_cancel
        self._callbacks_propagate = ()
        self._send_ack = None
        self._accepted = False
        self._cancelled = False
        self._worker_pid = None
        self._time_accepted = None
        self._terminated = None
        cache[self._job] = self


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
    acks_on_accept = True

    def __init__(self, concurrency: int, max_tasks_per_child: int | None = None,
                 max_memory_per_child: int | None = None, lost_wait: float = 1.0,
                 log_setup: Callable[[int], None] | None = None, lookahead: int = 1,
                 allow_restart: bool = False) -> None:
        super().__init__(concurrency)
        #: Children watch a restart flag between tasks (``pool_restart``); off by default
        #: because checking it costs a little on every task.
        self.allow_restart = allow_restart
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_per_child = max_memory_per_child
        self.lost_wait = lost_wait
        self.log_setup = log_setup
        #: Jobs per process that may wait in the pipe for a busy process.
        self.lookahead = max(int(lookahead or 0), 0)
        # Bytes written to the pipe and bytes of those jobs a child has taken:
        # each has one writer, so a keeper thread and the loop never race on a sum.
        self._bytes_written = 0
        self._bytes_taken = 0
        #: A look-ahead job goes in only while less than this waits in the pipe...
        self.lookahead_bytes = DEFAULT_PIPE_SIZE // 4
        #: ...and only if it fits in this much: a write must never block the loop.
        self.pipe_room = DEFAULT_PIPE_SIZE * 3 // 4
        self._pool: billiard.pool.Pool | None = None
        self._results: _ResultPipe | None = None
        self._hub: Any = None
        self._timers: list[Any] = []
        #: The fallback thread and the two ends of the pipe that stops it.
        self._keeper: tuple[threading.Thread, int, int] | None = None

    def start(self, hub: Any = None) -> None:
        """Fork the children; their bookkeeping runs in ``hub``, or on a thread until one comes."""
        global _cancel_ring
        counter = billiard.Value("i", 0)
        # A fresh ring for every pool: children inherit it with the fork.
        _cancel_ring = memoryview(mmap.mmap(-1, CANCEL_SLOTS * 8)).cast("q")
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
        size = pipe_size(self._pool._inqueue._writer.fileno())
        self.lookahead_bytes, self.pipe_room = size // 4, size * 3 // 4
        if hub is None:
            self._start_keeper()
        super().start(hub)

    # who drives the pool: the worker's hub, or the fallback thread ---------------------
    def register_with_event_loop(self, hub: Any) -> None:
        """Collect results, replace exited children and enforce time limits inside ``hub``.

        From now until ``hub`` is closed the callbacks run on the hub's thread;
        then the pool's own thread takes over again. Registering with a new hub
        (after a reconnect) leaves the previous one.
        """
        if self._pool is None or hub is self._hub:
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

    def drain_results(self) -> None:
        """Handle what the children have reported so far, before signalling one of them.

        A child that has just finished a job may already be running the next one
        from the pipe: its unread result is what tells the finished job apart.
        Only done while the loop owns the pool, on the loop's thread.
        """
        if self._hub is None or self._results is None:
            return
        poller = select.poll()
        poller.register(self._results.fd, select.POLLIN)
        while poller.poll(0):
            self._on_results()

    def _check_timeouts(self) -> None:
        # Soft limits signal the child; hard limits fail the job and kill the child.
        self.drain_results()
        pool = self._pool
        if pool is not None and pool._timeout_handler is not None:
            pool._timeout_handler.handle_event()

    # jobs ----------------------------------------------------------------------------
    def room_ahead(self, queued: int) -> bool:
        """Room for one more job behind the running ones (bounded in count and bytes)."""
        return queued < self.lookahead * self.concurrency and \
            self._bytes_written - self._bytes_taken < self.lookahead_bytes

    def cancel(self, token: int) -> None:
        """Mark the job in the shared ring; the child that takes it skips it."""
        if _cancel_ring is not None:
            _cancel_ring[token % CANCEL_SLOTS] = token

    def apply(self, job, on_accept, on_done, on_error, soft, hard, ahead=False):
        """Write ``job`` to the children's pipe; ``ahead`` refuses one that could block it."""
        pool = self._pool
        token = next(_token_counter)

        def taken() -> None:
            nonlocal size
            self._bytes_taken += size
            size = 0

        def accepted(pid: int, time_accepted: float) -> None:
            taken()
            on_accept(pid)

        def done(summary: dict[str, Any]) -> None:
            taken()
            on_done(summary)

        def failed(info: Any) -> None:
            taken()
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

        result = pool.register(callback=done, error_callback=failed, accept_callback=accepted,
                               soft_timeout=soft, timeout=hard)
        if result is None:
            return None
        payload = pool.encode_job(result, run_job, (job, token))
        size = len(payload)
        if ahead and self._bytes_written - self._bytes_taken + size > self.pipe_room:
            result.discard()
            return None
        self._bytes_written += size
        pool.write(payload)
        return token

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
        if not self.allow_restart:
            raise NotImplementedError("pool restarts are not enabled on this worker")
        if self._pool is None:  # not forked yet: its children will be fresh anyway
            return
        self._pool.restart()
        # A child checks its restart flag only between jobs, and an idle one is
        # blocked reading the job pipe: one no-op job per child wakes them all.
        for _ in range(self.concurrency):
            self._pool.apply_async(_restart_wakeup)

    def grow(self, n: int = 1) -> None:
        """Add ``n`` children."""
        if self._pool is not None:  # else start() forks them
            self._pool.grow(n)
        self.concurrency += n

    def shrink(self, n: int = 1) -> None:
        """Remove ``n`` idle children."""
        # billiard counts a child idle until its accept is read: read what is
        # there, so a child that has just taken a job from the pipe is not removed.
        if self._pool is not None:
            self.drain_results()
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

    def start(self, hub: Any = None) -> None:
        """Start the threads."""
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="tuiq-task")
        super().start(hub)

    def apply(self, job, on_accept, on_done, on_error, soft, hard, ahead=False):
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

    def apply(self, job, on_accept, on_done, on_error, soft, hard, ahead=False):
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
