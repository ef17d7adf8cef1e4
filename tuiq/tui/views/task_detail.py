"""One task in depth: its fields, its state timeline and its traceback.

All of it comes from the task's events (PROTOCOL.md §4.4) as ``ClusterState`` merged them:
arguments and ids from ``task-received`` (or ``task-sent``), the result from
``task-succeeded``, exception and traceback from ``task-failed``/``task-retried``,
revoke and reject details from theirs. The screen scrolls; the traceback is highlighted.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from tuiq.events.cluster import ClusterState
from tuiq.events.models import TaskInfo
from tuiq.states import STARTED
from tuiq.tui.keys import bindings
from tuiq.tui.views import formatting as fmt
from tuiq.tui.views import task_fields as tf

#: The end of a task's run, by state: which time field says when it finished.
_FINISH_FIELDS = (("succeeded", "Succeeded"), ("failed", "Failed"), ("retried", "Retried"),
                  ("revoked", "Revoked"), ("rejected", "Rejected"))


class TaskDetailScreen(Screen):
    """The detail of the task ``task_id``."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("task")

    DEFAULT_CSS = """
    TaskDetailScreen { layout: vertical; }
    TaskDetailScreen #task-heading { height: auto; padding: 0 1; background: $panel; }
    TaskDetailScreen #task-body { height: 1fr; padding: 0 1; }
    TaskDetailScreen .task-section { margin: 1 0 0 0; height: auto; }
    """

    def __init__(self, task_id: str, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.task_id = task_id
        self._shown: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        """Heading, then a scrolling body: fields, timeline, traceback."""
        yield Static(Text(self.task_id, style="bold"), id="task-heading")
        with VerticalScroll(id="task-body"):
            yield Static(id="task-fields", classes="task-section")
            yield Static(id="task-timeline", classes="task-section")
            yield Static(id="task-traceback", classes="task-section")
        yield Footer()

    def on_mount(self) -> None:
        """Arrow keys and page keys scroll the body."""
        self.query_one("#task-body", VerticalScroll).focus()

    def refresh_from(self, cluster: ClusterState, now: float) -> None:
        """Show the task as ``cluster`` knows it at ``now``."""
        if not self.is_mounted:
            return
        task = cluster.tasks.get(self.task_id)
        # Redraw only when the task moved on (or, while it runs, to advance its runtime).
        shown = None if task is None else (
            id(task), task.state, task.timestamp, len(task.timeline), task.hostname,
            int(now) if task.state == STARTED else None)
        if shown == self._shown and self._shown is not None:
            return
        self._shown = shown
        self.query_one("#task-heading", Static).update(heading(self.task_id, task))
        if task is None:
            self.query_one("#task-fields", Static).update(Text(
                "This task is not in the cluster state: it was never seen by this console, "
                "or it was dropped to stay within the task limit.", style="italic"))
            self.query_one("#task-timeline", Static).update("")
            self.query_one("#task-traceback", Static).update("")
            return
        self.query_one("#task-fields", Static).update(fields_table(task, now))
        self.query_one("#task-timeline", Static).update(timeline_table(task))
        self.query_one("#task-traceback", Static).update(traceback_view(task))


def heading(task_id: str, task: TaskInfo | None) -> Text:
    """State, name and id on one line."""
    if task is None:
        return Text.assemble(("unknown task ", "italic"), (task_id, "bold"))
    text = fmt.state_text(task.state)
    text.stylize("bold")
    text.append("  ")
    text.append(task.name or "(name unknown)", style="bold")
    text.append(f"  {task.uuid}")
    return text


def fields_table(task: TaskInfo, now: float) -> Table:
    """Every known field of the task, one per row; absent ones are left out."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="cyan", no_wrap=True)
    table.add_column(overflow="fold")
    rows: list[tuple[str, RenderableType | None]] = [
        ("State", fmt.state_text(task.state)),
        ("Name", task.name),
        ("Task id", task.uuid),
        ("Node", task.hostname),
        ("Sent by", task.client),
        ("Root id", _relative_id(task.root_id, task.uuid)),
        ("Parent id", _relative_id(task.parent_id, task.uuid)),
        ("Queue", task.queue),
        ("Exchange", task.exchange),
        ("Routing key", task.routing_key),
        ("Retries", None if task.retries is None else str(task.retries)),
        ("ETA", None if task.eta is None else fmt.eta(task.eta, now)),
        ("Expires", None if task.expires is None else fmt.eta(task.expires, now)),
        ("Sent", _time(task.sent)),
        ("Received", _time(task.received)),
        ("Started", _time(task.started)),
        *((label, _time(getattr(task, field))) for field, label in _FINISH_FIELDS),
        ("Runtime", _runtime(task, now)),
        ("Args", task.args),
        ("Kwargs", task.kwargs),
        ("Result", task.result),
        (_exception_label(task), None if task.exception is None
         else Text(task.exception, style="red" if task.state == "FAILURE" else "yellow")),
        ("Revoked", _revoke_details(task)),
        ("Requeued", None if task.requeue is None else ("yes" if task.requeue else "no")),
    ]
    for label, value in rows:
        if value is None or value == "":
            continue
        table.add_row(label, Text(value) if isinstance(value, str) else value)
    return table


def timeline_table(task: TaskInfo) -> RenderableType:
    """Each event's state and time, with the time since the first event."""
    if not task.timeline:
        return Text("No events yet.", style="italic")
    table = Table(title="Timeline", title_justify="left", title_style="bold", show_edge=False,
                  box=None, padding=(0, 2), pad_edge=False, header_style="bold")
    table.add_column("State")
    table.add_column("Time")
    table.add_column("Since first", justify="right")
    first = task.timeline[0][1]
    for state, when in task.timeline:
        table.add_row(fmt.state_text(state), fmt.precise_time(when),
                      "" if when == first else f"+{fmt.duration(when - first)}")
    return table


def traceback_view(task: TaskInfo) -> RenderableType:
    """The traceback, highlighted as Python's; empty when the task has none."""
    if not task.traceback:
        return ""
    title = Text("Traceback" if task.state == "FAILURE" else "Traceback of the last retry",
                 style="bold")
    code = Syntax(task.traceback.rstrip("\n"), "pytb", theme="ansi_dark", word_wrap=True,
                  background_color="default")
    return Group(title, code)


def _exception_label(task: TaskInfo) -> str:
    # task-retried also carries an exception: on a task that went on to succeed (or is
    # running again) it says why it was retried, not that it failed.
    return "Exception" if task.state == "FAILURE" else "Last retry"


def _time(when: float | None) -> str | None:
    return None if when is None else fmt.precise_time(when)


def _runtime(task: TaskInfo, now: float) -> str | None:
    seconds = tf.run_time(task, now)
    if seconds is None:
        return None
    return fmt.duration(seconds) + (" (running)" if task.state == STARTED else "")


def _relative_id(value: str | None, own: str) -> str | None:
    if value is None:
        return None
    return f"{value} (this task)" if value == own else value


def _revoke_details(task: TaskInfo) -> str | None:
    if task.revoked is None and task.terminated is None and task.expired is None:
        return None
    parts = []
    if task.expired:
        parts.append("expired")
    if task.terminated:
        signal = f" by signal {task.signum}" if task.signum not in (None, "") else ""
        parts.append(f"terminated{signal}")
    return ", ".join(parts) or "before it ran"
