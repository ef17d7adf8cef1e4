"""The console's pure parts: command lines, pre-filling, retries, reply summaries, the
feed's buffer and the poll scheduling."""

from __future__ import annotations

import threading
import time

import pytest
from textual.app import App

from tests.tui.app_pilot import pilot_test, until
from tuiq.control.arguments import CommandError
from tuiq.events.models import TaskInfo
from tuiq.tui.actions import retry_request
from tuiq.tui.commands import (
    CommandContext,
    Invocation,
    command_line,
    find,
    needs_prompt,
    parse_line,
    prefill,
)
from tuiq.tui.feed import LiveFeed
from tuiq.tui.poller import Poller, PollResult, queue_names
from tuiq.tui.screens.replies import fits_notification, severity, summary_lines


# -- command lines ---------------------------------------------------------------------------
def test_a_command_line_becomes_wire_arguments():
    invocation = parse_line("revoke a1 b2 --terminate --signal KILL -d w1@h,w2@h -t 2.5")
    assert isinstance(invocation, Invocation)
    assert invocation.name == "revoke"
    assert invocation.arguments == {"task_id": ["a1", "b2"], "terminate": True,
                                    "signal": "KILL"}
    assert invocation.destination == ["w1@h", "w2@h"]
    assert invocation.timeout == 2.5
    assert invocation.destructive


def test_options_take_inline_values_and_aliases_resolve():
    invocation = parse_line("time_limit proj.add --hard=10 --soft 5")
    assert invocation.arguments == {"task_name": "proj.add", "hard": 10.0, "soft": 5.0}
    assert parse_line("dump_reserved").name == "reserved"
    assert parse_line("rate_limit proj.add 0").arguments == {"task_name": "proj.add",
                                                              "rate_limit": "0"}


def test_view_words_are_console_actions():
    assert parse_line("tasks") == "show_view('tasks')"
    assert parse_line("q") == "quit"
    assert parse_line("pause") == "toggle_pause"


@pytest.mark.parametrize(("line", "error"), [
    ("", "type a command, e.g. ping or rate_limit proj.add 10/s"),
    ("nope", "unknown command: 'nope' (ctrl+p lists them)"),
    ("ping 'unclosed", "cannot read the command: No closing quotation"),
    ("ping -d", "ping: -d needs a value"),
    ("ping -t 0", "ping: invalid timeout: '0' (seconds, e.g. 2.5)"),
    ("rate_limit a 5/x", "malformed rate limit: '5/x' (use e.g. 10/s, 100/m, 1000/h, "
                         "or 0 to disable)"),
    ("pool_grow 1 2", "pool_grow takes at most 1 argument(s), got extra: 2"),
    ("retry", "retry: missing argument task_id (usage: retry <task_id...>)"),
    ("purge q1 -d w1", "purge does not take -d/--destination"),
    ("revoke ' '", "malformed task id: ' '"),
])
def test_bad_lines_are_refused_in_one_line(line, error):
    with pytest.raises(CommandError) as caught:
        parse_line(line)
    assert str(caught.value) == error
    assert "\n" not in str(caught.value)


def test_read_only_refuses_only_what_destroys():
    for line in ("shutdown", "pool_restart", "terminate TERM a1", "purge q",
                 "revoke a1 --terminate"):
        with pytest.raises(CommandError, match="is not allowed in read-only mode"):
            parse_line(line, read_only=True)
    assert parse_line("revoke a1", read_only=True).arguments == {"task_id": ["a1"]}
    assert parse_line("rate_limit proj.add 1/s", read_only=True).name == "rate_limit"


# -- pre-filling -----------------------------------------------------------------------------
def test_task_commands_are_prefilled_with_the_selected_tasks_and_go_everywhere():
    context = CommandContext(nodes=("w1@h",), task_ids=("a1", "b2"),
                             task_names=("proj.add",))
    values, destination = prefill(find("revoke"), context)
    assert values == {"task_id": "a1 b2"}
    assert destination == ""
    values, _ = prefill(find("terminate"), context)
    assert values == {"signal": "TERM", "task_id": "a1 b2"}
    values, destination = prefill(find("rate_limit"), context)
    assert values == {"task_name": "proj.add"}
    assert destination == "w1@h"


def test_node_commands_go_to_the_selected_nodes():
    context = CommandContext(nodes=("w1@h", "w2@h"), queues=("q1", "q2"))
    assert prefill(find("pool_grow"), context) == ({}, "w1@h, w2@h")
    assert prefill(find("cancel_consumer"), context) == ({"queue": "q1"}, "w1@h, w2@h")
    # Adding a queue the node already consumes would do nothing: not pre-filled.
    assert prefill(find("add_consumer"), context) == ({}, "w1@h, w2@h")
    assert prefill(find("purge"), context) == ({"queue": "q1 q2"}, "")


def test_keys_send_at_once_unless_something_is_missing():
    assert not needs_prompt(find("pool_grow"), {}, from_key=True)
    assert not needs_prompt(find("revoke"), {"task_id": "a1"}, from_key=True)
    assert needs_prompt(find("revoke"), {}, from_key=True)
    assert needs_prompt(find("terminate"), {"signal": "TERM", "task_id": "a1"}, from_key=True)
    # From the palette, anything with arguments is asked for.
    assert needs_prompt(find("pool_grow"), {}, from_key=False)
    assert not needs_prompt(find("ping"), {}, from_key=False)


def test_the_command_line_for_a_prompt():
    spec = find("revoke")
    line = command_line(spec, {"task_id": "a1 b2", "signal": "KILL"}, "w1@h, w2@h")
    assert line == "revoke a1 b2 --signal KILL -d w1@h,w2@h"
    assert parse_line(line).arguments == {"task_id": ["a1", "b2"], "signal": "KILL"}


# -- retries ---------------------------------------------------------------------------------
def failed_task(args: str | None = "(1, 'two')", kwargs: str | None = "{'three': [3]}",
                state: str = "FAILURE", name: str | None = "proj.add") -> TaskInfo:
    task = TaskInfo("t-1")
    task.name = name
    task.state = state
    task.args = args
    task.kwargs = kwargs
    return task


def test_retry_reads_the_arguments_back_from_their_repr():
    request = retry_request(failed_task(), node_queues=["only"])
    assert (request.name, request.args, request.kwargs) == ("proj.add", [1, "two"],
                                                            {"three": [3]})
    assert request.queue == "only"
    assert retry_request(failed_task(args="[]", kwargs="{}")).args == []
    assert retry_request(failed_task(), node_queues=["a", "b"]).queue is None


@pytest.mark.parametrize(("task", "error"), [
    (failed_task(args="(<object object at 0x7f>,)"),
     "cannot retry t-1: its args (<object object at 0x7f>,) are not plain Python literals"),
    (failed_task(args="('a long value cut sho...',"),
     "cannot retry t-1: its args ('a long value cut sho...', are not plain Python "
     "literals"),
    (failed_task(kwargs="[1]"), "cannot retry t-1: its kwargs [1] are not a dict"),
    (failed_task(args=None),
     "cannot retry t-1: its args are not known (no task-received event was seen)"),
    (failed_task(state="SUCCESS"),
     "cannot retry t-1: it is SUCCESS, only failed, revoked or rejected tasks are retried"),
    (failed_task(name=None),
     "cannot retry t-1: its task name is not known (no task-received event was seen)"),
])
def test_retry_refuses_what_it_cannot_read(task, error):
    with pytest.raises(CommandError) as caught:
        retry_request(task)
    assert str(caught.value) == error


# -- replies ---------------------------------------------------------------------------------
def test_reply_summaries_account_for_every_node():
    replies = {"w2@h": {"error": "unknown task"}, "w1@h": {"ok": "rate limit set"}}
    assert summary_lines("rate_limit", replies, ["w3@h"]) == [
        "w1@h: ok: rate limit set", "w2@h: error: unknown task", "w3@h: no reply"]
    assert severity(replies, []) == "error"
    assert severity({"w1@h": {"ok": "x"}}, ["w3@h"]) == "warning"
    assert severity({}, ["w3@h"]) == "error"
    assert summary_lines("ping", {}, []) == ["no node replied"]
    assert summary_lines("shutdown", {"w1@h": None}, [], cast=True) == ["w1@h: sent"]
    assert fits_notification(replies)
    assert not fits_notification({"w1@h": {"pool": {}, "total": {}}})


def test_queue_names_come_from_active_queues_replies():
    replies = [("w1", "active_queues", [{"name": "a"}, {"name": "b"}]),
               ("w2", "active_queues", [{"name": "b"}, {"name": "c"}, "junk"]),
               ("w2", "stats", {"name": "not a queue"})]
    assert queue_names(replies) == ["a", "b", "c"]


# -- the feed buffer -------------------------------------------------------------------------
class ScriptedReceiver:
    """A receiver that reports a connection, delivers events, then waits for stop."""

    def __init__(self, events, on_event, on_status) -> None:
        self.events = events
        self.on_event = on_event
        self.on_status = on_status

    def run(self, stop: threading.Event) -> None:
        self.on_status("connected", "redis://host/0")
        for event in self.events:
            self.on_event(event)
        self.on_status("disconnected", "Connection refused")
        stop.wait()


def test_the_feed_buffers_events_and_reports_the_connection():
    events = [{"type": "worker-heartbeat", "n": n} for n in range(10)]
    feed = LiveFeed(lambda on_event, on_status: ScriptedReceiver(events, on_event,
                                                                   on_status), max_backlog=4)
    assert not feed.connected and feed.status.detail == "connecting"
    feed.start()
    try:
        deadline = time.monotonic() + 5
        while feed.status.detail != "Connection refused" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not feed.connected and feed.status.ever_connected
        assert [e["n"] for e in feed.drain()] == [6, 7, 8, 9]
        assert feed.dropped == 6
        assert feed.drain() == []
    finally:
        feed.stop()
    assert not feed.running


def test_a_receiver_that_crashes_shows_as_disconnected():
    def broken(on_event, on_status):
        raise RuntimeError("no transport for bogus://")

    feed = LiveFeed(broken)
    feed.start()
    feed.stop()
    assert not feed.connected
    assert feed.status.detail == "event receiver stopped: no transport for bogus://"


# -- polls never overlap ---------------------------------------------------------------------
class PollHost(App[None]):
    """The smallest app a poller runs in."""


@pilot_test
async def test_polls_never_overlap_and_wait_after_each_other():
    running = 0
    most = 0
    spans: list[tuple[float, float]] = []
    applied: list[PollResult] = []
    lock = threading.Lock()

    def slow_poll(snapshot):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        began = time.monotonic()
        time.sleep(0.15)
        with lock:
            running -= 1
        spans.append((began, time.monotonic()))
        return PollResult(replies=[("w1", "stats", {"n": snapshot})])

    app = PollHost()
    async with app.run_test() as pilot:
        poller = Poller(app, slow_poll, applied.append, interval=0.1,
                        snapshot=lambda: len(spans))
        poller.start()
        for _ in range(5):
            poller.poll_now()  # asked again and again while one runs: still one at a time
        await until(pilot, lambda: len(applied) >= 4, timeout=10)
        poller.stop()
    assert most == 1
    for (_, ended), (began, _) in zip(spans, spans[1:], strict=False):
        assert began >= ended
    # The requests made while the first poll ran were folded into one immediate poll;
    # the ones after it waited for the interval.
    assert spans[2][0] - spans[1][1] >= 0.09


def test_the_palette_says_what_a_command_would_be_filled_with():
    from tuiq.tui.commands import selection_hint

    tasks = CommandContext(task_ids=("a1", "b2"), task_names=("proj.add",))
    nodes = CommandContext(nodes=("w1@h",))
    assert selection_hint(find("revoke"), tasks) == "  ·  2 selected tasks"
    assert selection_hint(find("rate_limit"), tasks) == "  ·  proj.add"
    assert selection_hint(find("pool_grow"), nodes) == "  ·  to w1@h"
    assert selection_hint(find("ping"), CommandContext()) == ""
