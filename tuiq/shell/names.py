"""The names the completer offers, and the background thread that keeps them fresh.

:class:`NameStore` holds one immutable :class:`Names` snapshot; writers build a
new one and swap it in under a lock, so a completion reads a consistent set of
names with one attribute read and never waits. :class:`NameRefresher` asks the
cluster every few seconds: nodes from ``ping``, task names from
``registered``, queues from ``active_queues``, task ids from ``active``,
``reserved`` and ``scheduled``. Replies to the operator's own commands and live
events feed the store too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

#: Task ids kept for completion, most recent first.
MAX_TASK_IDS = 200
#: Seconds between two refreshes (one is also asked for after ``use`` and on start).
REFRESH_INTERVAL = 15.0
#: Commands whose replies carry task ids worth remembering.
TASK_ID_COMMANDS = frozenset({"active", "dump_active", "reserved", "dump_reserved",
                              "scheduled", "dump_schedule", "query_task", "revoked",
                              "dump_revoked"})


@dataclass(frozen=True)
class NodeInfo:
    """A node seen in the cluster: whether it answered the last ping, and when it last did."""

    name: str
    online: bool
    last_seen: float | None = None


@dataclass(frozen=True)
class SeenTask:
    """A task id seen recently: its task name if known, where it was seen, and when."""

    task_id: str
    name: str | None
    source: str
    seen: float


@dataclass(frozen=True)
class Names:
    """One consistent set of names (never changed in place)."""

    nodes: Mapping[str, NodeInfo] = field(default_factory=dict)
    tasks: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    task_ids: tuple[SeenTask, ...] = ()
    refreshed: float | None = None
    error: str | None = None

    def online(self) -> list[str]:
        """Nodes that answered the last ping, by name."""
        return sorted(name for name, info in self.nodes.items() if info.online)


# -- reading names out of replies (pure) -------------------------------------------------------
def task_names(replies: Mapping[str, Any]) -> set[str]:
    """Task names from ``registered`` replies (``"name [attr=value]"`` → ``name``)."""
    found = set()
    for reply in replies.values():
        if isinstance(reply, list):
            found.update(str(item).split(" [", 1)[0] for item in reply if item)
    return found


def queue_names(replies: Mapping[str, Any]) -> set[str]:
    """Queue names from ``active_queues`` replies."""
    found = set()
    for reply in replies.values():
        if isinstance(reply, list):
            found.update(str(q["name"]) for q in reply if isinstance(q, dict) and q.get("name"))
    return found


def task_ids(command: str, replies: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """``(task_id, task_name)`` pairs from task lists, schedules, ``query_task`` and ``revoked``."""
    found: list[tuple[str, str | None]] = []
    for reply in replies.values():
        if isinstance(reply, dict) and command == "query_task":
            for task_id, value in reply.items():
                info = value[1] if isinstance(value, list) and len(value) > 1 else None
                found.append((str(task_id), _name_of(info)))
        elif isinstance(reply, list):
            for item in reply:
                if isinstance(item, str):
                    found.append((item, None))
                elif isinstance(item, dict):
                    info = item.get("request") if isinstance(item.get("request"), dict) else item
                    if info.get("id"):
                        found.append((str(info["id"]), _name_of(info)))
    return found


def _name_of(info: Any) -> str | None:
    name = info.get("name") if isinstance(info, dict) else None
    return str(name) if name else None


class NameStore:
    """The current :class:`Names`; every change swaps in a new snapshot."""

    def __init__(self, tasks: Iterable[str] = (), queues: Iterable[str] = (),
                 on_change: Callable[[], None] | None = None) -> None:
        self._local_tasks = frozenset(tasks)
        self._local_queues = frozenset(queues)
        self._names = Names(tasks=tuple(sorted(self._local_tasks)),
                            queues=tuple(sorted(self._local_queues)))
        self._lock = threading.Lock()
        self.on_change = on_change

    @classmethod
    def for_app(cls, app) -> NameStore:
        """A store that starts with the app's own task names and queues."""
        tasks = [name for name in app.tasks if not name.startswith("celery.")]
        try:
            queues = list(app.queues())
        except Exception:  # noqa: BLE001 - a bad queue setting must not stop the shell
            queues = []
        return cls(tasks, queues)

    @property
    def snapshot(self) -> Names:
        """The names now (an immutable object: read it once per use)."""
        return self._names

    def _update(self, change: Callable[[Names], Names]) -> None:
        with self._lock:
            self._names = change(self._names)
        if self.on_change is not None:
            self.on_change()

    # -- writers ---------------------------------------------------------------------------
    def note_ping(self, replies: Mapping[str, Any], complete: bool = True) -> None:
        """Nodes that answered are online; with ``complete``, every other known node is not."""
        now = time.time()
        self._update(lambda names: with_ping(names, replies, complete, now))

    def note_missing(self, nodes: Iterable[str]) -> None:
        """Known nodes that stayed silent are offline (unknown ones are not added)."""
        silent = set(nodes)

        def change(names: Names) -> Names:
            return replace(names, nodes={
                name: replace(info, online=False) if name in silent else info
                for name, info in names.nodes.items()})

        if silent:
            self._update(change)

    def note_replies(self, command: str, replies: Mapping[str, Any],
                     missing: Iterable[str] = ()) -> None:
        """Learn from the replies to the operator's command: nodes alive, task ids seen."""
        self._update(lambda names: replace(names, error=None))  # the broker answers again
        self.note_ping(replies, complete=False)
        self.note_missing(missing)
        if command in TASK_ID_COMMANDS:
            self.remember_ids(task_ids(command, replies), command)
        elif command in ("registered", "dump_tasks"):
            self.add_tasks(task_names(replies))

    def remember_ids(self, pairs: Iterable[tuple[str, str | None]], source: str) -> None:
        """Put these task ids first in the recent list."""
        now = time.time()
        seen = [SeenTask(task_id, name, source, now) for task_id, name in pairs]
        if seen:
            self._update(lambda names: with_task_ids(names, seen))

    def add_tasks(self, tasks: Iterable[str]) -> None:
        """Task names learnt from a reply, kept beside the known ones."""
        new = set(tasks)
        self._update(lambda names: replace(names, tasks=tuple(sorted({*names.tasks, *new}))))

    def note_event(self, event: Mapping[str, Any]) -> None:
        """A live event: worker events mark nodes, task events bring task ids."""
        kind = str(event.get("type") or "")
        hostname = event.get("hostname")
        if kind.startswith("worker-") and hostname:
            online = kind != "worker-offline"
            stamp = float(event.get("timestamp") or time.time())
            self._update(lambda names: replace(names, nodes={
                **names.nodes, hostname: NodeInfo(hostname, online, stamp)}))
        elif kind.startswith("task-") and event.get("uuid"):
            name = event.get("name")
            self.remember_ids([(str(event["uuid"]), str(name) if name else None)], "event")

    def apply(self, fetched: Fetched) -> None:
        """A refresh's findings, in one swap: nodes, task names and queues replaced, ids added."""
        now = time.time()
        tasks = tuple(sorted(self._local_tasks | fetched.tasks))
        queues = tuple(sorted(self._local_queues | fetched.queues))
        seen = [SeenTask(task_id, name, "reply", now) for task_id, name in fetched.task_ids]

        def change(names: Names) -> Names:
            names = with_task_ids(with_ping(names, fetched.pings, True, now), seen)
            return replace(names, tasks=tasks, queues=queues, refreshed=now, error=None)

        self._update(change)

    def set_error(self, message: str) -> None:
        """Why the last refresh failed (shown in the toolbar)."""
        self._update(lambda names: replace(names, error=message))


def with_ping(names: Names, replies: Mapping[str, Any], complete: bool, now: float) -> Names:
    """``names`` with the nodes that replied online (and, if ``complete``, the rest offline)."""
    nodes = {name: replace(info, online=False) if complete else info
             for name, info in names.nodes.items()}
    for node in replies:
        nodes[node] = NodeInfo(node, True, now)
    return replace(names, nodes=nodes)


def with_task_ids(names: Names, seen: list[SeenTask]) -> Names:
    """``names`` with ``seen`` first among the recent task ids (a known name is kept)."""
    old = {entry.task_id: entry for entry in names.task_ids}
    merged: dict[str, SeenTask] = {}
    for entry in seen:
        previous = old.get(entry.task_id)
        if entry.name is None and previous is not None and previous.name:
            entry = replace(entry, name=previous.name)
        merged.setdefault(entry.task_id, entry)
    ordered = [*merged.values(), *(e for e in names.task_ids if e.task_id not in merged)]
    return replace(names, task_ids=tuple(ordered[:MAX_TASK_IDS]))


@dataclass
class Fetched:
    """What one refresh found."""

    pings: dict[str, Any] = field(default_factory=dict)
    tasks: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)
    task_ids: list[tuple[str, str | None]] = field(default_factory=list)


def fetch_names(client, timeout: float = 1.0) -> Fetched:
    """Ask every node for its names; after ``ping``, only the nodes that answered are awaited."""
    pings = client.broadcast("ping", reply=True, timeout=timeout)
    fetched = Fetched(pings=dict(pings))
    nodes = sorted(pings)
    if not nodes:
        return fetched

    def ask(command: str) -> Mapping[str, Any]:
        return client.broadcast(command, reply=True, timeout=timeout, expected=nodes)

    fetched.tasks = task_names(ask("registered"))
    fetched.queues = queue_names(ask("active_queues"))
    for command in ("active", "reserved", "scheduled"):
        fetched.task_ids += task_ids(command, ask(command))
    return fetched


class NameRefresher:
    """A daemon thread refreshing a :class:`NameStore` with its own broker connection.

    Its own client, so a refresh never holds up the operator's command.
    """

    def __init__(self, store: NameStore, make_client: Callable[[], Any],
                 interval: float = REFRESH_INTERVAL) -> None:
        self.store = store
        self.make_client = make_client
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start refreshing now, then every ``interval`` seconds."""
        self._thread = threading.Thread(target=self._run, name="tuiq-shell-names", daemon=True)
        self._thread.start()

    def refresh_soon(self) -> None:
        """Refresh now instead of at the next interval."""
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and close its connection."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        client = self.make_client()
        try:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    self.store.apply(fetch_names(client))
                except Exception as exc:  # noqa: BLE001 - shown in the toolbar, retried later
                    self.store.set_error(str(exc).splitlines()[0] if str(exc) else repr(exc))
                self._wake.wait(self.interval)
        finally:
            client.close()
