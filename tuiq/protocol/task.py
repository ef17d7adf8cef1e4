"""Task messages, protocol v2 (and v1/hybrid on input), as Celery 5 sends them.

``build_task_message`` makes the headers, properties and body that a client
publishes; ``parse_task_message`` turns a received message into a
:class:`TaskMessage` or raises :class:`~tuiq.exceptions.InvalidTaskError`, so a
malformed message is rejected instead of crashing the worker.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tuiq.exceptions import InvalidTaskError
from tuiq.protocol.exceptions import safe_repr

REPR_MAXLEN = 1024


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def to_iso(value: datetime | float | int | str | None, *, relative: bool = False) -> str | None:
    """Turn an eta/expires value into the aware ISO-8601 string on the wire.

    Numbers mean seconds from now when ``relative`` (``expires=60``), else an
    epoch timestamp. Naive datetimes are taken as UTC.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return parse_iso(value).isoformat()
    if isinstance(value, int | float):
        if relative:
            return (utcnow() + timedelta(seconds=value)).isoformat()
        return datetime.fromtimestamp(value, UTC).isoformat()
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def parse_iso(value: str, default_tz: timezone = UTC) -> datetime:
    """Parse an ISO-8601 eta/expires; a naive value takes ``default_tz``."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise InvalidTaskError(f"invalid ISO-8601 date: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz)
    return parsed


def origin_nodename() -> str:
    """The anonymous sender name, ``gen<pid>@<host>``."""
    return f"gen{os.getpid()}@{socket.gethostname()}"


@dataclass
class TaskMessage:
    """A received task, decoded and validated."""

    name: str
    id: str
    args: list[Any]
    kwargs: dict[str, Any]
    headers: dict[str, Any]
    embed: dict[str, Any] = field(default_factory=dict)
    eta: datetime | None = None
    expires: datetime | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    delivery_info: dict[str, Any] = field(default_factory=dict)

    @property
    def shadow(self) -> str:
        """The display name: the shadow header, or the task name."""
        return self.headers.get("shadow") or self.name

    @property
    def retries(self) -> int:
        """How often this task has been retried."""
        return int(self.headers.get("retries") or 0)

    @property
    def timelimit(self) -> tuple[float | None, float | None]:
        """``(hard, soft)`` limits from the message, each possibly None."""
        raw = self.headers.get("timelimit") or (None, None)
        try:
            hard, soft = raw
        except (TypeError, ValueError):
            return None, None
        return hard, soft

    @property
    def argsrepr(self) -> str:
        """The safe repr of the positional arguments."""
        value = self.headers.get("argsrepr")
        return value if isinstance(value, str) else safe_repr(tuple(self.args), REPR_MAXLEN)

    @property
    def kwargsrepr(self) -> str:
        """The safe repr of the keyword arguments."""
        value = self.headers.get("kwargsrepr")
        return value if isinstance(value, str) else safe_repr(self.kwargs, REPR_MAXLEN)

    @property
    def callbacks(self) -> list[dict[str, Any]]:
        """Signatures to apply with the result on success."""
        return list(self.embed.get("callbacks") or [])

    @property
    def errbacks(self) -> list[dict[str, Any]]:
        """Signatures to apply on failure."""
        return list(self.embed.get("errbacks") or [])

    @property
    def chain(self) -> list[dict[str, Any]]:
        """The remaining chain, next step last."""
        return list(self.embed.get("chain") or [])

    @property
    def reply_to(self) -> str | None:
        """The rpc reply queue the client named."""
        return self.properties.get("reply_to")


def build_task_message(
    name: str,
    task_id: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    eta: datetime | float | str | None = None,
    countdown: float | None = None,
    expires: datetime | float | str | None = None,
    retries: int = 0,
    timelimit: tuple[float | None, float | None] = (None, None),
    root_id: str | None = None,
    parent_id: str | None = None,
    group_id: str | None = None,
    group_index: int | None = None,
    shadow: str | None = None,
    callbacks: list[dict[str, Any]] | None = None,
    errbacks: list[dict[str, Any]] | None = None,
    chain: list[dict[str, Any]] | None = None,
    chord: dict[str, Any] | None = None,
    ignore_result: bool | None = False,
    origin: str | None = None,
    reply_to: str | None = None,
    extra_headers: Mapping[str, Any] | None = None,
    argsrepr: str | None = None,
    kwargsrepr: str | None = None,
    stamped_headers: list[str] | None = None,
    stamps: dict[str, Any] | None = None,
    replaced_task_nesting: int = 0,
) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """Build ``(headers, properties, body)`` of a protocol-v2 task message."""
    args = list(args)
    kwargs = dict(kwargs or {})
    if countdown is not None and eta is None:
        eta = utcnow() + timedelta(seconds=float(countdown))
    eta_iso = to_iso(eta)
    expires_iso = to_iso(expires, relative=True)
    headers: dict[str, Any] = {
        "lang": "py",
        "task": name,
        "id": task_id,
        "shadow": shadow,
        "eta": eta_iso,
        "expires": expires_iso,
        "group": group_id,
        "group_index": group_index,
        "retries": retries,
        "timelimit": [timelimit[0], timelimit[1]],
        "root_id": root_id or task_id,
        "parent_id": parent_id,
        "argsrepr": argsrepr if argsrepr is not None else safe_repr(tuple(args), REPR_MAXLEN),
        "kwargsrepr": kwargsrepr if kwargsrepr is not None else safe_repr(kwargs, REPR_MAXLEN),
        "origin": origin or origin_nodename(),
        "ignore_result": ignore_result,
        "replaced_task_nesting": replaced_task_nesting,
        "stamped_headers": stamped_headers,
        "stamps": stamps or {},
    }
    if extra_headers:
        headers.update(extra_headers)
    properties: dict[str, Any] = {"correlation_id": task_id}
    if reply_to:
        properties["reply_to"] = reply_to
    if expires_iso is not None:
        # Celery uses a numeric ``expires`` as the TTL itself ("120000" for 120).
        remaining = (float(expires) if isinstance(expires, int | float)
                     else (parse_iso(expires_iso) - utcnow()).total_seconds())
        properties["expiration"] = str(max(int(remaining * 1000), 0))
    embed = {
        "callbacks": callbacks or None,
        "errbacks": errbacks or None,
        "chain": chain or None,
        "chord": chord,
    }
    return headers, properties, [args, kwargs, embed]


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    raise InvalidTaskError(f"task {what} must be a list, got {type(value).__name__}")


def _as_dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    raise InvalidTaskError(f"task {what} must be a mapping, got {type(value).__name__}")


def _from_v1(body: Mapping[str, Any], headers: Mapping[str, Any]) -> tuple[dict, list, dict, dict]:
    """Convert a protocol-v1 (or hybrid) body into v2 pieces."""
    task_id = body.get("id") or headers.get("id")
    timelimit = body.get("timelimit") or headers.get("timelimit") or (None, None)
    new_headers = {
        "lang": body.get("lang", "py"),
        "task": body["task"],
        "id": task_id,
        "shadow": body.get("shadow") or headers.get("shadow"),
        "eta": body.get("eta"),
        "expires": body.get("expires"),
        "group": body.get("group") or body.get("taskset"),
        "group_index": body.get("group_index"),
        "retries": body.get("retries", 0),
        "timelimit": list(timelimit),
        "root_id": body.get("root_id"),
        "parent_id": body.get("parent_id"),
        "origin": body.get("origin"),
    }
    for key, value in headers.items():
        new_headers.setdefault(key, value)
    embed = {
        "callbacks": body.get("callbacks"),
        "errbacks": body.get("errbacks"),
        "chord": body.get("chord"),
        "chain": None,
    }
    args = _as_list(body.get("args"), "args")
    kwargs = _as_dict(body.get("kwargs"), "kwargs")
    return new_headers, args, kwargs, embed


def parse_task_message(
    headers: Mapping[str, Any] | None,
    body: Any,
    properties: Mapping[str, Any] | None = None,
    delivery_info: Mapping[str, Any] | None = None,
) -> TaskMessage:
    """Validate and decode a received task message (v2, v1 or hybrid).

    Raises :class:`InvalidTaskError` with a one-line reason for anything that
    cannot be run: no task name, a body that is not ``[args, kwargs, embed]``,
    kwargs that are not a mapping, an unparsable eta or expires.
    """
    headers = dict(headers or {})
    if "task" not in headers:
        if isinstance(body, Mapping) and "task" in body:
            headers, args, kwargs, embed = _from_v1(body, headers)
        else:
            raise InvalidTaskError("unknown message: no task header and no v1 body")
    elif isinstance(body, Mapping) and "args" in body and "task" in body:
        headers, args, kwargs, embed = _from_v1(body, headers)
    else:
        if not isinstance(body, list | tuple) or len(body) != 3:
            raise InvalidTaskError("task body must be a 3-item list [args, kwargs, embed]")
        raw_args, raw_kwargs, raw_embed = body
        args = _as_list(raw_args, "args")
        kwargs = _as_dict(raw_kwargs, "kwargs")
        embed = _as_dict(raw_embed, "embed")
    name = headers.get("task")
    task_id = headers.get("id")
    if not isinstance(name, str) or not name:
        raise InvalidTaskError("task header must be a non-empty string")
    if not isinstance(task_id, str) or not task_id:
        raise InvalidTaskError("task id header must be a non-empty string")
    eta = headers.get("eta")
    expires = headers.get("expires")
    eta_dt = parse_iso(eta) if isinstance(eta, str) else None
    expires_dt = parse_iso(expires) if isinstance(expires, str) else None
    if eta is not None and not isinstance(eta, str):
        raise InvalidTaskError(f"invalid eta: {eta!r}")
    if expires is not None and not isinstance(expires, str):
        raise InvalidTaskError(f"invalid expires: {expires!r}")
    return TaskMessage(
        name=name,
        id=task_id,
        args=args,
        kwargs=kwargs,
        headers=headers,
        embed=embed,
        eta=eta_dt,
        expires=expires_dt,
        properties=dict(properties or {}),
        delivery_info=dict(delivery_info or {}),
    )
