"""The nodes view (home): one row per node, live from heartbeats and the inspect polls.

Rows are keyed by hostname. A hundred nodes are cheap to re-read, so each refresh takes
the whole worker list; the table formats only the rows on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.message import Message
from textual.widget import Widget

from tuiq.events.cluster import ClusterState
from tuiq.events.models import Changes, WorkerInfo
from tuiq.tui.keys import bindings
from tuiq.tui.views import formatting as fmt
from tuiq.tui.views import node_fields as nf
from tuiq.tui.widgets.live_table import Cell, Column, LiveTable

COLUMNS = (
    Column("node", "Node", 16, flex=1, sortable=True),
    Column("status", "Status", 7, sortable=True),
    Column("sw", "Sw", 6),
    Column("pool", "Pool", 10),
    Column("active", "Active", 6, align="right", sortable=True),
    Column("reserved", "Reserved", 8, align="right"),
    Column("scheduled", "Sched", 5, align="right"),
    Column("processed", "Processed", 9, align="right", sortable=True),
    Column("failed", "Failed", 6, align="right", sortable=True),
    Column("load", "Load avg", 14, sortable=True),
    Column("cpu", "utime/stime", 11, align="right"),
    Column("maxrss", "MaxRSS", 6, align="right"),
    Column("uptime", "Uptime", 6, align="right"),
    Column("queues", "Queues", 10, flex=2),
)

_STATUS_RANK = {"online": 0, "late": 1, "offline": 2}

#: Sort column → (key of a node at ``now``, descending by default). Ties go by name.
SORTS: dict[str, tuple[Callable[[WorkerInfo, float], Any], bool]] = {
    "node": (lambda w, now: w.hostname, False),
    "status": (lambda w, now: (_STATUS_RANK[w.status(now)], w.hostname), False),
    "active": (lambda w, now: (w.active, w.hostname), True),
    "processed": (lambda w, now: (w.processed, w.hostname), True),
    "failed": (lambda w, now: (w.failed, w.hostname), True),
    "load": (lambda w, now: ((w.loadavg or [0.0])[0], w.hostname), True),
}
SORT_CYCLE = tuple(SORTS)

NO_NODES = "No nodes yet: waiting for worker heartbeats (each node sends one every 2 s)."


class NodesView(Widget):
    """Every node the cluster state knows, Celery and tuiq alike."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("nodes")

    DEFAULT_CSS = """
    NodesView { height: 1fr; }
    """

    class Opened(Message):
        """Enter (or a double click) on a node: show its detail."""

        def __init__(self, hostname: str) -> None:
            super().__init__()
            self.hostname = hostname

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._cluster: ClusterState | None = None
        self._now = 0.0
        self._stale = True
        #: The cells each row was last drawn with.
        self._drawn: dict[str, tuple[Cell, ...]] = {}
        self.sort_column = "node"
        self.reverse = False
        self.table = LiveTable(COLUMNS, self._row, empty=NO_NODES, id="nodes-table")
        self.table.set_sort(self.sort_column, self.reverse)

    def compose(self) -> ComposeResult:
        """The node table."""
        yield self.table

    def focus(self, scroll_visible: bool = True) -> NodesView:
        """Focus goes to the table, where the keys act."""
        self.table.focus(scroll_visible)
        return self

    def refresh_from(self, cluster: ClusterState, now: float,
                     changes: Changes | None = None) -> None:
        """Show ``cluster``'s nodes at ``now``.

        Node figures move with the clock (status, uptime) as much as with events, so the
        rows on screen are formatted again and only those that read differently are
        redrawn; ``changes`` only says whether the whole table must be redrawn (None, a
        full refresh, or the view was hidden).
        """
        full = (changes is None or changes.full_refresh or self._stale
                or cluster is not self._cluster)
        self._cluster, self._now, self._stale = cluster, now, False
        table = self.table
        table.tagged.intersection_update(cluster.workers)
        self._reorder()
        if full:
            self._drawn.clear()
            table.invalidate()
            return
        drawn = self._drawn
        table.invalidate([key for key in table.visible_keys()
                          if drawn.get(key) != self._cells(key)])

    def on_show(self, event: events.Show) -> None:
        """Coming back into view: changes were missed while hidden, so rebuild next time."""
        self._stale = True

    def on_hide(self, event: events.Hide) -> None:
        """Hidden views are not refreshed; the next refresh must rebuild."""
        self._stale = True

    def selected_nodes(self) -> list[str]:
        """The tagged nodes, else the node under the cursor (empty when there is none)."""
        tagged = self.table.tagged_in_order()
        if tagged:
            return tagged
        key = self.table.cursor_key
        return [key] if key is not None else []

    def clear_tags(self) -> None:
        """Untag every node."""
        self.table.clear_tags()

    # -- actions (keys from the console's key table) ---------------------------------------

    def action_open(self) -> None:
        """Open the node under the cursor."""
        key = self.table.cursor_key
        if key is not None:
            self.post_message(self.Opened(key))

    def action_tag(self) -> None:
        """Tag or untag the node under the cursor."""
        self.table.toggle_tag()

    def action_sort(self) -> None:
        """Sort by the next column (node, status, active, processed, failed, load)."""
        column = SORT_CYCLE[(SORT_CYCLE.index(self.sort_column) + 1) % len(SORT_CYCLE)]
        self._set_sort(column, SORTS[column][1])

    def action_reverse_sort(self) -> None:
        """Reverse the sort order."""
        self._set_sort(self.sort_column, not self.reverse)

    @on(LiveTable.Activated)
    def _activated(self, event: LiveTable.Activated) -> None:
        event.stop()
        self.post_message(self.Opened(event.key))

    # -- internals -------------------------------------------------------------------------

    def _set_sort(self, column: str, reverse: bool) -> None:
        self.sort_column, self.reverse = column, reverse
        self.table.set_sort(column, reverse)
        self._reorder()

    def _reorder(self) -> None:
        if self._cluster is None:
            return
        key_of, now = SORTS[self.sort_column][0], self._now
        workers = sorted(self._cluster.workers.values(), key=lambda w: key_of(w, now),
                         reverse=self.reverse)
        self.table.set_order([w.hostname for w in workers])

    def _row(self, key: str) -> Sequence[Cell]:
        cells = self._drawn[key] = self._cells(key)
        return cells

    def _cells(self, key: str) -> tuple[Cell, ...]:
        worker = self._cluster.workers.get(key) if self._cluster is not None else None
        if worker is None:
            return (key,)
        now = self._now
        status = worker.status(now)
        cells: list[Cell] = [
            worker.hostname,
            fmt.status_text(status),
            nf.software(worker),
            nf.pool_label(worker),
            str(worker.active) if status != "offline" else fmt.MISSING,
            nf.list_length(worker.reserved_tasks),
            nf.list_length(worker.scheduled_tasks),
            str(worker.processed),
            Text(str(worker.failed), style="red" if worker.failed else ""),
            fmt.load_average(worker.loadavg),
            nf.cpu_times(worker),
            nf.max_rss(worker),
            nf.uptime_label(worker, now),
            nf.queue_names(worker),
        ]
        if status == "offline":
            # An offline node's figures are its last known ones: dim them.
            cells = [cell if isinstance(cell, Text) and cell.style else Text(str(cell), "dim")
                     for cell in cells]
        return tuple(cells)
