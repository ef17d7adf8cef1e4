"""Running one task: the request context, result storing, retries and follow-ups.

``execute_job`` runs inside a pool process (or in the worker itself for the
solo and threads pools) and returns a small summary dict to the main process,
which logs it and settles the message. Results are stored from here, so a
large return value never crosses the pool's pipes.
"""

from __future__ import annotations

import logging
import os
import random
import time
import traceback as tb
from typing import Any

from tuiq import states
from tuiq.exceptions import Ignore, Reject, Retry
from tuiq.protocol.exceptions import safe_repr
from tuiq.task import Context, Task

logger = logging.getLogger("tuiq.worker")

#: The app and node name of this worker, set before the pool forks.
_worker_app = None
_worker_hostname: str | None = None

RESULT_REPR_MAXLEN = 1024


def set_worker_app(app, hostname: str) -> None:
    """Record the app and node name that executed tasks belong to."""
    global _worker_app, _worker_hostname
    _worker_app = app
    _worker_hostname = hostname


def _backoff(task: Task, retries: int) -> float:
    """Exponential retry back-off as Celery computes it (``retry_backoff``)."""
    factor = 1 if task.retry_backoff is True else float(task.retry_backoff)
    countdown = min(task.retry_backoff_max, factor * (2 ** retries))
    if task.retry_jitter:
        countdown = random.randrange(int(countdown) + 1)
    return max(0.0, countdown)


def send_follow_ups(app, signatures: list[dict[str, Any]], prepend: tuple, request: Context,
                    chain: list[dict[str, Any]] | None = None) -> None:
    """Send callbacks, errbacks or the next chain step, as children of ``request``."""
    from tuiq.canvas import signature_from_dict

    for index, raw in enumerate(signatures):
        sig = signature_from_dict(raw, app=app)
        options = dict(sig.options)
        options.setdefault("parent_id", request.id)
        options.setdefault("root_id", request.root_id or request.id)
        if chain is not None and index == 0:
            options["chain"] = chain or None
        sig.apply_async(prepend if not sig.immutable else (), **options)


def chord_part_return(backend, request: Context, state: str, result: Any) -> None:
    """Record ``request``'s outcome in its chord; the last header task sends the body."""
    chords = getattr(backend, "chords", None)
    if chords is None:
        logger.error("Task %s is part of a chord, which needs the Redis result backend",
                     request.id)
        return
    try:
        chords.on_part_return(request, state, result)
    except Exception:  # noqa: BLE001 - the task's own result is already stored
        logger.exception("Task %s: chord bookkeeping failed", request.id)


def build_request(job: dict[str, Any]) -> Context:
    """The ``self.request`` of a job."""
    headers = job.get("headers") or {}
    fields = dict(headers)
    fields.update(
        id=job["id"], task=job["name"], args=job["args"], kwargs=job["kwargs"],
        retries=int(headers.get("retries") or 0), hostname=_worker_hostname,
        delivery_info=job.get("delivery_info") or {}, called_directly=False,
        is_eager=bool(job.get("is_eager")), group=headers.get("group"),
        reply_to=(job.get("properties") or {}).get("reply_to"),
        correlation_id=(job.get("properties") or {}).get("correlation_id"),
        callbacks=job.get("embed", {}).get("callbacks"),
        errbacks=job.get("embed", {}).get("errbacks"),
        chain=job.get("embed", {}).get("chain"),
        chord=job.get("embed", {}).get("chord"),
        headers=headers, properties=job.get("properties") or {},
    )
    return Context(**fields)


def _should_store(task: Task, request: Context) -> bool:
    ignore = request.ignore_result
    if ignore is None:
        ignore = task.ignore_result or task.app.conf.task_ignore_result
    return not ignore


def execute_job(job: dict[str, Any], app=None) -> dict[str, Any]:
    """Run one task and store its outcome; return a summary for the main process.

    The summary has ``state`` plus, by state: ``result`` (a repr) and
    ``runtime``; ``exception``/``traceback``; ``requeue`` for rejections.
    """
    app = app or _worker_app
    task = app.tasks[job["name"]]
    request = build_request(job)
    backend = app.backend
    store = _should_store(task, request)
    if task.track_started or app.conf.task_track_started:
        if store:
            backend.mark_as_started(request.id, request=request, pid=os.getpid(),
                                    hostname=_worker_hostname)
    started = time.perf_counter()
    task.push_request(request)
    try:
        try:
            retval = task.run(*request.args, **request.kwargs)
        except Exception as exc:
            if task.autoretry_for and isinstance(exc, task.autoretry_for) and not isinstance(
                    exc, Retry | Ignore | Reject):
                retry_kwargs = dict(task.retry_kwargs)
                if task.retry_backoff and "countdown" not in retry_kwargs:
                    retry_kwargs["countdown"] = _backoff(task, request.retries)
                task.retry(exc=exc, **retry_kwargs)
            raise
    except Retry as retry:
        exc = retry.exc if retry.exc is not None else retry
        text = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
        if store:
            backend.mark_as_retry(request.id, exc, traceback=text, request=request)
        return {"state": states.RETRY, "exception": safe_repr(exc), "traceback": text,
                "reason": retry.humanize(), "runtime": time.perf_counter() - started}
    except Ignore:
        return {"state": states.IGNORED, "runtime": time.perf_counter() - started}
    except Reject as reject:
        if not reject.requeue and store:
            backend.mark_as_failure(request.id, reject, request=request)
        return {"state": states.REJECTED, "requeue": bool(reject.requeue),
                "exception": safe_repr(reject),
                "traceback": "".join(tb.format_exception(type(reject), reject,
                                                         reject.__traceback__)),
                "runtime": time.perf_counter() - started}
    except BaseException as exc:  # noqa: BLE001 - every failure is reported, not raised
        if isinstance(exc, KeyboardInterrupt | SystemExit) and not isinstance(exc, Exception):
            raise
        runtime = time.perf_counter() - started
        text = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
        if store or task.store_errors_even_if_ignored or app.conf.\
                task_store_errors_even_if_ignored:
            backend.mark_as_failure(request.id, exc, traceback=text, request=request)
        if request.chord:
            chord_part_return(backend, request, states.FAILURE, exc)
        if request.errbacks:
            try:
                send_follow_ups(app, request.errbacks, (request.id,), request)
            except Exception:  # noqa: BLE001 - an errback must not mask the failure
                logger.exception("Task %s[%s]: cannot send errbacks", task.name, request.id)
        expected = bool(task.throws) and isinstance(exc, task.throws)
        return {"state": states.FAILURE, "exception": safe_repr(exc), "traceback": text,
                "exc_type": type(exc).__name__, "expected": expected, "runtime": runtime}
    else:
        runtime = time.perf_counter() - started
        # Follow-ups go out while the request is current, so they are recorded
        # as its children before the result (with ``children``) is stored.
        if request.callbacks:
            send_follow_ups(app, request.callbacks, (retval,), request)
        if request.chain:
            remaining = list(request.chain)
            next_step = remaining.pop()
            send_follow_ups(app, [next_step], (retval,), request, chain=remaining)
        if store:
            backend.mark_as_done(request.id, retval, request=request)
        if request.chord:
            chord_part_return(backend, request, states.SUCCESS, retval)
        return {"state": states.SUCCESS, "result": safe_repr(retval, RESULT_REPR_MAXLEN),
                "runtime": runtime}
    finally:
        task.pop_request()


class EagerResult:
    """The result of a task run in-process with ``apply()`` or ``task_always_eager``."""

    def __init__(self, task_id: str, value: Any, state: str, traceback: str | None = None):
        self.id = task_id
        self._value = value
        self._state = state
        self.traceback = traceback

    @property
    def state(self) -> str:
        """The final state."""
        return self._state

    status = state

    @property
    def result(self) -> Any:
        """The value or the exception."""
        return self._value

    info = result

    def ready(self) -> bool:
        """Always True."""
        return True

    def successful(self) -> bool:
        """True if the task succeeded."""
        return self._state == states.SUCCESS

    def failed(self) -> bool:
        """True if the task failed."""
        return self._state == states.FAILURE

    def get(self, timeout: float | None = None, propagate: bool = True, **_: Any) -> Any:
        """The value; the exception is raised if ``propagate``."""
        if propagate and isinstance(self._value, BaseException):
            raise self._value
        return self._value

    def __repr__(self) -> str:
        return f"<EagerResult: {self.id}>"


def run_eager(task: Task, args: list[Any], kwargs: dict[str, Any], task_id: str | None,
              options: dict[str, Any]) -> EagerResult:
    """Run ``task`` in this process with a full request context."""
    import uuid

    task_id = task_id or str(uuid.uuid4())
    request = Context(id=task_id, task=task.name, args=args, kwargs=kwargs, retries=0,
                      called_directly=False, is_eager=True, root_id=task_id,
                      hostname=_worker_hostname, delivery_info={"is_eager": True})
    task.push_request(request)
    try:
        value = task.run(*args, **kwargs)
    except Retry as retry:
        return EagerResult(task_id, retry, states.RETRY)
    except Exception as exc:  # noqa: BLE001
        text = "".join(tb.format_exception(type(exc), exc, exc.__traceback__))
        if options.get("throw", task.app.conf.task_eager_propagates):
            raise
        return EagerResult(task_id, exc, states.FAILURE, text)
    finally:
        task.pop_request()
    return EagerResult(task_id, value, states.SUCCESS)
