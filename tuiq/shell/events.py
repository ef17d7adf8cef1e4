"""Live events in the shell: a background feed for completion, and ``events`` to tail it.

:class:`EventFeed` runs an :class:`~tuiq.events.receiver.EventReceiver` in a
daemon thread: every event goes to the name store (task ids, nodes) and to
whoever is listening. ``events`` listens and prints one line per event until
ctrl+c, ``--count`` events or ``--timeout`` seconds.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.text import Text

from tuiq.shell.errors import ShellError
from tuiq.shell.names import NameStore

if TYPE_CHECKING:
    from tuiq.shell.commands import Shell

#: How each event type is coloured (Celery's state colours).
EVENT_STYLES = {
    "task-sent": "blue", "task-received": "cyan", "task-started": "yellow",
    "task-succeeded": "green", "task-failed": "red", "task-retried": "yellow",
    "task-revoked": "magenta", "task-rejected": "red", "worker-online": "green",
    "worker-offline": "red", "worker-heartbeat": "dim",
}
#: The fields worth a glance, per event type, after the node, type, id and name.
EVENT_FIELDS = {
    "task-sent": ("args", "kwargs", "queue", "eta"),
    "task-received": ("args", "kwargs", "retries", "eta"),
    "task-started": ("pid",),
    "task-succeeded": ("runtime", "result"),
    "task-failed": ("exception",),
    "task-retried": ("exception",),
    "task-revoked": ("terminated", "signum", "expired"),
    "task-rejected": ("requeue",),
    "worker-online": ("sw_ident", "sw_ver", "freq"),
    "worker-heartbeat": ("active", "processed", "freq"),
    "worker-offline": (),
}
#: Seconds to wait for a feed started just for ``events`` to connect.
CONNECT_TIMEOUT = 10.0


def event_line(event: Mapping[str, Any], name: str | None = None) -> Text:
    """One event as a line: time, node, type, task id and name, and its telling fields."""
    kind = str(event.get("type", "?"))
    stamp = event.get("timestamp")
    when = datetime.fromtimestamp(stamp).strftime("%H:%M:%S") \
        if isinstance(stamp, int | float) else "--:--:--"
    parts = [when, str(event.get("hostname", "?")), kind]
    if event.get("uuid"):
        parts.append(str(event["uuid"]))
    name = event.get("name") or name
    if name:
        parts.append(str(name))
    for field in EVENT_FIELDS.get(kind, ()):
        value = event.get(field)
        if value is not None and value != "":
            shown = f"{value:.3f}s" if field == "runtime" and isinstance(value, float) \
                else str(value)
            parts.append(f"{field}={shown}")
    return Text(" ".join(parts), style=EVENT_STYLES.get(kind, ""))


class EventFeed:
    """A background event receiver feeding the name store and any listeners."""

    def __init__(self, app: Any, names: NameStore) -> None:
        self.app = app
        self.names = names
        self.status: tuple[str, str | None] | None = None
        self._listeners: list[queue.Queue] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start receiving in a daemon thread."""
        from tuiq.events.receiver import EventReceiver

        receiver = EventReceiver(self.app, self._on_event, on_status=self._on_status)
        self._thread = threading.Thread(target=receiver.run, args=(self._stop,),
                                        name="tuiq-shell-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop receiving."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @contextmanager
    def listen(self) -> Iterator[queue.Queue]:
        """A queue of ``("event", dict)`` and ``("status", (status, detail))`` items."""
        inbox: queue.Queue = queue.Queue()
        with self._lock:
            self._listeners.append(inbox)
        try:
            yield inbox
        finally:
            with self._lock:
                self._listeners.remove(inbox)

    def _publish(self, item: tuple[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for inbox in listeners:
            inbox.put(item)

    def _on_event(self, event: dict) -> None:
        self.names.note_event(event)
        self._publish(("event", event))

    def _on_status(self, status: str, detail: str | None) -> None:
        self.status = (status, detail)
        self._publish(("status", (status, detail)))


def tail_events(shell: Shell, count: int | None = None, seconds: float | None = None,
                as_json: bool = False) -> bool:
    """Print events until ctrl+c, ``count`` events or ``seconds`` have gone by.

    Uses the shell's background feed if it has one, else receives just for this.
    """
    feed: EventFeed | None = shell.event_feed
    own = feed is None
    if feed is None:
        feed = EventFeed(shell.app, shell.names)
    with feed.listen() as inbox:
        if own:
            feed.start()
        try:
            return _print_events(shell, feed, inbox, own, count, seconds, as_json)
        except KeyboardInterrupt:
            # The terminal echoed ^C with no line end: the prompt starts a line of its own.
            shell.out.print()
            return True
        finally:
            if own:
                feed.stop()


def _print_events(shell: Shell, feed: EventFeed, inbox: queue.Queue, own: bool,
                  count: int | None, seconds: float | None, as_json: bool) -> bool:
    from kombu.utils.json import dumps

    started = time.monotonic()
    deadline = started + seconds if seconds is not None else None
    current = None if own else feed.status
    connected = current is not None and current[0] == "connected"
    if connected:
        shell.note(f"Listening for events on {current[1]} (ctrl+c stops).")
    elif current is not None:
        shell.note(f"events: broker lost ({current[1]}); reconnecting")
    shown = 0
    while count is None or shown < count:
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            break
        wait = 0.25 if deadline is None else max(0.0, min(0.25, deadline - now))
        try:
            kind, payload = inbox.get(timeout=wait)
        except queue.Empty:
            if not connected and own and now - started > CONNECT_TIMEOUT:
                raise ShellError("events: the broker did not answer") from None
            continue
        if kind == "status":
            status, detail = payload
            if status == "connected":
                if not connected:
                    shell.note(f"Listening for events on {detail} (ctrl+c stops).")
                connected = True
            elif own and not connected:
                from tuiq.broker import mask_url

                raise ShellError(f"events: cannot reach broker {mask_url(shell.app.broker_url)}: "
                                 f"{detail}")
            else:
                shell.note(f"events: broker lost ({detail}); reconnecting")
            continue
        shown += 1
        if as_json:
            shell.write(dumps(payload))
        else:
            known = {seen.task_id: seen.name for seen in shell.names.snapshot.task_ids}
            shell.out.print(event_line(payload, known.get(payload.get("uuid"))),
                            soft_wrap=True, markup=False, highlight=False, emoji=False)
    return True
