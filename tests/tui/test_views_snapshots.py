"""Snapshots of the console's views over the canned cluster state (SVGs in snapshots/).

Each test drives the console the way a user would (number keys, ``/``, Enter) and
compares the screen with the reviewed SVG. The state, the clock and the time zone are
fixed, and the console runs without a broker, so the pictures are stable.
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Input

from tests.tui.canned import FAILED_ID, NOW
from tests.tui.conftest import BROKER, SNAPSHOT_SIZE
from tuiq.events.cluster import ClusterState
from tuiq.tui.views.node_detail import NodeDetailScreen
from tuiq.tui.widgets.header import ClusterHeader


async def _steady_filter(pilot) -> None:
    # A blinking cursor would make the picture depend on timing.
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


def test_nodes_view(snap_compare, console):
    """Home: five nodes (two healthy tuiq, one Celery, one late, one offline) and the header."""
    assert snap_compare(console(), terminal_size=SNAPSHOT_SIZE)


def test_nodes_view_tagged_and_sorted(snap_compare, console):
    """Two nodes tagged with Space; sorted by status (online, late, offline)."""
    assert snap_compare(console(), press=["space", "space", "s"], terminal_size=SNAPSHOT_SIZE)


def test_tasks_view(snap_compare, console):
    """The task stream, newest first, every state in its colour."""
    assert snap_compare(console(), press=["2"], terminal_size=SNAPSHOT_SIZE)


def test_tasks_view_filtered(snap_compare, console):
    """``/`` then a field-scoped regex: only failures, retries and rejections remain."""
    keys = ["2", "slash", *"state:^(failure|retry|rejected)$", "enter"]
    assert snap_compare(console(), press=keys, terminal_size=SNAPSHOT_SIZE)


def test_tasks_view_invalid_filter(snap_compare, console):
    """A bad pattern is reported on the status line; the rows stay as they were."""
    assert snap_compare(console(), press=["2", "slash", *"name:(oops"],
                        run_before=_steady_filter, terminal_size=SNAPSHOT_SIZE)


def test_node_detail_active(snap_compare, console):
    """Enter on the first node: its detail, Active tab with the running report."""
    assert snap_compare(console(), press=["enter"], terminal_size=SNAPSHOT_SIZE)


def _tab(tab_id: str):
    async def show(pilot) -> None:
        await pilot.press("enter")
        screen = pilot.app.screen
        assert isinstance(screen, NodeDetailScreen)
        screen.show_tab(tab_id)
    return show


def test_node_detail_stats(snap_compare, console):
    """The Stats tab: the full stats reply, every rusage field explained."""
    assert snap_compare(console(), run_before=_tab("stats"), terminal_size=(160, 60))


def test_node_detail_queues(snap_compare, console):
    """The Queues tab: the node's active_queues reply."""
    assert snap_compare(console(), run_before=_tab("queues"), terminal_size=SNAPSHOT_SIZE)


def test_node_detail_scheduled(snap_compare, console):
    """The Scheduled tab of beta: ETAs shown with how far away they are."""
    async def beta_scheduled(pilot) -> None:
        await pilot.press("down", "enter")
        pilot.app.screen.show_tab("scheduled")
    assert snap_compare(console(), run_before=beta_scheduled, terminal_size=SNAPSHOT_SIZE)


def test_task_detail_with_traceback(snap_compare, console):
    """A failed task: fields, timeline and its highlighted multi-line traceback."""
    keys = ["2", "slash", *f"id:{FAILED_ID[:8]}", "enter", "enter"]
    assert snap_compare(console(), press=keys, terminal_size=(160, 45))


def test_empty_console(snap_compare, console):
    """No events yet: the views say what they are waiting for."""
    assert snap_compare(console(ClusterState(clock=lambda: NOW)), press=["2"],
                        terminal_size=(120, 12))


class HeaderHost(App):
    """Only the header, in the states the live console cannot be put in without a broker."""

    def __init__(self, cluster: ClusterState, now: float, **state: object) -> None:
        super().__init__()
        self.cluster, self.now, self.state = cluster, now, state

    def compose(self) -> ComposeResult:
        yield ClusterHeader()

    def on_mount(self) -> None:
        self.query_one(ClusterHeader).refresh_from(self.cluster, self.now, broker=BROKER,
                                                   **self.state)


def test_header_disconnected_and_paused(snap_compare, canned):
    """Broker gone and feed paused: both say so in reverse colour; queue depths shown."""
    cluster, now = canned
    app = HeaderHost(cluster, now, connected=False, paused=True,
                     queue_depths={"celery": 12, "mail": 0, "media": 3})
    assert snap_compare(app, terminal_size=(160, 3))
