"""The console against a real ``-E`` worker on Redis: the live feed, and keys that act.

Each test drives ``TopApp`` with keys, then asks the worker itself (with a control
client of the test's own) whether the command really arrived.
"""

from __future__ import annotations

import pytest

from tests.tui.app_pilot import (
    SIZE,
    filter_tasks,
    pilot_test,
    redis_urls,
    screen_text,
    select_node,
    send_burst,
    start_cluster,
    until,
    worker_until,
)
from tuiq.tui.app import TopApp
from tuiq.tui.screens.confirm import ConfirmScreen
from tuiq.tui.screens.prompt import ArgumentsScreen, SignalPicker
from tuiq.tui.screens.replies import RepliesScreen
from tuiq.tui.views.nodes import NodesView


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory):
    """A ``-E`` worker on Redis shared by this module's tests."""
    broker, backend = redis_urls()
    cluster = start_cluster(tmp_path_factory.mktemp("top-redis"), broker, backend)
    yield cluster
    cluster.close()


def live_console(cluster, **options) -> TopApp:
    """A live console on the cluster's broker, polling often."""
    options.setdefault("refresh", 0.5)
    return TopApp(cluster.app, **options)


async def node_selected(pilot, app: TopApp, node: str) -> None:
    """Wait until the node shows up, and put the nodes view's cursor on it."""
    await select_node(pilot, app.query_one(NodesView), node)


@pilot_test
async def test_live_feed_shows_the_worker_and_its_tasks(redis_cluster):
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        def node_row() -> str:
            return next((line for line in screen_text(app).splitlines()
                         if redis_cluster.node in line), "")

        # Polls may list the node before its first heartbeat: then it is not yet online.
        await until(pilot, lambda: "online" in node_row(),
                    message=lambda: f"the node never showed up online: {node_row()!r}")
        task_id = redis_cluster.send("testproj.add", 20, 22)
        await until(pilot, lambda: getattr(app.cluster.tasks.get(task_id), "state", None)
                    == "SUCCESS", message="no task-succeeded event reached the console")
        await pilot.press("2")
        await until(pilot, lambda: task_id in screen_text(app),
                    message="the task is not in the tasks view")
        row = next(line for line in screen_text(app).splitlines() if task_id in line)
        assert "SUCCESS" in row and "testproj.add" in row


@pilot_test
async def test_rate_limit_from_the_nodes_view(redis_cluster):
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await node_selected(pilot, app, redis_cluster.node)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        # The destination is the node under the cursor.
        assert app.screen.query_one("#destination").value == redis_cluster.node
        await pilot.press(*"testproj.add", "tab", *"7/q", "enter")
        await pilot.pause()
        error = str(app.screen.query_one("#error").content)
        assert error == ("malformed rate limit: '7/q' "
                         "(use e.g. 10/s, 100/m, 1000/h, or 0 to disable)")
        assert isinstance(app.screen, ArgumentsScreen), "a bad value must keep the prompt open"
        assert "testproj.add [rate_limit=7/m]" not in redis_cluster.ask("registered")
        await pilot.press("backspace", "m", "enter")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.replies == {
            redis_cluster.node: {"ok": "new rate limit set successfully"}}
    assert "testproj.add [rate_limit=7/m]" in redis_cluster.ask("registered")


@pilot_test
async def test_time_limit_from_the_tasks_view_prefills_the_task_name(redis_cluster):
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: redis_cluster.node in app.cluster.workers)
        task_id = redis_cluster.send("testproj.echo", "time-limit")
        await until(pilot, lambda: task_id in app.cluster.tasks)
        await filter_tasks(pilot, task_id)
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        assert app.screen.query_one("#arg-task_name").value == "testproj.echo"
        await pilot.press(*"5", "tab", *"9.5", "enter")
        await until(pilot, lambda: app.last_outcome is not None)
    reply = redis_cluster.ask("registered", taskinfoitems=["soft_time_limit", "time_limit"])
    assert "testproj.echo [soft_time_limit=5.0 time_limit=9.5]" in reply


@pilot_test
async def test_pool_grows_and_shrinks_on_keys(redis_cluster):
    def processes() -> int:
        return len(redis_cluster.ask("stats")["pool"]["processes"])

    before = processes()
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await node_selected(pilot, app, redis_cluster.node)
        await pilot.press("plus")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.replies == {redis_cluster.node: {"ok": "pool will grow"}}
        worker_until(lambda: processes() == before + 1, message="the pool did not grow")
        app.last_outcome = None
        await pilot.press("minus")
        await until(pilot, lambda: app.last_outcome is not None)
        worker_until(lambda: processes() == before, message="the pool did not shrink")


@pilot_test
async def test_revoke_from_the_tasks_view(redis_cluster):
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: redis_cluster.node in app.cluster.workers)
        # Held by its countdown, so it is still there to revoke.
        task_id = redis_cluster.send("testproj.add", 1, 1, countdown=300)
        await until(pilot, lambda: task_id in app.cluster.tasks,
                    message="the task-received event never arrived")
        await filter_tasks(pilot, task_id)
        assert [t.uuid for t in app.query_one("#tasks").selected_tasks()] == [task_id]
        await pilot.press("x")
        await until(pilot, lambda: app.last_outcome is not None)
        assert not app.last_outcome.missing
    assert task_id in redis_cluster.ask("revoked")


@pilot_test
async def test_terminate_asks_first_then_kills_with_the_picked_signal(redis_cluster):
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: redis_cluster.node in app.cluster.workers)
        task_id = redis_cluster.send("testproj.sleep", 60)
        await until(pilot, lambda: getattr(app.cluster.tasks.get(task_id), "state", None)
                    == "STARTED", message="the task never started")
        await filter_tasks(pilot, task_id)

        # Cancelled at the confirmation: nothing is sent, the task keeps running.
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        assert isinstance(app.focused, SignalPicker)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "SIGKILL" in screen_text(app)
        await pilot.press("n")
        await pilot.pause(0.5)
        assert app.last_outcome is None
        assert [t["id"] for t in redis_cluster.ask("active")] == [task_id]

        # Confirmed: the worker kills it with SIGKILL.
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        await pilot.press("down", "enter", "y")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.command == "terminate"
        task = await until(pilot, lambda: (t := app.cluster.tasks[task_id]).state == "REVOKED"
                           and t, message="no task-revoked event")
        assert task.terminated is True and task.signum in (9, "9", "SIGKILL")
    assert redis_cluster.ask("active") == []
    assert task_id in redis_cluster.ask("revoked")


@pilot_test
async def test_retry_sends_a_failed_task_again_with_a_new_id(redis_cluster):
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: redis_cluster.node in app.cluster.workers)
        task_id = redis_cluster.send("testproj.fail", "retry me", queue=redis_cluster.queue)
        await until(pilot, lambda: getattr(app.cluster.tasks.get(task_id), "state", None)
                    == "FAILURE", message="the task never failed")
        await filter_tasks(pilot, "retry me")
        await pilot.press("R")

        def resent():
            return [t for t in app.cluster.tasks.values()
                    if t.uuid != task_id and t.args == "('retry me',)" and t.state == "FAILURE"]

        again = await until(pilot, resent, message="the retried task never ran")
        assert again[0].name == "testproj.fail"
        assert again[0].hostname == redis_cluster.node
        assert app.last_outcome.lines == [
            f"testproj.fail {task_id} sent again as {again[0].uuid} ({redis_cluster.queue})"]


@pilot_test
async def test_retry_refuses_a_task_that_did_not_fail(redis_cluster):
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: redis_cluster.node in app.cluster.workers)
        task_id = redis_cluster.send("testproj.add", 2, 2)
        await until(pilot, lambda: getattr(app.cluster.tasks.get(task_id), "state", None)
                    == "SUCCESS")
        await filter_tasks(pilot, task_id)
        count = len(app.cluster.tasks)
        await pilot.press("R")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.lines == [
            f"cannot retry {task_id}: it is SUCCESS, only failed, revoked or rejected tasks "
            "are retried"]
        await pilot.pause(1.0)
        assert len(app.cluster.tasks) == count


@pilot_test
async def test_add_and_cancel_a_consumer(redis_cluster):
    extra = f"{redis_cluster.queue}-extra"

    def consumed() -> list[str]:
        return [q["name"] for q in redis_cluster.ask("active_queues")]

    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await node_selected(pilot, app, redis_cluster.node)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        await pilot.press("ctrl+u", *extra, "enter")
        await until(pilot, lambda: app.last_outcome is not None)
        assert extra in consumed()
        app.last_outcome = None
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        await pilot.press("ctrl+u", *extra, "enter")
        await until(pilot, lambda: app.last_outcome is not None)
    assert consumed() == [redis_cluster.queue]


@pilot_test
async def test_events_off_and_on_again(redis_cluster):
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await node_selected(pilot, app, redis_cluster.node)
        await pilot.press("E")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.replies == {redis_cluster.node: {"ok": "task events disabled"}}
        quiet = redis_cluster.send("testproj.add", 3, 4)
        worker_until(lambda: redis_cluster.app.AsyncResult(quiet).ready())
        app.last_outcome = None
        await pilot.press("e")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.replies == {redis_cluster.node: {"ok": "task events enabled"}}
        loud = redis_cluster.send("testproj.add", 5, 6)
        await until(pilot, lambda: loud in app.cluster.tasks)
        assert quiet not in app.cluster.tasks


@pilot_test
async def test_command_mode_shows_every_reply_and_the_silent_nodes(redis_cluster):
    ghost = "ghost@nowhere"
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        send_burst(app, f":ping -d {redis_cluster.node},{ghost} -t 0.5", "enter")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.replies == {redis_cluster.node: {"ok": "pong"}}
        assert app.last_outcome.missing == [ghost]
        await until(pilot, lambda: f"{ghost}: no reply" in screen_text(app),
                    message=lambda: screen_text(app))
        assert f"{redis_cluster.node}: ok: pong" in screen_text(app)

        app.last_outcome = None
        send_burst(app, f":stats -d {redis_cluster.node}", "enter")
        await until(pilot, lambda: isinstance(app.screen, RepliesScreen)
                    and f"{redis_cluster.node}: stats" in screen_text(app),
                    message=lambda: screen_text(app))
        shown = screen_text(app)
        assert "pool.max-concurrency" in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, RepliesScreen)


@pilot_test
async def test_detail_screens_act_on_what_they_show(redis_cluster):
    from tuiq.tui.views.node_detail import NodeDetailScreen
    from tuiq.tui.views.task_detail import TaskDetailScreen

    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await node_selected(pilot, app, redis_cluster.node)
        running = redis_cluster.send("testproj.sleep", 60)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, NodeDetailScreen))
        detail = app.screen
        # The Active tab lists the running task once a poll has brought it.
        await until(pilot, lambda: detail.selected_tasks() == [running],
                    message=lambda: f"active tab: {detail.selected_tasks()}")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        assert app.screen.query_one("#arg-task_id").value == running
        await pilot.press("enter", "y")
        await until(pilot, lambda: app.last_outcome is not None)
        worker_until(lambda: redis_cluster.ask("active") == [], message="still running")

        # Keys of the node detail go to that node.
        app.last_outcome = None
        await pilot.press("P")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.replies == {redis_cluster.node: {"ok": "pong"}}
        await pilot.press("escape")
        assert not isinstance(app.screen, NodeDetailScreen)

        # The task detail retries the task it shows.
        failed = redis_cluster.send("testproj.fail", "from the detail")
        await until(pilot, lambda: getattr(app.cluster.tasks.get(failed), "state", None)
                    == "FAILURE")
        await filter_tasks(pilot, failed)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TaskDetailScreen))
        app.last_outcome = None
        await pilot.press("R")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.lines[0].startswith(f"testproj.fail {failed} sent again as ")


@pilot_test
async def test_an_action_applies_to_every_tagged_row(redis_cluster):
    from tests.support.brokers import unique

    marker = unique("tagged")
    app = live_console(redis_cluster)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: redis_cluster.node in app.cluster.workers)
        ids = [redis_cluster.send("testproj.echo", marker, countdown=300) for _ in range(3)]
        await until(pilot, lambda: all(i in app.cluster.tasks for i in ids))
        await filter_tasks(pilot, marker)
        await pilot.press("home", "space", "down", "space")
        tagged = [t.uuid for t in app.query_one("#tasks").selected_tasks()]
        assert len(tagged) == 2 and set(tagged) < set(ids)
        await pilot.press("x")
        await until(pilot, lambda: app.last_outcome is not None)
    revoked = redis_cluster.ask("revoked")
    assert set(tagged) <= set(revoked)
    assert not (set(ids) - set(tagged)) & set(revoked)
