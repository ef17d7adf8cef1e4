"""The heart: ``worker-online``, a ``worker-heartbeat`` every ``freq`` seconds, ``worker-offline``.

Monitors call a worker alive while its last heartbeat is younger than twice
``freq`` (PROTOCOL.md §4.3), so the interval is sent in every beat. The beats
run on the worker's event loop (a hub timer), never on a thread of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuiq.events.dispatcher import EventDispatcher
from tuiq.protocol.events import load_average, software_info


class Heart:
    """Sends the worker-group events of one connection's lifetime."""

    def __init__(self, dispatcher: EventDispatcher, counters: Callable[[], dict[str, int]],
                 interval: float) -> None:
        """``counters`` returns ``{"active": running tasks, "processed": tasks so far}``."""
        self.dispatcher = dispatcher
        self.counters = counters
        self.interval = float(interval)
        self._timer = None
        self._software = software_info()

    def _send(self, event_type: str) -> None:
        fields: dict[str, Any] = {"freq": self.interval, **self.counters(),
                                  "loadavg": load_average(), **self._software}
        self.dispatcher.send_worker_event(event_type, **fields)

    def start(self, hub) -> None:
        """Say ``worker-online``, then beat every ``interval`` seconds on ``hub``."""
        if not self.dispatcher.worker_events:
            return
        self._send("worker-online")
        self._timer = hub.call_repeatedly(self.interval, self.beat)

    def beat(self) -> None:
        """Send one ``worker-heartbeat`` now."""
        self._send("worker-heartbeat")

    def stop(self, offline: bool = True) -> None:
        """Stop beating; say ``worker-offline`` unless the connection is gone."""
        timer, self._timer = self._timer, None
        if timer is None:
            return
        timer.cancel()
        if offline:
            self._send("worker-offline")
