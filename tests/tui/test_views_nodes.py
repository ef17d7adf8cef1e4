"""Pilot tests of the nodes view and the header over the canned state."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.widgets import Sparkline, Static

from tests.tui.canned import ALPHA, BETA, DELTA, GAMMA, LEGACY, NOW, canned_cluster
from tests.tui.conftest import BROKER, SNAPSHOT_SIZE
from tuiq.events.cluster import ClusterState
from tuiq.tui.views.node_detail import NodeDetailScreen
from tuiq.tui.views.nodes import NodesView
from tuiq.tui.widgets.header import ClusterHeader


def run(scenario) -> None:
    asyncio.run(scenario())


def cells(view: NodesView, hostname: str) -> list[str]:
    return [str(cell) for cell in view._row(hostname)]


def test_one_row_per_node_with_events_and_poll_figures(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE):
            view = app.query_one(NodesView)
            assert list(view.table.keys) == sorted([ALPHA, BETA, LEGACY, GAMMA, DELTA])
            alpha = dict(zip([c.key for c in view.table.columns], cells(view, ALPHA),
                             strict=True))
            assert alpha == {
                "node": ALPHA, "status": "online", "sw": "tuiq", "pool": "prefork/4",
                "active": "2", "reserved": "1", "scheduled": "0", "processed": "10482",
                "failed": "1", "load": "1.42 1.18 0.97", "cpu": "13.5m/97.25",
                "maxrss": "183.0M", "uptime": "1h00m", "queues": "celery, media, billing"}
            legacy = cells(view, LEGACY)
            assert legacy[1:4] == ["online", "celery", "prefork/2"]  # Celery beside tuiq
            assert cells(view, GAMMA)[1] == "late"
            delta = cells(view, DELTA)
            assert delta[1] == "offline" and delta[3] == "-" and delta[12] == "-"
            assert cells(view, BETA)[3] == "threads/8"
    run(scenario)


def test_status_follows_the_clock(console):
    async def scenario():
        cluster, _ = canned_cluster()
        app = console(cluster)
        async with app.run_test(size=SNAPSHOT_SIZE):
            view = app.query_one(NodesView)
            view.refresh_from(cluster, NOW + 0.5, cluster.take_changes())
            assert cells(view, GAMMA)[1] == "late"  # 3.9 s since its heartbeat, freq 2 s
            view.refresh_from(cluster, NOW + 0.7, cluster.take_changes())
            assert cells(view, GAMMA)[1] == "offline"  # past 2 × freq
            assert cells(view, ALPHA)[1] == "online"
            view.refresh_from(cluster, NOW + 2.5, cluster.take_changes())
            assert cells(view, ALPHA)[1] == "late"
    run(scenario)


def test_tags_selection_and_sort(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            view = app.query_one(NodesView)
            assert view.selected_nodes() == [ALPHA]
            await pilot.press("space", "down", "space")
            assert view.selected_nodes() == [ALPHA, LEGACY]
            await pilot.press("s")  # status: online, late, offline
            assert view.sort_column == "status"
            assert list(view.table.keys) == [ALPHA, BETA, LEGACY, GAMMA, DELTA]
            assert view.selected_nodes() == [ALPHA, LEGACY]  # tags survive the sort
            await pilot.press("S")
            assert list(view.table.keys)[0] == DELTA
            await pilot.press("s", "s")  # active, then processed (most first)
            assert view.sort_column == "processed"
            assert list(view.table.keys)[:2] == [ALPHA, BETA]
            view.clear_tags()
            assert view.selected_nodes() == [view.table.cursor_key]
    run(scenario)


def test_enter_opens_the_node_detail(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("down", "down", "enter")
            screen = app.screen
            assert isinstance(screen, NodeDetailScreen)
            assert screen.hostname == LEGACY
            await pilot.press("escape")
            assert isinstance(app.query_one(NodesView), NodesView)
            assert not isinstance(app.screen, NodeDetailScreen)
    run(scenario)


def test_a_node_seen_first_appears_and_an_evicted_one_goes(console):
    async def scenario():
        cluster, _ = canned_cluster()
        app = console(cluster)
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            view = app.query_one(NodesView)
            await pilot.press("end", "space")  # tag the last node
            cluster.event({"type": "worker-online", "hostname": "aaa@first", "freq": 2.0,
                           "timestamp": NOW, "local_received": NOW, "sw_ident": "py-tuiq"})
            del cluster.workers[GAMMA]
            view.refresh_from(cluster, NOW, cluster.take_changes())
            keys = list(view.table.keys)
            assert keys[0] == "aaa@first" and GAMMA not in keys
            assert cells(view, "aaa@first")[1:3] == ["online", "tuiq"]
            assert GAMMA not in view.table.tagged  # tags of nodes that left are dropped
    run(scenario)


def test_empty_cluster_says_it_waits_for_heartbeats(console):
    async def scenario():
        app = console(ClusterState(clock=lambda: NOW))
        async with app.run_test(size=(120, 12)):
            view = app.query_one(NodesView)
            assert view.selected_nodes() == []
            assert "No nodes yet" in view.table._empty
            view.action_open()  # nothing to open: no crash, no screen
            view.action_tag()
            assert not isinstance(app.screen, NodeDetailScreen)
    run(scenario)


class HeaderHost(App):
    def compose(self) -> ComposeResult:
        yield ClusterHeader()


def header_lines(app) -> tuple[str, str, str]:
    header = app.query_one(ClusterHeader)
    return (str(header.query_one("#header-top", Static).content),
            str(header.query_one("#header-rate", Static).content),
            str(header.query_one("#header-queues", Static).content))


def test_header_figures_and_states():
    async def scenario():
        cluster, now = canned_cluster()
        app = HeaderHost()
        async with app.run_test(size=(160, 3)):
            header = app.query_one(ClusterHeader)
            header.refresh_from(cluster, now, broker=BROKER, connected=True, paused=False)
            top, rate, queues = header_lines(app)
            assert BROKER in top and "connected" in top and "DISCONNECTED" not in top
            assert "3 online · 1 late · 1 offline" in top
            assert f"✓ {cluster.totals['succeeded']}" in top and "✗ 1" in top
            assert rate == f"tasks/s {cluster.throughput(now):.1f}"
            assert queues == ""
            spark = header.query_one(Sparkline)
            assert list(spark.data) == cluster.rate_history(60, now)
            assert not header.has_class("disconnected")

            header.refresh_from(cluster, now, broker=BROKER, connected=False, paused=True,
                                queue_depths={"celery": 12, "mail": 0, "media": 3})
            top, _, queues = header_lines(app)
            assert "DISCONNECTED" in top and "PAUSED" in top
            assert header.has_class("disconnected") and header.has_class("paused")
            assert queues == "queues celery 12 · media 3 · mail 0"
    run(scenario)


def test_narrow_header_drops_the_title_and_keeps_the_totals():
    async def scenario():
        cluster, now = canned_cluster()
        app = HeaderHost()
        async with app.run_test(size=(160, 3)) as pilot:
            header = app.query_one(ClusterHeader)
            header.refresh_from(cluster, now, broker=BROKER, connected=True, paused=False)
            assert header_lines(app)[0].startswith("tuiq top")
            await pilot.resize_terminal(96, 3)
            await pilot.pause()
            top = header_lines(app)[0]
            assert top.startswith(BROKER) and top.endswith("✗ 1") and len(top) <= 94
    run(scenario)
