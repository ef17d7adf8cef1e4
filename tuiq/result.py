"""``AsyncResult`` and ``GroupResult``: a handle on a task's outcome by id."""

from __future__ import annotations

import time
from typing import Any

from tuiq import states
from tuiq.backends.base import decode_result
from tuiq.exceptions import TimeoutError


class AsyncResult:
    """The state and return value of one task, read from the result backend."""

    def __init__(self, id: str, app=None, backend=None, parent: AsyncResult | None = None):
        from tuiq.app import current_app

        self.id = id
        self.app = app or current_app()
        self._backend = backend
        self.parent = parent
        self._cache: dict[str, Any] | None = None

    @property
    def task_id(self) -> str:
        """Alias of :attr:`id`."""
        return self.id

    @property
    def backend(self):
        """The backend this result is read from."""
        return self._backend or self.app.backend

    def _get_meta(self) -> dict[str, Any]:
        if self._cache is not None:
            return self._cache
        meta = self.backend.get_task_meta(self.id)
        if meta.get("status") in states.READY_STATES:
            self._cache = meta
        return meta

    @property
    def state(self) -> str:
        """The current state (PENDING when nothing is known)."""
        return self._get_meta()["status"]

    status = state

    @property
    def result(self) -> Any:
        """The return value, or the exception for failed, retried and revoked tasks."""
        return decode_result(self._get_meta())

    info = result

    @property
    def traceback(self) -> str | None:
        """The traceback text of a failure."""
        return self._get_meta().get("traceback")

    @property
    def date_done(self) -> str | None:
        """When the task reached a ready state (ISO-8601)."""
        return self._get_meta().get("date_done")

    @property
    def children(self) -> list:
        """Results of the tasks this task sent (its callbacks, next chain step...).

        As in Celery, the stored ``[[id, parent], nodes]`` tuples come back as
        :class:`AsyncResult` (or :class:`GroupResult`) objects.
        """
        return [result_from_tuple(child, self.app)
                for child in self._get_meta().get("children") or []]

    def ready(self) -> bool:
        """True once the task succeeded, failed or was revoked."""
        return self.state in states.READY_STATES

    def successful(self) -> bool:
        """True if the task succeeded."""
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        """True if the task failed."""
        return self.state == states.FAILURE

    def get(
        self,
        timeout: float | None = None,
        propagate: bool = True,
        interval: float = 0.5,
        disable_sync_subtasks: bool = True,
    ) -> Any:
        """Wait for the task and return its value; re-raise its exception if ``propagate``."""
        if self._cache is None:
            self._cache = self.backend.wait_for(self.id, timeout=timeout, interval=interval)
        meta = self._cache
        value = decode_result(meta)
        if propagate and meta["status"] in states.PROPAGATE_STATES:
            if isinstance(value, BaseException):
                raise value
        return value

    wait = get

    def forget(self) -> None:
        """Delete the stored result."""
        self._cache = None
        self.backend.forget(self.id)

    def revoke(self, terminate: bool = False, signal: str = "SIGTERM", **kwargs: Any) -> None:
        """Ask every worker to discard (or, with ``terminate``, kill) this task."""
        self.app.control.revoke(self.id, terminate=terminate, signal=signal, **kwargs)

    def as_tuple(self) -> list:
        """The result tuple form stored in ``children``."""
        parent = self.parent.as_tuple() if self.parent else None
        return [[self.id, parent], None]

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return other.id == self.id
        if isinstance(other, str):
            return other == self.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def __str__(self) -> str:
        return self.id


class GroupResult:
    """The results of a group of tasks."""

    def __init__(self, id: str | None, results: list[AsyncResult], app=None):
        self.id = id
        self.results = list(results)
        self.app = app

    def __iter__(self):
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def ready(self) -> bool:
        """True when every member is ready."""
        return all(r.ready() for r in self.results)

    def successful(self) -> bool:
        """True when every member succeeded."""
        return all(r.successful() for r in self.results)

    def failed(self) -> bool:
        """True when any member failed."""
        return any(r.failed() for r in self.results)

    def completed_count(self) -> int:
        """How many members succeeded."""
        return sum(1 for r in self.results if r.successful())

    def get(self, timeout: float | None = None, propagate: bool = True,
            interval: float = 0.5) -> list[Any]:
        """Wait for every member, in order, and return their values."""
        deadline = None if timeout is None else time.monotonic() + timeout
        values = []
        for result in self.results:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
            if remaining == 0:
                raise TimeoutError("The operation timed out.")
            values.append(result.get(timeout=remaining, propagate=propagate, interval=interval))
        return values

    join = get

    def revoke(self, terminate: bool = False, signal: str = "SIGTERM") -> None:
        """Revoke every member."""
        for result in self.results:
            result.revoke(terminate=terminate, signal=signal)

    def __repr__(self) -> str:
        return f"<GroupResult: {self.id} [{', '.join(r.id for r in self.results)}]>"


def result_from_tuple(value: Any, app=None) -> AsyncResult | GroupResult:
    """Rebuild a result from its stored tuple form ``[[id, parent], nodes]`` (Celery's).

    ``nodes`` not None means a group; ``parent`` is itself a tuple or None. A value
    that is already a result object is returned unchanged.
    """
    if isinstance(value, AsyncResult | GroupResult):
        return value
    head, nodes = value
    task_id, parent = head if isinstance(head, list | tuple) else (head, None)
    if nodes is not None:
        return GroupResult(task_id, [result_from_tuple(node, app) for node in nodes], app=app)
    return AsyncResult(task_id, app=app,
                       parent=result_from_tuple(parent, app) if parent else None)
