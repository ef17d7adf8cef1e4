"""tuiq: a Celery-compatible task worker engine with a terminal operations console."""

from __future__ import annotations

from tuiq import states
from tuiq.app import App, Celery, current_app
from tuiq.canvas import Signature, chain, chord, chunks, group, signature, xmap, xstarmap
from tuiq.exceptions import (
    Ignore,
    MaxRetriesExceededError,
    NotRegistered,
    Reject,
    Retry,
    SoftTimeLimitExceeded,
    TaskRevokedError,
    TimeLimitExceeded,
    WorkerLostError,
)
from tuiq.result import AsyncResult, GroupResult
from tuiq.task import Task

__version__ = "0.1.0"

__all__ = [
    "App", "Celery", "current_app", "Task", "AsyncResult", "GroupResult", "Signature",
    "signature", "chain", "group", "chord", "chunks", "xmap", "xstarmap", "states",
    "Ignore", "Reject", "Retry", "MaxRetriesExceededError", "NotRegistered",
    "SoftTimeLimitExceeded", "TimeLimitExceeded", "WorkerLostError", "TaskRevokedError",
    "__version__",
]
