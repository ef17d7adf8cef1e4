"""A running ``EventReceiver`` that records every event, for tests to wait on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tests.support.polling import wait_until
from tuiq.events.receiver import EventReceiver


class EventLog:
    """Events seen by a receiver on a thread, with helpers to wait for them.

    Brokers are shared with other tests, so callers look at one node's events
    (``of(hostname)``) or one task's (``task(uuid)``).
    """

    def __init__(self, app, *, announce: bool = True) -> None:
        self.app = app
        self.events: list[dict[str, Any]] = []
        self.statuses: list[tuple[str, str | None]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.receiver = EventReceiver(app, self._record, on_status=self._status,
                                      announce=announce)
        self._thread = threading.Thread(target=self.receiver.run, args=(self._stop,),
                                        name="test-events", daemon=True)

    def _record(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)

    def _status(self, status: str, detail: str | None) -> None:
        self.statuses.append((status, detail))

    def start(self, timeout: float = 15.0) -> EventLog:
        """Start receiving and wait until the receiver is subscribed."""
        self._thread.start()
        wait_until(lambda: ("connected" in [s for s, _ in self.statuses]), timeout=timeout,
                   message=lambda: f"event receiver never connected: {self.statuses}")
        return self

    def stop(self) -> None:
        """Stop the receiver and wait for its thread."""
        self._stop.set()
        self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "event receiver did not stop"

    @property
    def alive(self) -> bool:
        """Whether the receiver thread still runs."""
        return self._thread.is_alive()

    def snapshot(self) -> list[dict[str, Any]]:
        """The events so far."""
        with self._lock:
            return list(self.events)

    def of(self, hostname: str, *types: str) -> list[dict[str, Any]]:
        """Events sent by ``hostname`` (of the given types, if any)."""
        return [e for e in self.snapshot()
                if e.get("hostname") == hostname and (not types or e["type"] in types)]

    def task(self, uuid: str, *types: str) -> list[dict[str, Any]]:
        """Events about task ``uuid`` (of the given types, if any)."""
        return [e for e in self.snapshot()
                if e.get("uuid") == uuid and (not types or e["type"] in types)]

    def wait_for(self, find: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        """Poll ``find`` until it returns something truthy; fail naming ``what``."""
        return wait_until(find, timeout=timeout, interval=0.02,
                          message=lambda: f"{what}; saw {self._summary()}")

    def wait_task(self, uuid: str, *types: str, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Wait until task ``uuid`` has an event of each of ``types``; return its events."""
        def find():
            seen = {e["type"] for e in self.task(uuid)}
            return self.task(uuid) if set(types) <= seen else None

        return self.wait_for(find, f"task {uuid} never had {types}", timeout)

    def _summary(self) -> str:
        events = self.snapshot()
        tail = [(e.get("hostname"), e["type"], e.get("uuid")) for e in events[-30:]]
        return f"{len(events)} events, last: {tail}"
