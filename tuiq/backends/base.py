"""The result backend interface and the metadata every backend stores."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

from tuiq import states
from tuiq.exceptions import TimeoutError
from tuiq.protocol.exceptions import exception_from_dict, exception_to_dict


def build_meta(
    task_id: str,
    state: str,
    result: Any,
    traceback: str | None = None,
    request: Any = None,
    extended: bool = False,
) -> dict[str, Any]:
    """Build the result metadata dict exactly as Celery 5 writes it."""
    if state in states.EXCEPTION_STATES and isinstance(result, BaseException):
        result = exception_to_dict(result)
    meta: dict[str, Any] = {
        "status": state,
        "result": result,
        "traceback": traceback,
        "children": list(getattr(request, "children", None) or []),
        "date_done": (
            datetime.now(UTC).isoformat() if state in states.READY_STATES else None
        ),
        "task_id": task_id,
    }
    if request is not None:
        group_id = getattr(request, "group", None)
        parent_id = getattr(request, "parent_id", None)
        if group_id:
            meta["group_id"] = group_id
        if parent_id:
            meta["parent_id"] = parent_id
        if extended:
            meta.update(
                name=getattr(request, "task", None),
                args=getattr(request, "args", None),
                kwargs=getattr(request, "kwargs", None),
                worker=getattr(request, "hostname", None),
                retries=getattr(request, "retries", 0),
                queue=(getattr(request, "delivery_info", None) or {}).get("routing_key"),
            )
    return meta


def decode_result(meta: dict[str, Any]) -> Any:
    """The user-facing value of a meta dict: exceptions rebuilt for exception states."""
    result = meta.get("result")
    if meta.get("status") in states.EXCEPTION_STATES and isinstance(result, dict) and (
        "exc_type" in result
    ):
        return exception_from_dict(result)
    return result


class ResultBackend(ABC):
    """Stores and reads task results by id."""

    #: Whether results can be read back by id (False for the disabled backend).
    persistent = True

    def __init__(self, app) -> None:
        self.app = app

    @abstractmethod
    def store_result(
        self,
        task_id: str,
        result: Any,
        state: str,
        traceback: str | None = None,
        request: Any = None,
    ) -> dict[str, Any]:
        """Write a state for ``task_id``; a stored SUCCESS is never overwritten."""

    @abstractmethod
    def get_task_meta(self, task_id: str) -> dict[str, Any]:
        """Read the meta dict; an unknown id reads as PENDING."""

    @abstractmethod
    def forget(self, task_id: str) -> None:
        """Delete the stored result."""

    def wait_for(
        self, task_id: str, timeout: float | None = None, interval: float = 0.5
    ) -> dict[str, Any]:
        """Block until the task is ready and return its meta (polling by default)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            meta = self.get_task_meta(task_id)
            if meta["status"] in states.READY_STATES:
                return meta
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError("The operation timed out.")
            time.sleep(interval)

    def mark_as_started(self, task_id: str, request: Any = None, **meta: Any) -> None:
        """Store STARTED with ``{pid, hostname}`` (only when tracking is on)."""
        self.store_result(task_id, meta, states.STARTED, request=request)

    def mark_as_done(self, task_id: str, result: Any, request: Any = None) -> None:
        """Store SUCCESS."""
        self.store_result(task_id, result, states.SUCCESS, request=request)

    def mark_as_failure(
        self, task_id: str, exc: BaseException, traceback: str | None = None, request: Any = None
    ) -> None:
        """Store FAILURE with the exception dict."""
        self.store_result(task_id, exc, states.FAILURE, traceback=traceback, request=request)

    def mark_as_revoked(self, task_id: str, reason: str = "revoked", request: Any = None) -> None:
        """Store REVOKED with ``TaskRevokedError(reason)``."""
        from tuiq.exceptions import TaskRevokedError

        self.store_result(task_id, TaskRevokedError(reason), states.REVOKED, request=request)

    def mark_as_retry(
        self, task_id: str, exc: BaseException, traceback: str | None = None, request: Any = None
    ) -> None:
        """Store RETRY with the exception that caused it."""
        self.store_result(task_id, exc, states.RETRY, traceback=traceback, request=request)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends keep nothing open
        """Release connections (after a fork, or at exit)."""


class DisabledBackend(ResultBackend):
    """No result backend configured: writes are dropped, reads are refused."""

    persistent = False

    def store_result(self, task_id, result, state, traceback=None, request=None):
        """Drop the result."""
        return {}

    def get_task_meta(self, task_id):
        """Refuse: there is nowhere to read results from."""
        from tuiq.exceptions import ConfigurationError

        raise ConfigurationError("no result backend configured")

    def forget(self, task_id):
        """Nothing to forget."""
