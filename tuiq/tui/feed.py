"""The live feed: an event receiver thread filling a deque the console drains on a timer.

The receiver thread only appends to a deque and records the connection
status; the UI thread takes everything queued once per tick. Nothing here
imports Textual, so the feed can be driven on its own. Reconnecting after a
lost broker is the receiver's job; the feed only remembers what it last said.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

#: Most events kept between two ticks: beyond it the oldest are dropped (and counted),
#: so a console that stalls cannot grow without bound.
MAX_BACKLOG = 200_000


class Receiver(Protocol):
    """What the feed needs of an event receiver: a blocking ``run(stop)``."""

    def run(self, stop: threading.Event) -> None:
        """Deliver events until ``stop`` is set."""


ReceiverFactory = Callable[[Callable[[dict], None], Callable[[str, str | None], None]], Receiver]


@dataclass(frozen=True)
class FeedStatus:
    """The connection as last reported by the receiver."""

    connected: bool
    detail: str | None  # the masked broker URL when connected, else the reason
    since: float
    ever_connected: bool


class LiveFeed:
    """Runs a receiver in a daemon thread and buffers its events for the UI thread."""

    def __init__(self, receiver_factory: ReceiverFactory, *, max_backlog: int = MAX_BACKLOG,
                 clock: Callable[[], float] = time.time) -> None:
        self._factory = receiver_factory
        self._events: deque[dict] = deque()
        self._max_backlog = max_backlog
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = FeedStatus(False, "connecting", clock(), False)
        self.dropped = 0
        self.error: str | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Start the receiver thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tuiq-top-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the receiver to stop and wait a little for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """True while the receiver thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            receiver = self._factory(self._on_event, self._on_status)
            receiver.run(self._stop)
        except Exception as exc:  # noqa: BLE001 - shown in the console, never a traceback
            self.error = f"event receiver stopped: {exc}".splitlines()[0]
            self._on_status("disconnected", self.error)

    # -- called from the receiver thread -------------------------------------------------
    def _on_event(self, event: dict) -> None:
        events = self._events
        if len(events) >= self._max_backlog:
            events.popleft()
            self.dropped += 1
        events.append(event)

    def _on_status(self, status: str, detail: str | None) -> None:
        connected = status == "connected"
        previous = self._status
        # One assignment of an immutable value: readers never see half an update.
        self._status = FeedStatus(connected, detail, self._clock(),
                                  previous.ever_connected or connected)

    # -- called from the UI thread -------------------------------------------------------
    @property
    def status(self) -> FeedStatus:
        """The last status the receiver reported."""
        return self._status

    @property
    def connected(self) -> bool:
        """True while the receiver is connected to the broker."""
        return self._status.connected

    def drain(self, limit: int | None = None) -> list[dict]:
        """Take the events queued so far (at most ``limit``), oldest first."""
        events = self._events
        count = len(events) if limit is None else min(limit, len(events))
        popleft = events.popleft
        return [popleft() for _ in range(count)]

    def __len__(self) -> int:
        return len(self._events)


def receiver_factory(app: Any) -> ReceiverFactory:
    """A factory building the event receiver for ``app`` (imported only when used)."""

    def build(on_event: Callable[[dict], None],
              on_status: Callable[[str, str | None], None]) -> Receiver:
        from tuiq.events.receiver import EventReceiver

        return EventReceiver(app, on_event, on_status=on_status)

    return build
