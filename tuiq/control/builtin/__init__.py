"""The built-in commands a worker answers (Celery 5.7's names and reply shapes)."""

from __future__ import annotations

from typing import Any

from tuiq.control.registry import Argument, control_command, inspect_command


def ok(value: Any) -> dict[str, Any]:
    """A success reply."""
    return {"ok": value}


def nok(value: Any) -> dict[str, Any]:
    """An error reply."""
    return {"error": value}


def _ids(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


@inspect_command(help="Ping the worker.", default_timeout=0.2)
def ping(state, **kwargs: Any) -> dict[str, Any]:
    """Reply pong."""
    return ok("pong")


@control_command(
    args=(Argument("task_id", required=True, variadic=True),
          Argument("terminate", type=bool, default=False),
          Argument("signal", default="SIGTERM")),
    help="Revoke tasks by id: they are discarded when received (or killed with terminate).",
)
def revoke(state, task_id: Any, terminate: bool = False, signal: str | None = None,
           **kwargs: Any) -> dict[str, Any]:
    """Mark task ids revoked; optionally terminate the processes running them."""
    ids = _ids(task_id)
    return state.revoke(ids, terminate=terminate, signal=signal)


@control_command(help="Shut the worker down (warm).", destructive=True)
def shutdown(state, msg: str = "Got shutdown from remote", **kwargs: Any) -> None:
    """Start a warm shutdown; like Celery, no reply is sent."""
    state.request_shutdown(msg)
    raise _NoReply()


class _NoReply(Exception):
    """Raised by a handler that must not reply."""


NoReply = _NoReply
