"""Exceptions raised by tasks, results and the worker.

Class names match Celery's so that exception dicts in result metadata
(``exc_type``/``exc_module``) are understood by either side.
"""

from __future__ import annotations

from billiard.exceptions import (  # noqa: F401  (re-exported)
    SoftTimeLimitExceeded,
    TimeLimitExceeded,
    WorkerLostError,
)


class TuiqError(Exception):
    """Base class of tuiq's own errors."""


class ConfigurationError(TuiqError):
    """A setting or command-line option has a value tuiq cannot use."""


class BrokerUnavailable(TuiqError):
    """The broker (or result store) could not be reached."""


class AppNotFound(TuiqError):
    """``-A/--app`` did not name an importable tuiq or Celery app."""


class NotRegistered(KeyError, TuiqError):
    """The task name is not registered with the app."""

    def __repr__(self) -> str:
        return f"NotRegistered({self.args[0]!r})" if self.args else "NotRegistered()"

    def __str__(self) -> str:
        name = self.args[0] if self.args else "?"
        return f"Task of kind {name!r} never registered, please make sure it's imported."


class TaskError(TuiqError):
    """Base class of task-execution errors."""


class TimeoutError(TaskError):  # noqa: A001 - Celery's name
    """``AsyncResult.get`` waited longer than its timeout."""


class TaskRevokedError(TaskError):
    """The task was revoked, terminated or had expired."""


class InvalidTaskError(TaskError):
    """A task message is malformed: it is rejected, never run."""


class Ignore(TaskError):
    """Raised in a task to leave its state alone and acknowledge the message."""


class Reject(TaskError):
    """Raised in a task to reject its message, optionally requeueing it."""

    def __init__(self, reason: object = None, requeue: bool = False) -> None:
        self.reason = reason
        self.requeue = requeue
        super().__init__(reason, requeue)

    def __repr__(self) -> str:
        return f"reject requeue={self.requeue}: {self.reason}"


class Retry(TaskError):
    """Raised by ``Task.retry`` to tell the worker that the task will run again."""

    def __init__(
        self,
        message: str | None = None,
        exc: BaseException | None = None,
        when: object = None,
        is_eager: bool = False,
        sig: object = None,
    ) -> None:
        self.message = message
        self.exc = exc
        self.when = when
        self.is_eager = is_eager
        self.sig = sig
        super().__init__(self.humanize())

    def humanize(self) -> str:
        """Describe when the task will run again."""
        if self.when is None:
            return f"Retry {self.message or ''}".strip()
        if isinstance(self.when, int | float):
            return f"Retry in {self.when}s"
        return f"Retry at {self.when}"

    def __reduce__(self):
        return self.__class__, (self.message, self.exc, self.when)


class MaxRetriesExceededError(TaskError):
    """The task asked to retry more often than its ``max_retries``."""


class QueueNotFound(KeyError, TuiqError):
    """A queue named in a route is not defined and missing queues are not created."""


class ChordError(TaskError):
    """A task in a chord's header failed, so the chord's body did not run."""


class ImproperlyConfigured(ConfigurationError):
    """Celery's name for a configuration error."""


#: Exception classes whose dicts name Celery's module, for wire compatibility.
CELERY_MODULE = "celery.exceptions"
CELERY_NAMED = {
    "NotRegistered": NotRegistered,
    "TaskRevokedError": TaskRevokedError,
    "Reject": Reject,
    "Ignore": Ignore,
    "Retry": Retry,
    "MaxRetriesExceededError": MaxRetriesExceededError,
    "TimeoutError": TimeoutError,
    "InvalidTaskError": InvalidTaskError,
    "QueueNotFound": QueueNotFound,
    "ChordError": ChordError,
    "SoftTimeLimitExceeded": SoftTimeLimitExceeded,
    "TimeLimitExceeded": TimeLimitExceeded,
    "WorkerLostError": WorkerLostError,
}


def describe_import_error(exc: BaseException) -> str:
    """One line for an exception raised while a user's module was imported.

    A syntax error names the file and the line; anything else its type and the
    first line of its message, e.g. ``ZeroDivisionError: division by zero``.
    """
    if isinstance(exc, SyntaxError):
        where = f"{exc.filename}, line {exc.lineno}" if exc.filename else f"line {exc.lineno}"
        return f"{type(exc).__name__}: {exc.msg} ({where})"
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
