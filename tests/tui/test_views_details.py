"""Pilot tests of the node and task detail screens over the canned state."""

from __future__ import annotations

import asyncio

from textual.widgets import Static

from tests.tui.canned import (
    ALPHA,
    BETA,
    CHAIN_CHILD_ID,
    CHAIN_ROOT_ID,
    DELTA,
    ETA_ID,
    FAILED_ID,
    LEGACY,
    NOW,
    RESERVED_ID,
    REVOKED_ID,
    RUNNING_ID,
    canned_cluster,
)
from tests.tui.conftest import SNAPSHOT_SIZE
from tuiq.tui.screens.prompt import ArgumentsScreen
from tuiq.tui.views.node_detail import TABS, NodeDetailScreen
from tuiq.tui.views.stats_fields import STATS_HELP
from tuiq.tui.views.task_detail import TaskDetailScreen

#: Every getrusage(2) field the Workers Guide lists for ``stats``.
RUSAGE_FIELDS = ("utime", "stime", "maxrss", "idrss", "isrss", "ixrss", "inblock", "oublock",
                 "majflt", "minflt", "msgrcv", "msgsnd", "nvcsw", "nivcsw", "nsignals", "nswap")


def run(scenario) -> None:
    asyncio.run(scenario())


async def open_node(app, pilot, hostname: str) -> NodeDetailScreen:
    screen = NodeDetailScreen(hostname)
    await app.push_screen(screen)
    screen.refresh_from(app.cluster, NOW)
    await pilot.pause()
    return screen


async def open_task(app, pilot, task_id: str) -> TaskDetailScreen:
    screen = TaskDetailScreen(task_id)
    await app.push_screen(screen)
    screen.refresh_from(app.cluster, NOW)
    await pilot.pause()
    return screen


def rows(screen: NodeDetailScreen, tab: str) -> list[list[str]]:
    table = screen.tables[tab]
    return [[str(cell) for cell in table._render_row(key)] for key in table.keys]


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


def test_every_tab_and_its_count(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            screen = await open_node(app, pilot, ALPHA)
            tabs = screen.query_one("#node-tabs")
            labels = [str(tabs.get_tab(f"tab-{tab.id}").label) for tab in TABS]
            assert labels[:6] == ["Active (1)", "Reserved (1)", "Scheduled (0)", "Revoked (3)",
                                  "Registered (10)", "Queues (3)"]
            assert labels[6].startswith("Stats (") and labels[7] == "Config (7)"
            active = rows(screen, "active")
            assert active == [[RUNNING_ID, "shop.reports.quarterly",
                               "['2026-Q4'] {'email': True}", "1m04s", "4112"]]
            assert rows(screen, "reserved")[0][0] == RESERVED_ID
            assert rows(screen, "reserved")[0][3] == "media"
            revoked = rows(screen, "revoked")
            assert revoked[0] == [REVOKED_ID, "shop.exports.export_everything", "REVOKED"]
            assert revoked[1][1:] == ["-", "-"]  # an id this console never saw
            assert ["shop.billing.charge_card", "rate_limit=10/s"] in rows(screen, "registered")
            assert rows(screen, "queues")[1] == ["media", "media", "direct", "media", "yes",
                                                 "no", "no"]
            assert ["broker_url", "redis://:********@127.0.0.1:6379/0"] in rows(screen,
                                                                                 "config")
            heading = text_of(screen, "#node-heading")
            assert "online" in heading and "tuiq 0.1.0 (Linux)" in heading
            assert "pid 4101" in heading and "pool prefork/4" in heading
    run(scenario)


def test_stats_tab_shows_the_whole_reply_with_every_rusage_field(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            screen = await open_node(app, pilot, LEGACY)
            stats = {row[0]: row for row in rows(screen, "stats")}
            for field in RUSAGE_FIELDS:
                key = f"rusage.{field}"
                assert key in stats, key
                assert stats[key][2] == STATS_HELP[key] and stats[key][2]
            assert stats["rusage.maxrss"][1] == "60464 (59.0M)"
            assert stats["pool.implementation"][1] == "celery.concurrency.prefork:TaskPool"
            assert stats["pool.writes.strategy"][1] == "fair"
            assert stats["broker.transport"][1] == "redis"
            assert stats["total.proj.add"][1] == "2196"
            assert stats["clock"][1] == "54"
            assert stats["broker.alternates"][1] == "[]"
    run(scenario)


def test_selected_tasks_follow_the_tab(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            screen = await open_node(app, pilot, BETA)
            assert screen.active_tab == "active"
            assert screen.selected_tasks() == []  # nothing running on beta
            screen.show_tab("scheduled")
            await pilot.pause()
            assert screen.selected_tasks() == [ETA_ID]
            await pilot.press("down")
            assert len(screen.selected_tasks()) == 1 and screen.selected_tasks() != [ETA_ID]
            screen.show_tab("reserved")
            assert screen.selected_tasks() == [CHAIN_CHILD_ID]
            screen.show_tab("stats")
            assert screen.selected_tasks() == []  # not a task list
    run(scenario)


def test_unpolled_failed_and_offline_nodes_say_so(console):
    async def scenario():
        cluster, _ = canned_cluster()
        cluster.update_inspect(BETA, "active", {"error": "ValueError('boom')"}, now=NOW)
        app = console(cluster)
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            screen = await open_node(app, pilot, DELTA)
            assert "offline" in text_of(screen, "#node-heading")
            assert screen.tables["active"]._empty.startswith("Not polled yet")
            assert rows(screen, "stats") == []
            await app.pop_screen()

            screen = await open_node(app, pilot, BETA)
            assert "poll errors: active: ValueError('boom')" in text_of(screen, "#node-heading")
            # An empty list whose latest poll failed says why rather than "empty".
            assert screen.tables["active"]._empty == "inspect active failed: ValueError('boom')"
            assert screen.tables["reserved"].keys == [CHAIN_CHILD_ID]
            await app.pop_screen()

            screen = await open_node(app, pilot, "ghost@nowhere")
            assert "no longer in the cluster state" in text_of(screen, "#node-heading")
            assert screen.selected_tasks() == []
    run(scenario)


def test_new_poll_replies_refill_the_tabs(console):
    async def scenario():
        cluster, _ = canned_cluster()
        app = console(cluster)
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            screen = await open_node(app, pilot, ALPHA)
            cluster.update_inspect(ALPHA, "active", [], now=NOW + 2)
            screen.refresh_from(cluster, NOW + 2)
            assert rows(screen, "active") == []
            assert str(screen.query_one("#node-tabs").get_tab("tab-active").label) == \
                "Active (0)"
    run(scenario)


def test_task_detail_fields_timeline_and_traceback(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            screen = await open_task(app, pilot, FAILED_ID)
            heading = text_of(screen, "#task-heading")
            assert heading.startswith("FAILURE  shop.billing.charge_card")
            fields = screen.query_one("#task-fields", Static).content
            labels = [str(cell) for cell in fields.columns[0].cells]
            values = dict(zip(labels, (str(cell) for cell in fields.columns[1].cells),
                              strict=True))
            assert values["Node"] == ALPHA
            assert values["Args"] == "(1042,)"
            assert values["Kwargs"] == "{'currency': 'EUR', 'retry': False}"
            assert values["Runtime"] == "0.700s"
            assert values["Exception"].startswith("PaymentDeclined(")
            assert values["Failed"] == "2027-01-15 07:59:48.600"
            timeline = screen.query_one("#task-timeline", Static).content
            assert [str(c) for c in timeline.columns[0].cells] == ["RECEIVED", "STARTED",
                                                                 "FAILURE"]
            code = screen.query_one("#task-traceback", Static).content.renderables[1].code
            assert code.startswith("Traceback (most recent call last):")
            assert code.rstrip().endswith("(order 1042).')")
    run(scenario)


def test_a_retry_that_later_succeeded_is_not_shown_as_a_failure(console):
    async def scenario():
        cluster = canned_cluster()[0]
        base = {"hostname": ALPHA, "utcoffset": 0.0, "pid": 1, "clock": 1}
        cluster.ingest([
            {**base, "type": "task-received", "uuid": "flaky-1", "name": "shop.flaky",
             "args": "()", "kwargs": "{}", "timestamp": NOW - 3, "local_received": NOW - 3},
            {**base, "type": "task-retried", "uuid": "flaky-1", "exception": "KeyError('again')",
             "traceback": "Traceback (most recent call last):\nKeyError: 'again'\n",
             "timestamp": NOW - 2, "local_received": NOW - 2},
            {**base, "type": "task-succeeded", "uuid": "flaky-1", "result": "'done'",
             "runtime": 0.1, "timestamp": NOW - 1, "local_received": NOW - 1},
        ])
        app = console(cluster)
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            screen = await open_task(app, pilot, "flaky-1")
            fields = screen.query_one("#task-fields", Static).content
            labels = [str(cell) for cell in fields.columns[0].cells]
            assert "Exception" not in labels
            assert "Last retry" in labels
            title = screen.query_one("#task-traceback", Static).content.renderables[0]
            assert str(title) == "Traceback of the last retry"
    run(scenario)


def test_task_detail_ids_and_unknown_task(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            screen = await open_task(app, pilot, CHAIN_CHILD_ID)
            fields = screen.query_one("#task-fields", Static).content
            values = dict(zip((str(c) for c in fields.columns[0].cells),
                              (str(c) for c in fields.columns[1].cells), strict=True))
            assert values["Root id"] == CHAIN_ROOT_ID
            assert values["Parent id"] == CHAIN_ROOT_ID
            assert "Traceback" not in values
            assert str(screen.query_one("#task-traceback", Static).content) == ""
            await app.pop_screen()

            screen = await open_task(app, pilot, "no-such-task")
            assert "not in the cluster state" in text_of(screen, "#task-fields")
    run(scenario)


def test_tabs_switch_from_the_keyboard(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("down", "enter")  # beta
            screen = app.screen
            assert isinstance(screen, NodeDetailScreen) and screen.hostname == BETA
            assert app.focused is screen.tables["active"]
            await pilot.press("shift+tab", "right", "right")
            assert screen.active_tab == "scheduled"
            await pilot.press("tab")
            assert app.focused is screen.tables["scheduled"]
            await pilot.press("down")
            assert screen.selected_tasks() == [screen.tables["scheduled"].keys[1]]
    run(scenario)


def test_odd_replies_are_shown_not_fatal(console):
    """Replies of the right outer shape but odd contents (other versions, other tools)."""
    async def scenario():
        cluster, _ = canned_cluster()
        odd = {
            "active": [None, 5, "x", {"id": "odd-1", "time_start": "soon"}, {"id": None}],
            "reserved": [{"delivery_info": "none"}],
            "scheduled": [None, {"request": "x", "eta": 12}],
            "revoked": [None, 7],
            "registered": [None, 3, "a [b"],
            "active_queues": ["celery", None, {"exchange": "direct"}],
            "stats": {"rusage": "N/A", "pool": "prefork", "uptime": "12", "total": {}},
            "conf": {"nested": {"a": [1, 2]}, "none": None},
        }
        for command, reply in odd.items():
            cluster.update_inspect(LEGACY, command, reply, now=NOW)
        app = console(cluster)
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            screen = await open_node(app, pilot, LEGACY)
            for tab in TABS:
                screen.show_tab(tab.id)
                await pilot.pause()
                assert screen.tables[tab.id].row_count >= 1, tab.id
                rows(screen, tab.id)  # every row formats
            active = {row[0]: row for row in rows(screen, "active")}
            assert active["odd-1"][3] == "-"  # "soon" is not a time
            assert len(active) == 4  # two entries without an id read as one row
            await pilot.press("escape")
            nodes = app.query_one("NodesView")
            assert [str(c) for c in nodes._row(LEGACY)][3] == "-"  # pool was not a dict
    run(scenario)


def test_brackets_step_through_the_tabs_and_wrap(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("enter")  # alpha
            screen = app.screen
            assert isinstance(screen, NodeDetailScreen) and screen.active_tab == "active"
            for tab in [*TABS[1:], TABS[0]]:
                await pilot.press("right_square_bracket")
                assert screen.active_tab == tab.id
                # The keys act on the list in front: the focus goes with the tab.
                assert app.focused is screen.tables[tab.id]
            await pilot.press("left_square_bracket")
            assert screen.active_tab == TABS[-1].id
            await pilot.press("left_square_bracket", "left_square_bracket")
            assert screen.active_tab == TABS[-3].id
            # From the tab bar as well (shift+tab puts the focus there).
            await pilot.press("shift+tab", "right_square_bracket")
            assert screen.active_tab == TABS[-2].id
    run(scenario)


def test_space_tags_tasks_and_actions_apply_to_every_tagged_one(console):
    async def scenario():
        app = console()
        sent = []
        app.run_invocation = sent.append  # what would go to the workers
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("enter")  # alpha
            screen = app.screen
            await pilot.press(*["right_square_bracket"] * 3)
            assert screen.active_tab == "revoked"
            revoked = list(screen.tables["revoked"].keys)
            assert revoked[0] == REVOKED_ID and len(revoked) == 3

            # Space tags the row and moves down, as in the lists of the main views.
            await pilot.press("space", "space")
            assert screen.tables["revoked"].tagged == set(revoked[:2])
            assert screen.selected_tasks() == revoked[:2]
            await pilot.press("x")
            await pilot.pause()
            assert [(i.name, i.arguments["task_id"]) for i in sent] == [("revoke", revoked[:2])]

            # Terminate asks for a signal first, the prompt filled with the tagged ids.
            await pilot.press("k")
            await until_screen(pilot, ArgumentsScreen)
            assert app.screen.query_one("#arg-task_id").value == " ".join(revoked[:2])
            await pilot.press("escape")
            await pilot.pause()

            # Space again untags; the selection falls back to the cursor row.
            await pilot.press("up", "space")
            assert screen.tables["revoked"].tagged == {revoked[0]}
            await pilot.press("up", "up", "space")
            assert screen.tables["revoked"].tagged == set()
            assert screen.selected_tasks() == [revoked[1]]  # the cursor moved on

            # Tags belong to their tab: the Active tab's row is acted on alone.
            await pilot.press("left_square_bracket", "left_square_bracket", "space")
            assert screen.active_tab == "reserved"
            assert screen.selected_tasks() == [RESERVED_ID]
            assert screen.check_action("tag", ()) is True

            # Where there is no task to tag, the key is shown dimmed and does nothing.
            screen.show_tab("registered")
            await pilot.pause()
            assert screen.check_action("tag", ()) is None
            await pilot.press("space")
            assert screen.tables["registered"].tagged == set()
            footer_tag = app.screen.active_bindings["space"]
            assert footer_tag.binding.description == "Tag" and not footer_tag.enabled
    run(scenario)


async def until_screen(pilot, kind, tries: int = 50) -> None:
    for _ in range(tries):
        if isinstance(pilot.app.screen, kind):
            return
        await pilot.pause(0.05)
    raise AssertionError(f"no {kind.__name__} came up; screen is {pilot.app.screen!r}")
