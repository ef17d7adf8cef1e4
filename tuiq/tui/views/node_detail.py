"""One node in depth: its task lists, registered tasks, queues, full stats and config.

Everything here comes from the inspect polls the console runs (``active``, ``reserved``,
``scheduled``, ``revoked``, ``registered``, ``active_queues``, ``stats``, ``conf``), kept on
the node's ``WorkerInfo``; the heading adds what its events say (liveness, software,
heartbeat, counters). A list that has not been polled yet says so; a poll that failed
shows its error; an empty reply says the list is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from tuiq.events.cluster import ClusterState
from tuiq.events.models import WorkerInfo
from tuiq.tui.keys import bindings
from tuiq.tui.views import formatting as fmt
from tuiq.tui.views import node_fields as nf
from tuiq.tui.views.stats_fields import stats_rows
from tuiq.tui.widgets.live_table import Cell, Column, LiveTable

Row = tuple[str, Sequence[Cell]]

_ID = Column("id", "Task id", 36)
_NAME = Column("name", "Name", 18, flex=2)
_ARGS = Column("args", "Args", 12, flex=3)


@dataclass(frozen=True)
class Tab:
    """One tab: its id, title, the inspect command behind it, columns and empty text."""

    id: str
    title: str
    command: str
    columns: tuple[Column, ...]
    empty: str
    lists_tasks: bool = False


TABS = (
    Tab("active", "Active", "active",
        (_ID, _NAME, _ARGS, Column("runtime", "Runtime", 9, align="right"),
         Column("pid", "Pid", 7, align="right")),
        "No task is running on this node.", lists_tasks=True),
    Tab("reserved", "Reserved", "reserved",
        (_ID, _NAME, _ARGS, Column("queue", "Queue", 10)),
        "No task is waiting in this node's prefetch.", lists_tasks=True),
    Tab("scheduled", "Scheduled", "scheduled",
        (_ID, _NAME, _ARGS, Column("eta", "ETA", 22), Column("priority", "Prio", 4,
                                                                align="right")),
        "No task is waiting for its ETA on this node.", lists_tasks=True),
    Tab("revoked", "Revoked", "revoked",
        (_ID, _NAME, Column("state", "State", 9)),
        "This node holds no revoked ids.", lists_tasks=True),
    Tab("registered", "Registered", "registered",
        (Column("task", "Task", 30, flex=2), Column("options", "Options", 20, flex=1)),
        "No task is registered on this node."),
    Tab("queues", "Queues", "active_queues",
        (Column("queue", "Queue", 14, flex=1), Column("exchange", "Exchange", 14, flex=1),
         Column("type", "Type", 7), Column("routing_key", "Routing key", 14, flex=1),
         Column("durable", "Durable", 7), Column("auto_delete", "Auto-delete", 11),
         Column("exclusive", "Exclusive", 9)),
        "This node consumes from no queue."),
    Tab("stats", "Stats", "stats",
        (Column("field", "Field", 30), Column("value", "Value", 16, flex=2),
         Column("meaning", "Meaning", 20, flex=3)),
        "The stats reply is empty."),
    Tab("config", "Config", "conf",
        (Column("setting", "Setting", 32), Column("value", "Value", 20, flex=1)),
        "No setting differs from the defaults."),
)
TABS_BY_ID = {tab.id: tab for tab in TABS}


class NodeDetailScreen(Screen):
    """The detail of the node ``hostname``: heading and tabs over its poll replies."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("node")

    DEFAULT_CSS = """
    NodeDetailScreen { layout: vertical; }
    NodeDetailScreen #node-heading { height: auto; padding: 0 1; background: $panel; }
    NodeDetailScreen TabbedContent { height: 1fr; }
    NodeDetailScreen TabPane { padding: 0; height: 1fr; }
    """

    def __init__(self, hostname: str, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.hostname = hostname
        self._cluster: ClusterState | None = None
        self._now = 0.0
        self._rows: dict[str, dict[str, Sequence[Cell]]] = {tab.id: {} for tab in TABS}
        self._shown: tuple[Any, ...] | None = None
        self.tables = {tab.id: LiveTable(tab.columns, partial(self._cells, tab.id),
                                         empty="Not polled yet.", id=f"node-{tab.id}")
                       for tab in TABS}

    def compose(self) -> ComposeResult:
        """Heading, one tab per poll reply, footer."""
        yield Static(Text(self.hostname, style="bold"), id="node-heading")
        with TabbedContent(id="node-tabs"):
            for tab in TABS:
                with TabPane(tab.title, id=f"tab-{tab.id}"):
                    yield self.tables[tab.id]
        yield Footer()

    def on_mount(self) -> None:
        """The keys act on the list in front of the user."""
        self.tables[TABS[0].id].focus()

    # -- what the console calls ------------------------------------------------------------

    @property
    def active_tab(self) -> str:
        """The id of the tab in front (``active``, ``stats``, ...)."""
        tabs = self.query_one("#node-tabs", TabbedContent)
        return (tabs.active or "tab-active").removeprefix("tab-")

    def show_tab(self, tab_id: str) -> None:
        """Bring the tab ``tab_id`` to the front."""
        if tab_id not in TABS_BY_ID:
            raise ValueError(f"no such tab: {tab_id}")
        self.query_one("#node-tabs", TabbedContent).active = f"tab-{tab_id}"
        self.tables[tab_id].focus()

    def selected_tasks(self) -> list[str]:
        """Task ids in the current tab: the tagged ones, else the one under the cursor."""
        tab = TABS_BY_ID[self.active_tab]
        if not tab.lists_tasks:
            return []
        table = self.tables[tab.id]
        tagged = table.tagged_in_order()
        if tagged:
            return tagged
        key = table.cursor_key
        return [key] if key is not None else []

    # -- actions (keys from the console's key table) ---------------------------------------

    def action_tag(self) -> None:
        """Tag or untag the task under the cursor (in the tabs that list tasks)."""
        tab = TABS_BY_ID[self.active_tab]
        if tab.lists_tasks:
            self.tables[tab.id].toggle_tag()

    def action_previous_tab(self) -> None:
        """The tab to the left; from the first, the last."""
        self._step_tab(-1)

    def action_next_tab(self) -> None:
        """The tab to the right; from the last, the first."""
        self._step_tab(1)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Tag only where there are tasks to tag: shown dimmed on the other tabs."""
        if action == "tag" and self.is_mounted and not TABS_BY_ID[self.active_tab].lists_tasks:
            return None
        return True

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Another tab in front, however chosen: the footer follows what it allows."""
        self.refresh_bindings()

    def _step_tab(self, step: int) -> None:
        ids = [tab.id for tab in TABS]
        self.show_tab(ids[(ids.index(self.active_tab) + step) % len(ids)])

    def refresh_from(self, cluster: ClusterState, now: float) -> None:
        """Show the node as ``cluster`` knows it at ``now``."""
        self._cluster, self._now = cluster, now
        worker = cluster.workers.get(self.hostname)
        if not self.is_mounted:
            return
        self.query_one("#node-heading", Static).update(heading(self.hostname, worker, now))
        if worker is None:
            return
        # Lists change only when a poll answers; the Active tab's runtimes move with now.
        shown = (id(worker), worker.inspected_at, tuple(sorted(worker.inspect_errors.items())))
        if shown != self._shown:
            self._shown = shown
            self._fill(worker, cluster, now)
        else:
            self.tables["active"].invalidate()

    # -- filling the tabs ------------------------------------------------------------------

    def _fill(self, worker: WorkerInfo, cluster: ClusterState, now: float) -> None:
        tabbed = self.query_one("#node-tabs", TabbedContent)
        for tab in TABS:
            reply = poll_reply(worker, tab.command)
            error = worker.inspect_errors.get(tab.command)
            rows = _unique(ROW_BUILDERS[tab.id](reply, cluster, now)) if reply is not None \
                else {}
            self._rows[tab.id] = rows
            table = self.tables[tab.id]
            table.set_empty(empty_text(tab, reply, error))
            table.tagged.intersection_update(rows)
            table.set_order(list(rows))
            table.invalidate()
            label = tab.title if reply is None else f"{tab.title} ({len(rows)})"
            tabbed.get_tab(f"tab-{tab.id}").label = label

    def _cells(self, tab_id: str, key: str) -> Sequence[Cell]:
        if tab_id == "active":
            # Runtimes are computed at draw time so they follow the clock.
            return _active_cells(self._rows[tab_id].get(key, ()), self._now)
        return self._rows[tab_id].get(key, (key,))


def poll_reply(worker: WorkerInfo, command: str) -> Any:
    """The node's latest good reply to ``command`` (None before the first)."""
    return {
        "active": worker.active_tasks, "reserved": worker.reserved_tasks,
        "scheduled": worker.scheduled_tasks, "revoked": worker.revoked_ids,
        "registered": worker.registered, "active_queues": worker.queues,
        "stats": worker.stats, "conf": worker.conf,
    }[command]


def empty_text(tab: Tab, reply: Any, error: str | None) -> str:
    """What an empty tab says: not polled yet, the poll's error, or that it is empty."""
    if error is not None and not reply:
        return f"inspect {tab.command} failed: {error}"
    if reply is None:
        return f"Not polled yet: waiting for the node's reply to inspect {tab.command}."
    return tab.empty


def heading(hostname: str, worker: WorkerInfo | None, now: float) -> Text:
    """Two lines about the node: who and how it runs, then what its events say."""
    text = Text(hostname, style="bold")
    if worker is None:
        text.append("  is no longer in the cluster state.", style="italic")
        return text
    status = worker.status(now)
    text.append("  ")
    text.append_text(fmt.status_text(status))
    parts = [nf.software_version(worker)]
    if worker.pid is not None:
        parts.append(f"pid {worker.pid}")
    parts.append(f"pool {nf.pool_label(worker)}")
    parts.append(f"uptime {nf.uptime_label(worker, now)}")
    if worker.inspected_at is not None:
        parts.append(f"polled {fmt.uptime(now - worker.inspected_at)} ago")
    text.append("  " + "  ·  ".join(parts))
    text.append("\n")
    if worker.last_heartbeat is not None:
        since = max(now - worker.last_heartbeat, 0.0)
        text.append(f"heartbeat every {worker.freq:g}s, last {since:.1f}s ago  ·  ")
    text.append(f"load {fmt.load_average(worker.loadavg)}  ·  active {worker.active}  ·  "
                f"processed {fmt.thousands(worker.processed)}  ·  seen {worker.received} "
                f"received, {worker.succeeded} succeeded")
    for label, seen in (("failed", worker.failed), ("retried", worker.retried),
                        ("revoked", worker.revoked), ("rejected", worker.rejected)):
        if seen:
            text.append(", ")
            text.append(f"{seen} {label}", style="red" if label == "failed" else "")
    if worker.inspect_errors:
        errors = "; ".join(f"{cmd}: {err}" for cmd, err in sorted(worker.inspect_errors.items()))
        text.append(f"\npoll errors: {errors}", style="red")
    return text


# -- rows of each tab ------------------------------------------------------------------------

def _info(entry: Any) -> dict:
    return entry if isinstance(entry, dict) else {"id": str(entry)}


def _args(info: dict) -> str:
    args, kwargs = info.get("args"), info.get("kwargs")
    parts = [fmt.short(args, 200)] if args not in (None, [], ()) else []
    if kwargs:
        parts.append(fmt.short(kwargs, 200))
    return " ".join(parts)


def _active_rows(reply: list, cluster: ClusterState, now: float) -> list[Row]:
    rows = []
    for entry in reply:
        info = _info(entry)
        rows.append((str(info.get("id")), (str(info.get("id")), str(info.get("name") or "-"),
                                           _args(info), info.get("time_start"),
                                           fmt.count(info.get("worker_pid")))))
    return rows


def _active_cells(stored: Sequence[Any], now: float) -> Sequence[Cell]:
    if not stored:
        return ()
    task_id, name, args, started, pid = stored
    runtime = now - started if isinstance(started, int | float) else None
    return (task_id, name, args, fmt.duration(runtime), pid)


def _reserved_rows(reply: list, cluster: ClusterState, now: float) -> list[Row]:
    rows = []
    for entry in reply:
        info = _info(entry)
        delivery = info.get("delivery_info") if isinstance(info.get("delivery_info"), dict) \
            else {}
        rows.append((str(info.get("id")), (str(info.get("id")), str(info.get("name") or "-"),
                                           _args(info),
                                           str(delivery.get("routing_key") or "-"))))
    return rows


def _scheduled_rows(reply: list, cluster: ClusterState, now: float) -> list[Row]:
    rows = []
    for entry in reply:
        entry = entry if isinstance(entry, dict) else {}
        info = _info(entry.get("request") or {})
        rows.append((str(info.get("id")), (str(info.get("id")), str(info.get("name") or "-"),
                                           _args(info), fmt.eta(entry.get("eta"), now),
                                           fmt.count(entry.get("priority")))))
    return rows


def _revoked_rows(reply: list, cluster: ClusterState, now: float) -> list[Row]:
    rows = []
    for task_id in reply:
        task = cluster.tasks.get(str(task_id))
        name = task.name if task is not None and task.name else "-"
        state = fmt.state_text(task.state) if task is not None else Text("-")
        rows.append((str(task_id), (str(task_id), name, state)))
    return rows


def _registered_rows(reply: list, cluster: ClusterState, now: float) -> list[Row]:
    rows = []
    for entry in reply:
        text = str(entry)
        name, _, options = text.partition(" [")
        rows.append((text, (name, options.removesuffix("]"))))
    return rows


def _queue_rows(reply: list, cluster: ClusterState, now: float) -> list[Row]:
    rows = []
    for queue in reply:
        queue = queue if isinstance(queue, dict) else {"name": str(queue)}
        exchange = queue.get("exchange") if isinstance(queue.get("exchange"), dict) else {}
        rows.append((str(queue.get("name")), (
            str(queue.get("name")), str(exchange.get("name") or "(default)"),
            str(exchange.get("type") or "-"), str(queue.get("routing_key") or "-"),
            _yes(queue.get("durable")), _yes(queue.get("auto_delete")),
            _yes(queue.get("exclusive")))))
    return rows


def _stats_rows(reply: dict, cluster: ClusterState, now: float) -> list[Row]:
    return [(key, (Text(key, style="cyan"), _stats_value(key, value),
                   Text(meaning, style="dim")))
            for key, value, meaning in stats_rows(reply)]


def _stats_value(key: str, value: Any) -> str:
    # The raw figure as the node sent it, and a readable one for the unit-less big ones.
    readable = {"rusage.maxrss": fmt.kilobytes, "uptime": fmt.uptime}.get(key)
    if readable is not None and isinstance(value, int | float):
        return f"{value} ({readable(value)})"
    return _value(value)


def _config_rows(reply: dict, cluster: ClusterState, now: float) -> list[Row]:
    return [(str(key), (Text(str(key), style="cyan"), _value(value)))
            for key, value in sorted(reply.items())]


ROW_BUILDERS: dict[str, Callable[[Any, ClusterState, float], list[Row]]] = {
    "active": _active_rows, "reserved": _reserved_rows, "scheduled": _scheduled_rows,
    "revoked": _revoked_rows, "registered": _registered_rows, "queues": _queue_rows,
    "stats": _stats_rows, "config": _config_rows,
}


def _unique(rows: list[Row]) -> dict[str, Sequence[Cell]]:
    # A list may name the same id twice (a redelivery); the first one is shown.
    unique: dict[str, Sequence[Cell]] = {}
    for key, cells in rows:
        unique.setdefault(key, cells)
    return unique


def _yes(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else fmt.MISSING


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list | tuple | dict):
        return fmt.short(value, 400) if value else str(value)
    return str(value)
