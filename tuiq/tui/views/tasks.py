"""The tasks view: the live task stream, with ``/`` filter, sort keys and tags.

Rows are keyed by task id. Each tick the console passes the keys that changed
(``ClusterState.take_changes()``); the view re-matches and re-sorts only those, tells the
table which rows to redraw, and the table formats only the rows on screen. With no
change set (first frame, after being hidden, after ``clear_tasks``) it rebuilds from
``cluster.tasks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from tuiq.events.cluster import ClusterState
from tuiq.events.models import Changes, TaskInfo
from tuiq.states import STARTED
from tuiq.tui.keys import bindings
from tuiq.tui.type_ahead import binds, type_ahead
from tuiq.tui.views import formatting as fmt
from tuiq.tui.views import task_fields as tf
from tuiq.tui.views.task_filter import FilterError, TaskFilter
from tuiq.tui.views.task_order import SORTS, TaskOrder
from tuiq.tui.widgets.lines import show_text
from tuiq.tui.widgets.live_table import Cell, Column, LiveTable

COLUMNS = (
    Column("state", "State", 9, sortable=True),
    Column("name", "Name", 18, flex=2, sortable=True),
    Column("id", "Task id", 36, sortable=True),
    Column("node", "Node", 14, flex=1, sortable=True),
    Column("received", "Received", 8, sortable=True),
    Column("runtime", "Runtime", 8, align="right", sortable=True),
    Column("args", "Args", 12, flex=2),
)
#: The order ``s`` cycles through the sort columns.
SORT_CYCLE = tuple(SORTS)

NO_TASKS = "No tasks yet: waiting for task events (workers send them with -E or enable_events)."


class TasksView(Widget):
    """Every task the cluster state holds, newest first by default."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("tasks")

    DEFAULT_CSS = """
    TasksView { height: 1fr; layout: vertical; }
    TasksView > #tasks-filter {
        display: none; height: 1; border: none; padding: 0 1; background: $boost;
    }
    TasksView.filtering > #tasks-filter { display: block; }
    TasksView > #tasks-status { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    """

    class Opened(Message):
        """Enter (or a double click) on a task: show its detail."""

        def __init__(self, task_id: str) -> None:
            super().__init__()
            self.task_id = task_id

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.order = TaskOrder()
        self._cluster: ClusterState | None = None
        self._now = 0.0
        self._stale = True
        self._filter_error: str | None = None
        self.table = LiveTable(COLUMNS, self._row, empty=NO_TASKS, id="tasks-table")
        self.table.set_sort(self.order.sort_column, self.order.reverse)

    def compose(self) -> ComposeResult:
        """The table, the filter input (shown by ``/``) and a status line."""
        yield self.table
        yield Input(placeholder="filter: regex on name, state, node, id, args;"
                                " field:regex narrows (state:fail node:w1)", id="tasks-filter")
        yield Static(id="tasks-status")

    def focus(self, scroll_visible: bool = True) -> TasksView:
        """Focus goes to the table, where the keys act."""
        self.table.focus(scroll_visible)
        return self

    # -- refreshing ------------------------------------------------------------------------

    def refresh_from(self, cluster: ClusterState, now: float,
                     changes: Changes | None = None) -> None:
        """Show ``cluster``'s tasks at ``now``; ``changes`` names what changed since last time."""
        self._now = now
        full = (changes is None or changes.full_refresh or self._stale
                or cluster is not self._cluster)
        self._cluster = cluster
        self._stale = False
        table = self.table
        if full:
            self.order.rebuild(cluster.tasks)
            table.tagged.intersection_update(cluster.tasks)
            table.set_order(self.order.order)
            table.invalidate()
        else:
            assert changes is not None
            if self.order.apply(cluster.tasks, changes.tasks, changes.evicted_tasks):
                table.set_order(self.order.order)
            table.tagged.difference_update(changes.evicted_tasks)
            table.invalidate(changes.tasks)
        # A running task's runtime grows with the clock.
        tasks = cluster.tasks
        table.invalidate([key for key in table.visible_keys()
                          if (task := tasks.get(key)) is not None and task.state == STARTED])
        self._show_status()

    def on_key(self, event: events.Key) -> None:
        """Open the filter as soon as its key leaves the table, and type into it.

        Keys that arrive together (a paste, a fast typist on a slow link) are all sent
        to the table before the first one has been acted on (see ``type_ahead``).
        Bindings act only when a key reaches the app, by which time the characters
        behind ``/`` would have gone to the table's keys ("s" sorts); opening the filter
        here, in key order, lets them land in it.
        """
        field = self.query_one("#tasks-filter", Input)
        if self.has_class("filtering") and self.app.focused is field:
            type_ahead(field, event)
        elif binds(self, event, "filter"):
            event.stop()
            event.prevent_default()
            self.action_filter()

    def on_show(self, event: events.Show) -> None:
        """Coming back into view: changes were missed while hidden, so rebuild next time."""
        self._stale = True

    def on_hide(self, event: events.Hide) -> None:
        """Hidden views are not refreshed; the next refresh must rebuild."""
        self._stale = True

    # -- selection -------------------------------------------------------------------------

    def selected_tasks(self) -> list[TaskInfo]:
        """The tagged tasks, else the task under the cursor (empty when there is none)."""
        tasks = self._cluster.tasks if self._cluster is not None else {}
        keys = self.table.tagged_in_order() or [self.table.cursor_key]
        return [tasks[key] for key in keys if key in tasks]

    def clear_tags(self) -> None:
        """Untag every task."""
        self.table.clear_tags()
        self._show_status()

    # -- actions (keys from the console's key table) ---------------------------------------

    def action_filter(self) -> None:
        """Open the filter input with the current filter."""
        field = self.query_one("#tasks-filter", Input)
        self.add_class("filtering")
        field.value = self.order.filter.text
        # At once, not on the next turn: keys typed right after "/" (a paste, a fast
        # typist) belong to the filter, not to the table ("s" would sort).
        self.screen.set_focus(field)

    def action_clear_filter(self) -> None:
        """Esc: clear the filter if there is one (or the input is open), else the tags."""
        field = self.query_one("#tasks-filter", Input)
        if self.has_class("filtering") or self.order.filter or self._filter_error:
            self._filter_error = None
            self.remove_class("filtering")
            field.value = ""
            self._set_filter(TaskFilter.parse(""))
            self.table.focus()
        else:
            self.clear_tags()

    def action_sort(self) -> None:
        """Sort by the next column (received, state, name, node, runtime, id)."""
        position = SORT_CYCLE.index(self.order.sort_column)
        self._set_sort(SORT_CYCLE[(position + 1) % len(SORT_CYCLE)], None)

    def action_reverse_sort(self) -> None:
        """Reverse the sort order."""
        self._set_sort(self.order.sort_column, not self.order.reverse)

    def action_tag(self) -> None:
        """Tag or untag the task under the cursor."""
        self.table.toggle_tag()
        self._show_status()

    def action_open(self) -> None:
        """Open the task under the cursor."""
        key = self.table.cursor_key
        if key is not None:
            self.post_message(self.Opened(key))

    @on(LiveTable.Activated)
    def _activated(self, event: LiveTable.Activated) -> None:
        event.stop()
        self.post_message(self.Opened(event.key))

    @on(Input.Changed, "#tasks-filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        event.stop()
        try:
            task_filter = TaskFilter.parse(event.value)
        except FilterError as exc:
            # Keep showing the last good filter's rows while the pattern is being typed.
            self._filter_error = str(exc)
            self._show_status()
            return
        self._filter_error = None
        self._set_filter(task_filter)

    @on(Input.Submitted, "#tasks-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        if self._filter_error is None:
            self.remove_class("filtering")
            self.table.focus()

    # -- internals -------------------------------------------------------------------------

    def _set_filter(self, task_filter: TaskFilter) -> None:
        if task_filter.text == self.order.filter.text:
            self._show_status()
            return
        tasks = self._cluster.tasks if self._cluster is not None else {}
        self.order.set_filter(task_filter, tasks)
        self.table.set_empty(f"No task matches {task_filter.text!r}." if task_filter
                             else NO_TASKS)
        self.table.set_order(self.order.order)
        self._show_status()

    def _set_sort(self, column: str, reverse: bool | None) -> None:
        tasks = self._cluster.tasks if self._cluster is not None else {}
        self.order.set_sort(column, reverse, tasks)
        self.table.set_sort(self.order.sort_column, self.order.reverse)
        self.table.set_order(self.order.order)
        self._show_status()

    def _show_status(self) -> None:
        if not self.is_mounted:
            return
        total = len(self._cluster.tasks) if self._cluster is not None else 0
        shown = len(self.order)
        text = Text()
        if self.order.filter:
            text.append(f"{fmt.thousands(shown)} of {fmt.thousands(total)} tasks match ")
            text.append(f"/{self.order.filter.text}/", style="bold")
        else:
            text.append(f"{fmt.thousands(total)} tasks")
        direction = "descending" if self.order.reverse else "ascending"
        text.append(f" · sorted by {self.order.sort_column}, {direction}")
        tagged = len(self.table.tagged)
        if tagged:
            text.append(f" · {tagged} tagged", style="bold")
        if self._filter_error:
            text.append(" · ")
            text.append(self._filter_error, style="bold red")
        show_text(self.query_one("#tasks-status", Static), text)

    def _row(self, key: str) -> Sequence[Cell]:
        task = self._cluster.tasks.get(key) if self._cluster is not None else None
        if task is None:
            return (fmt.MISSING, fmt.MISSING, key)
        return (
            fmt.state_text(task.state),
            task.name or fmt.MISSING,
            task.uuid,
            task.hostname or fmt.MISSING,
            fmt.clock_time(tf.entered_at(task)),
            fmt.duration(tf.run_time(task, self._now)),
            tf.arguments(task),
        )
