"""Task commands: revokes, the task lists, registered tasks, and rate and time limits."""

from __future__ import annotations

from typing import Any

from tuiq.control.builtin.replies import nok, ok, optional_float, task_ids, to_bool
from tuiq.control.registry import Argument, control_command, inspect_command

#: Task attributes ``registered`` shows when none are asked for (Celery's default).
DEFAULT_TASK_INFO_ITEMS = ("exchange", "routing_key", "rate_limit")


@control_command(
    args=(Argument("task_id", required=True, variadic=True, help="task ids"),
          Argument("terminate", type=to_bool, default=False,
                   help="also kill the process running it"),
          Argument("signal", default="SIGTERM", help="signal for terminate")),
    help="Revoke tasks by id: discarded when they arrive (killed too with terminate).",
)
def revoke(state, task_id: Any, terminate: bool = False, signal: str | None = None,
           **kwargs: Any) -> dict[str, Any]:
    """Mark task ids revoked; optionally terminate the processes running them."""
    return state.revoke(task_ids(task_id), terminate=to_bool(terminate), signal=signal)


@control_command(
    args=(Argument("signal", required=True, help="signal name, e.g. TERM or KILL"),
          Argument("task_id", required=True, variadic=True, help="task ids")),
    help="Terminate running tasks by id with a signal (and revoke them).",
    destructive=True,
)
def terminate(state, signal: str, task_id: Any, **kwargs: Any) -> dict[str, Any]:
    """Revoke with ``terminate=True``."""
    return state.revoke(task_ids(task_id), terminate=True, signal=signal)


@control_command(
    args=(Argument("headers", required=True, variadic=True, help="stamp=value pairs"),
          Argument("terminate", type=to_bool, default=False,
                   help="also kill the processes running them"),
          Argument("signal", default="SIGTERM", help="signal for terminate")),
    help="Revoke tasks by stamped header values.",
)
def revoke_by_stamped_headers(state, headers: Any, terminate: bool = False,
                              signal: str | None = None, **kwargs: Any) -> dict[str, Any]:
    """Revoke every task whose stamps match ``headers`` (``{stamp: value or list}``)."""
    if isinstance(headers, list | tuple):
        pairs = {}
        for item in headers:
            key, sep, value = str(item).partition("=")
            if not sep or not key:
                return nok(f"bad stamped header {item!r}: expected key=value")
            pairs.setdefault(key, []).append(value)
        headers = pairs
    if not isinstance(headers, dict):
        return nok("headers must be a mapping of stamp names to values")
    return state.revoke_stamped(headers, terminate=to_bool(terminate), signal=signal)


@inspect_command(
    args=(Argument("ids", required=True, variadic=True, help="task ids"),),
    help="Where tasks are on this worker: active, reserved or scheduled.",
)
def query_task(state, ids: Any, **kwargs: Any) -> dict[str, Any]:
    """``{task_id: [state, TASK_INFO]}`` for the ids this worker holds."""
    return state.query_task(task_ids(ids))


@inspect_command(
    args=(Argument("safe", type=to_bool, default=False,
                   help="show args as their repr strings"),),
    aliases=("dump_active",), help="Tasks running now.",
)
def active(state, safe: bool = False, **kwargs: Any) -> list[dict[str, Any]]:
    """TASK_INFO of each running task."""
    return state.active(safe=to_bool(safe))


@inspect_command(aliases=("dump_reserved",), help="Tasks received and waiting for a process.")
def reserved(state, **kwargs: Any) -> list[dict[str, Any]]:
    """TASK_INFO of each reserved (not running, not ETA-scheduled) task."""
    return state.reserved()


@inspect_command(aliases=("dump_schedule",), help="Tasks waiting for their ETA or countdown.")
def scheduled(state, **kwargs: Any) -> list[dict[str, Any]]:
    """``{"eta", "priority", "request"}`` for each scheduled task."""
    return state.scheduled()


@inspect_command(aliases=("dump_revoked",), help="Revoked task ids, oldest first.")
def revoked(state, **kwargs: Any) -> list[str]:
    """The ids in the revoked set."""
    return state.worker.revoked.as_list()


@inspect_command(
    args=(Argument("taskinfoitems", variadic=True,
                   help="task attributes to show, e.g. rate_limit acks_late"),
          Argument("builtins", type=to_bool, default=False, help="include celery.* tasks")),
    aliases=("dump_tasks",), help="Registered task names (with attributes).",
)
def registered(state, taskinfoitems: Any = None, builtins: bool = False,
               **kwargs: Any) -> list[str]:
    """Sorted task names, as ``"name [attr=value ...]"`` where attributes are set."""
    items = task_ids(taskinfoitems) or list(DEFAULT_TASK_INFO_ITEMS)
    items = [item for item in items if not item.startswith("_")]
    tasks = state.app.tasks
    names = sorted(name for name in tasks
                   if to_bool(builtins) or not name.startswith("celery."))
    shown = []
    for name in names:
        task = tasks[name]
        fields = [f"{item}={getattr(task, item)}" for item in items
                  if getattr(task, item, None) is not None]
        shown.append(f"{name} [{' '.join(fields)}]" if fields else name)
    return shown


@control_command(
    args=(Argument("task_name", required=True, help="registered task name"),
          Argument("rate_limit", required=True, help="e.g. 10/s, 100/m, 1000/h; 0 disables")),
    help="Set the rate limit of a task type.",
)
def rate_limit(state, task_name: str, rate_limit: Any, **kwargs: Any) -> dict[str, Any]:
    """Change a task type's rate limit on this worker."""
    return state.set_rate_limit(task_name, rate_limit)


@control_command(
    args=(Argument("task_name", required=True, help="registered task name"),
          Argument("soft", type=optional_float, help="soft limit in seconds"),
          Argument("hard", type=optional_float, help="hard limit in seconds")),
    help="Set the soft and hard time limits of a task type (for tasks started later).",
)
def time_limit(state, task_name: str | None = None, hard: Any = None, soft: Any = None,
               **kwargs: Any) -> dict[str, Any]:
    """Change a task type's time limits on this worker."""
    try:
        soft_value, hard_value = optional_float(soft), optional_float(hard)
    except (TypeError, ValueError) as exc:
        return nok(f"invalid time limit: {exc}")
    task = state.app.tasks.get(task_name) if task_name else None
    if task is None:
        return nok("unknown task")
    task.soft_time_limit = soft_value
    task.time_limit = hard_value
    state.log.info("New time limits for tasks of type %s: soft=%s hard=%s", task_name,
                   soft_value, hard_value)
    return ok("time limits set successfully")
