"""``Task``: a registered function with options, its request context and retries."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tuiq import states
from tuiq.exceptions import MaxRetriesExceededError, Retry


class Context:
    """The request of the task being executed (``self.request``).

    Holds every header of the task message plus ``args``, ``kwargs``,
    ``hostname``, ``delivery_info`` and ``called_directly``. Unknown attributes
    read as None, as in Celery.
    """

    id: str | None = None
    args: Sequence[Any] = ()
    kwargs: dict[str, Any] = {}
    retries: int = 0
    hostname: str | None = None
    delivery_info: dict[str, Any] | None = None
    eta: str | None = None
    expires: str | None = None
    called_directly: bool = True
    is_eager: bool = False
    group: str | None = None
    group_index: int | None = None
    parent_id: str | None = None
    root_id: str | None = None
    origin: str | None = None
    reply_to: str | None = None
    correlation_id: str | None = None
    timelimit: tuple[float | None, float | None] | None = None
    callbacks: list | None = None
    errbacks: list | None = None
    chain: list | None = None
    chord: dict | None = None
    ignore_result: bool | None = False
    task: str | None = None
    headers: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    stamps: dict[str, Any] | None = None

    def __init__(self, **fields: Any) -> None:
        self.children: list = []
        self.__dict__.update(fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def get(self, key: str, default: Any = None) -> Any:
        """Read a field, like a dict."""
        return getattr(self, key, default) if hasattr(type(self), key) or key in self.__dict__ \
            else default

    def as_dict(self) -> dict[str, Any]:
        """The fields set on this request."""
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return f"<Context: {self.__dict__!r}>"


class _RequestStack(threading.local):
    def __init__(self) -> None:
        self.stack: list[tuple[Task, Context]] = []


_requests = _RequestStack()


def current_task() -> Task | None:
    """The task executing in this thread, if any."""
    return _requests.stack[-1][0] if _requests.stack else None


class Task:
    """A task type. Subclass it, or create one with ``@app.task``."""

    name: str = ""
    app = None
    typing = True
    max_retries: int | None = 3
    default_retry_delay: float = 180
    autoretry_for: tuple[type[BaseException], ...] = ()
    retry_kwargs: dict[str, Any] = {}
    retry_backoff: bool | float = False
    retry_backoff_max: float = 600
    retry_jitter: bool = True
    rate_limit: str | int | float | None = None
    time_limit: float | None = None
    soft_time_limit: float | None = None
    ignore_result: bool = False
    store_errors_even_if_ignored: bool = False
    acks_late: bool = False
    acks_on_failure_or_timeout: bool = True
    reject_on_worker_lost: bool | None = None
    track_started: bool = False
    throws: tuple[type[BaseException], ...] = ()
    serializer: str | None = None
    queue: str | None = None
    priority: int | None = None
    expires: float | datetime | None = None
    shadow: str | None = None

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """The task's body; subclasses override it."""
        raise NotImplementedError(f"task {self.name} has no run()")

    # calling ---------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task in this process, with a request marked ``called_directly``."""
        if _requests.stack and _requests.stack[-1][0] is self:
            return self.run(*args, **kwargs)
        context = Context(args=args, kwargs=kwargs, called_directly=True, task=self.name)
        _requests.stack.append((self, context))
        try:
            return self.run(*args, **kwargs)
        finally:
            _requests.stack.pop()

    def push_request(self, context: Context) -> None:
        """Make ``context`` this task's current request (used by the worker)."""
        _requests.stack.append((self, context))

    def pop_request(self) -> None:
        """Remove the current request."""
        _requests.stack.pop()

    @property
    def request(self) -> Context:
        """The request being executed, or an empty one outside a worker."""
        for task, context in reversed(_requests.stack):
            if task is self:
                return context
        return Context()

    def delay(self, *args: Any, **kwargs: Any):
        """Send the task with these arguments; shortcut for :meth:`apply_async`."""
        return self.apply_async(args, kwargs)

    def apply_async(self, args: Sequence[Any] | None = None,
                    kwargs: dict[str, Any] | None = None, **options: Any):
        """Send the task to a worker; returns an :class:`~tuiq.result.AsyncResult`.

        Options: countdown, eta, expires, queue, routing_key, exchange, priority,
        task_id, serializer, compression, headers, link, link_error, retry,
        retry_policy, ignore_result, time_limit, soft_time_limit, shadow.
        """
        if self.app.conf.task_always_eager:
            return self.apply(args, kwargs, task_id=options.get("task_id"))
        merged = self._default_options()
        merged.setdefault("ignore_result", self.ignore_result)
        merged.update({k: v for k, v in options.items() if v is not None})
        return self.app.send_task(self.name, args, kwargs, **merged)

    def _default_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.queue:
            options["queue"] = self.queue
        if self.priority is not None:
            options["priority"] = self.priority
        if self.serializer:
            options["serializer"] = self.serializer
        if self.expires is not None:
            options["expires"] = self.expires
        if self.shadow:
            options["shadow"] = self.shadow
        return options

    def apply(self, args: Sequence[Any] | None = None, kwargs: dict[str, Any] | None = None,
              task_id: str | None = None, **options: Any):
        """Run the task here and now, returning an ``EagerResult``."""
        from tuiq.worker.trace import run_eager

        return run_eager(self, list(args or ()), dict(kwargs or {}), task_id, options)

    # signatures -------------------------------------------------------------
    def signature(self, args: Sequence[Any] | None = None, kwargs: dict[str, Any] | None = None,
                  **options: Any):
        """A :class:`~tuiq.canvas.Signature` of this task."""
        from tuiq.canvas import Signature

        return Signature(self.name, args, kwargs, options, app=self.app)

    def s(self, *args: Any, **kwargs: Any):
        """A signature with these arguments."""
        return self.signature(args, kwargs)

    def si(self, *args: Any, **kwargs: Any):
        """An immutable signature: it ignores the parent's result."""
        return self.signature(args, kwargs, immutable=True)

    def map(self, iterable):
        """A ``tuiq.map`` task applying this task to each item."""
        from tuiq.canvas import xmap

        return xmap(self.s(), iterable, app=self.app)

    def starmap(self, iterable):
        """A ``tuiq.starmap`` task applying this task to each argument tuple."""
        from tuiq.canvas import xstarmap

        return xstarmap(self.s(), iterable, app=self.app)

    def chunks(self, iterable, n: int):
        """Split ``iterable`` into ``n``-sized chunks, each run as one starmap task."""
        from tuiq.canvas import chunks

        return chunks(self.s(), iterable, n, app=self.app)

    def AsyncResult(self, task_id: str):  # noqa: N802 - Celery's name
        """A result handle for ``task_id``."""
        return self.app.AsyncResult(task_id)

    # inside a running task --------------------------------------------------
    def update_state(self, task_id: str | None = None, state: str | None = None,
                     meta: Any = None, **kwargs: Any) -> None:
        """Store a state (e.g. a custom ``PROGRESS``) with ``meta`` for this task."""
        task_id = task_id or self.request.id
        if task_id is None:
            raise ValueError("update_state needs a task id outside a worker")
        self.app.backend.store_result(task_id, meta, state or states.PENDING,
                                      request=self.request)

    def retry(self, args: Sequence[Any] | None = None, kwargs: dict[str, Any] | None = None,
              exc: BaseException | None = None, throw: bool = True,
              eta: datetime | None = None, countdown: float | None = None,
              max_retries: int | None = None, **options: Any):
        """Send this task again (same id, ``retries + 1``) and raise :class:`Retry`.

        Raises ``exc`` (or :class:`MaxRetriesExceededError`) once ``max_retries``
        is used up.
        """
        request = self.request
        retries = int(request.retries or 0)
        max_retries = self.max_retries if max_retries is None else max_retries
        if request.called_directly:
            raise exc if exc is not None else Retry("task called directly", exc=exc)
        if max_retries is not None and retries >= max_retries:
            if exc is not None:
                raise exc
            raise MaxRetriesExceededError(
                f"Can't retry {self.name}[{request.id}] args:{request.args} "
                f"kwargs:{request.kwargs}"
            )
        if eta is None and countdown is None:
            countdown = self.default_retry_delay
        when = eta if eta is not None else countdown
        sig_options = {
            "task_id": request.id,
            "retries": retries + 1,
            "parent_id": request.id,
            "root_id": request.root_id,
            "group_id": request.group,
            "group_index": request.group_index,
            "shadow": request.headers.get("shadow") if request.headers else None,
            "chain": request.chain,
            "link": request.callbacks,
            "link_error": request.errbacks,
            "timelimit": request.timelimit,
            "countdown": countdown,
            "eta": eta,
            "expires": request.expires,
            "chord": request.chord,
            "reply_to": request.reply_to,
            "priority": (request.delivery_info or {}).get("priority"),
        }
        # Go back the way the message came: by queue name when it came through
        # the default exchange, else by its exchange and routing key.
        delivery = request.delivery_info or {}
        if delivery.get("exchange"):
            sig_options["exchange"] = delivery["exchange"]
            sig_options["routing_key"] = delivery.get("routing_key")
        else:
            sig_options["queue"] = delivery.get("routing_key")
        sig_options.update(options)
        if request.is_eager:
            raise Retry(exc=exc, when=when)
        self.app.send_task(
            self.name,
            request.args if args is None else args,
            request.kwargs if kwargs is None else kwargs,
            **sig_options,
        )
        retry = Retry(exc=exc, when=when)
        if throw:
            raise retry
        return retry

    def __repr__(self) -> str:
        return f"<@task: {self.name}>"
