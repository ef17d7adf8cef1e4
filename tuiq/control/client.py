"""The broadcast client: send a command to workers and collect their replies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuiq.control.node import make_mailbox


class ControlClient:
    """Broadcast remote-control commands over the app's broker."""

    def __init__(self, app) -> None:
        self.app = app
        self.mailbox = make_mailbox(app)

    def broadcast(self, command: str, arguments: dict[str, Any] | None = None,
                  destination: Sequence[str] | None = None, reply: bool = False,
                  timeout: float = 1.0, limit: int | None = None,
                  pattern: str | None = None, matcher: str | None = None,
                  connection=None) -> list[dict[str, Any]] | None:
        """Send ``command``; with ``reply``, return the list of ``{node: reply}`` dicts."""
        if destination is not None and isinstance(destination, str):
            raise ValueError("destination must be a list of node names")
        if destination and limit is None:
            limit = len(destination)
        with (connection or self.app.connection()) as conn:
            return self.mailbox(conn)._broadcast(
                command, arguments or {}, list(destination) if destination else None, reply,
                timeout, limit, pattern=pattern, matcher=matcher,
            )

    def ping(self, destination: Sequence[str] | None = None,
             timeout: float = 1.0) -> list[dict[str, Any]]:
        """Ping workers; returns ``[{node: {"ok": "pong"}}, ...]``."""
        return self.broadcast("ping", destination=destination, reply=True, timeout=timeout) or []

    def revoke(self, task_id: str | Sequence[str], destination: Sequence[str] | None = None,
               terminate: bool = False, signal: str = "SIGTERM", reply: bool = False,
               timeout: float = 1.0, **kwargs: Any):
        """Revoke task ids on every worker (or those in ``destination``)."""
        return self.broadcast("revoke", {"task_id": task_id, "terminate": terminate,
                                         "signal": signal, **kwargs},
                              destination=destination, reply=reply, timeout=timeout)

    def shutdown(self, destination: Sequence[str] | None = None) -> None:
        """Ask workers to shut down (warm)."""
        self.broadcast("shutdown", destination=destination)
