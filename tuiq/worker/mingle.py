"""Start-up sync with the running nodes (Celery's "mingle"): revoked ids and the clock.

A starting worker says ``hello`` with its revoked ids; every other node merges
them and replies with its own. The broadcast runs on its own connection in a
thread, so the worker is ready at once; it only holds back starting tasks until
the replies are in, so an id revoked elsewhere is never run here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from tuiq.control.client import ControlClient

logger = logging.getLogger("tuiq.worker")

#: Transports whose broadcast replies are quick and reliable enough for a start-up sync.
MINGLE_TRANSPORTS = ("redis", "amqp")


def ask_neighbours(app, hostname: str, revoked: list[str],
                   timeout: float) -> list[tuple[str, dict[str, Any]]]:
    """Broadcast ``hello`` and return ``(node, reply)`` from every other node."""
    # The broadcast client returns once every node that answers its discovery
    # ping has replied, so a sync takes a round trip, not the whole timeout.
    with ControlClient(app) as client:
        # The live nodes first, then the request to them. On Redis a broadcast
        # alone would do (it counts its receivers), but the node answering this
        # ping before its pool forks keeps about 1.3 MB of the main process's
        # memory shared with the children (measured with bench.startup).
        alive = client.broadcast("ping", reply=True, timeout=timeout) or {}
        others = [node for node in alive if node != hostname]
        if not others:
            return []
        replies = client.broadcast("hello", {"from_node": hostname, "revoked": revoked},
                                   reply=True, timeout=timeout, destination=others) or {}
    return [(node, value) for node, value in replies.items()
            if node != hostname and isinstance(value, dict)]


def start_mingle(app, hostname: str, revoked: list[str], timeout: float,
                 on_done: Callable[[list[tuple[str, dict[str, Any]]]], None]) -> threading.Thread:
    """Run :func:`ask_neighbours` in a thread; ``on_done`` gets the replies (or none)."""
    def run() -> None:
        try:
            replies = ask_neighbours(app, hostname, revoked, timeout)
        except Exception as exc:  # noqa: BLE001 - a failed sync must not stop the worker
            logger.warning("mingle: could not sync with other nodes: %r", exc)
            replies = []
        on_done(replies)

    thread = threading.Thread(target=run, name="tuiq-mingle", daemon=True)
    thread.start()
    return thread
