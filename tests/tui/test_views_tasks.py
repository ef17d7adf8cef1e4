"""Pilot tests of the tasks view over the canned state: filter, sort, tags, open, live diffs."""

from __future__ import annotations

import asyncio
import html
import re

from textual import events
from textual.widgets import Input, Static

from tests.tui.canned import (
    FAILED_ID,
    NOW,
    PENDING_ID,
    REJECTED_ID,
    RETRY_ID,
    RUNNING_LEGACY_ID,
    canned_cluster,
)
from tests.tui.conftest import SNAPSHOT_SIZE
from tuiq.tui.views.task_detail import TaskDetailScreen
from tuiq.tui.views.tasks import TasksView


def run(scenario) -> None:
    asyncio.run(scenario())


def screen_text(app) -> str:
    """What the terminal shows, as text (the screenshot's SVG without its markup)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def status(view: TasksView) -> str:
    return str(view.query_one("#tasks-status", Static).content)


def event(kind: str, uuid: str, at: float, **fields) -> dict:
    return {"type": kind, "uuid": uuid, "hostname": "alpha@web-01", "timestamp": at,
            "local_received": at, "clock": 1, "pid": 4101, "utcoffset": 0.0, **fields}


def test_rows_are_every_task_newest_first(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2")
            view = app.query_one(TasksView)
            keys = list(view.table.keys)
            assert set(keys) == set(app.cluster.tasks)
            received = [app.cluster.tasks[k].received or app.cluster.tasks[k].sent
                        for k in keys]
            assert received == sorted(received, reverse=True)
            assert keys[0] == PENDING_ID  # sent a second ago, the newest
            assert status(view).startswith(f"{len(keys)} tasks")
    run(scenario)


def test_filter_by_name_state_node_id_and_args(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2", "slash", *"billing")
            view = app.query_one(TasksView)
            assert list(view.table.keys) == [FAILED_ID]
            for text, expected in [
                ("state:^retry$", [RETRY_ID]),
                ("node:legacy state:rejected", [REJECTED_ID]),
                (f"id:{FAILED_ID[:13]}", [FAILED_ID]),
                ("args:ada@", [RETRY_ID]),
                ("STATE:Started node:legacy", [RUNNING_LEGACY_ID]),
                ("shop\\.mail\\.(send|cart)", None),
            ]:
                view.query_one("#tasks-filter", Input).value = text
                await pilot.pause()
                shown = list(view.table.keys)
                if expected is None:
                    names = {app.cluster.tasks[k].name for k in shown}
                    assert names == {"shop.mail.send_receipt", "shop.mail.cart_reminder"}
                else:
                    assert shown == expected, text
            await pilot.press("enter")
            assert "2 of" in status(view) and "match" in status(view)
            assert view.table.has_focus  # Enter closes the input, keys act on the rows
    run(scenario)


def test_invalid_regex_is_a_message_not_a_crash(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2", "slash", *"state:fail")
            view = app.query_one(TasksView)
            assert list(view.table.keys) == [FAILED_ID]
            await pilot.press(*" name:[oops")
            assert "invalid regex '[oops'" in status(view)
            # The last good filter still applies; Enter does not close a bad filter.
            assert list(view.table.keys) == [FAILED_ID]
            await pilot.press("enter")
            assert view.query_one("#tasks-filter", Input).has_focus
            await pilot.press(*["backspace"] * 5, *"zzz")
            assert "invalid" not in status(view)
            assert list(view.table.keys) == []
            assert app.is_running
    run(scenario)


def test_escape_clears_the_filter_then_the_tags(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2")
            view = app.query_one(TasksView)
            everything = len(view.table.keys)
            await pilot.press("space", "slash", *"state:success", "enter")
            assert len(view.table.keys) < everything
            assert len(view.table.tagged) == 1
            await pilot.press("escape")
            assert len(view.table.keys) == everything
            assert not view.has_class("filtering")
            assert "match" not in status(view)
            assert len(view.table.tagged) == 1  # the first Esc only drops the filter
            await pilot.press("escape")
            assert view.table.tagged == set()
    run(scenario)


def test_sort_cycles_columns_and_reverses(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2")
            view = app.query_one(TasksView)
            await pilot.press("down", "down")
            under_cursor = view.table.cursor_key
            await pilot.press("s")  # received -> state, ascending
            tasks = app.cluster.tasks
            states = [tasks[k].state for k in view.table.keys]
            assert view.order.sort_column == "state"
            assert states == sorted(states)
            assert view.table.cursor_key == under_cursor  # the cursor kept its task
            await pilot.press("S")
            assert [tasks[k].state for k in view.table.keys] == sorted(states, reverse=True)
            assert "sorted by state, descending" in status(view)
            await pilot.press("s")  # name
            names = [tasks[k].name for k in view.table.keys]
            assert names == sorted(names)
            await pilot.press("s", "s")  # node, then runtime (longest first)
            assert view.order.sort_column == "runtime"
            first = tasks[view.table.keys[0]]
            assert first.uuid == RUNNING_LEGACY_ID or first.runtime is not None
    run(scenario)


def test_space_tags_and_the_selection_follows_tags(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2")
            view = app.query_one(TasksView)
            first, second, third = view.table.keys[:3]
            assert [t.uuid for t in view.selected_tasks()] == [first]  # the cursor row
            await pilot.press("space", "space")
            assert view.table.cursor_key == third  # Space tags and moves down
            assert [t.uuid for t in view.selected_tasks()] == [first, second]
            await pilot.press("up", "space")
            assert [t.uuid for t in view.selected_tasks()] == [first]
            assert "1 tagged" in status(view)
            view.clear_tags()
            assert [t.uuid for t in view.selected_tasks()] == [third]  # back to the cursor
    run(scenario)


def test_enter_opens_the_task_detail(console):
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2", "slash", *"state:failure", "enter", "enter")
            screen = app.screen
            assert isinstance(screen, TaskDetailScreen)
            assert screen.task_id == FAILED_ID
            body = str(screen.query_one("#task-traceback", Static).content.renderables[1].code)
            assert "PaymentDeclined" in body and body.count("\n") >= 8
    run(scenario)


def test_live_changes_update_insert_and_drop_rows(console):
    async def scenario():
        cluster, now = canned_cluster()
        app = console(cluster)
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2")
            view = app.query_one(TasksView)
            before = list(view.table.keys)
            await pilot.press("down", "down", "down")
            held = view.table.cursor_key

            cluster.event(event("task-received", "new-1", NOW + 1, name="shop.new", args="()",
                                kwargs="{}"))
            cluster.event(event("task-succeeded", RUNNING_LEGACY_ID, NOW + 1, result="3",
                                runtime=6.2))
            del cluster.tasks[before[-1]]
            changes = cluster.take_changes()
            changes.evicted_tasks.add(before[-1])
            view.refresh_from(cluster, NOW + 1, changes)
            await pilot.pause()

            keys = list(view.table.keys)
            assert keys[0] == "new-1"
            assert before[-1] not in keys
            assert len(keys) == len(before)
            assert view.table.cursor_key == held  # rows came in above; the cursor stayed put
            cells = view._row(RUNNING_LEGACY_ID)
            assert str(cells[0]) == "SUCCESS" and cells[5] == "6.20s"

            # At the top, the cursor stays on top and shows the newest task.
            await pilot.press("home")
            cluster.event(event("task-received", "new-2", NOW + 2, name="shop.new"))
            view.refresh_from(cluster, NOW + 2, cluster.take_changes())
            assert view.table.cursor_key == "new-2"
    run(scenario)


def test_a_running_task_runtime_follows_the_clock(console):
    async def scenario():
        cluster, _ = canned_cluster()
        app = console(cluster)
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2", "slash", *"state:started node:legacy", "enter")
            view = app.query_one(TasksView)
            assert view._row(RUNNING_LEGACY_ID)[5] == "5.20s"
            view.refresh_from(cluster, NOW + 10, cluster.take_changes())
            assert view._row(RUNNING_LEGACY_ID)[5] == "15.2s"
    run(scenario)


def test_rebuild_after_clear_tasks(console):
    async def scenario():
        cluster, _ = canned_cluster()
        app = console(cluster)
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2", "space")
            view = app.query_one(TasksView)
            cluster.clear_tasks()
            view.refresh_from(cluster, NOW, cluster.take_changes())  # a full_refresh set
            await pilot.pause()
            assert list(view.table.keys) == []
            assert view.table.tagged == set()
            assert view.selected_tasks() == []
            assert "No tasks yet" in screen_text(app)
    run(scenario)


def test_keys_typed_in_one_burst_after_slash_land_in_the_filter(console):
    """A paste or a fast typist: every key is queued before ``/`` has opened the filter."""
    async def scenario():
        app = console()
        async with app.run_test(size=SNAPSHOT_SIZE) as pilot:
            await pilot.press("2")
            for character in "/state:retry":
                key = {"/": "slash", ":": "colon"}.get(character, character)
                app._driver.send_message(events.Key(key, character))
            await pilot.pause()
            view = app.query_one(TasksView)
            assert view.query_one("#tasks-filter", Input).value == "state:retry"
            assert list(view.table.keys) == [RETRY_ID]
            assert view.order.sort_column == "received"  # the "s" did not sort
    run(scenario)
