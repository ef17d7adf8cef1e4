"""``tuiq inspect|control|status|purge`` and the ControlClient against real tuiq workers.

Other tests' workers may share the broker, so broadcasts without a destination
only check that the shared worker is among the replies.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.helpers import queue_depth, tuiq_cli
from tests.support.brokers import unique
from tuiq.control.client import ControlClient
from tuiq.exceptions import TaskRevokedError

DEAD_BROKER = "redis://127.0.0.1:1/0"


def _cli(shared, *args: str, timeout: float = 60):
    return tuiq_cli(["-b", shared.broker_url, *args], timeout=timeout)


def _one_line_error(result) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_inspect_ping_json_with_destination(shared):
    node = shared.worker.nodename
    started = time.monotonic()
    result = _cli(shared, "inspect", "ping", "-d", node, "-t", "10", "-j")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {node: {"ok": "pong"}}
    # The node answered at once: the 10 s timeout was never waited for.
    assert elapsed < 5


def test_options_may_come_before_the_subcommand(shared):
    node = shared.worker.nodename
    result = _cli(shared, "inspect", "-j", "-d", node, "-t", "10", "ping")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {node: {"ok": "pong"}}
    # Destinations given before and after the subcommand add up.
    both = _cli(shared, "inspect", "-d", "nobody@nowhere", "ping", "-d", node, "-j", "-t", "1")
    assert both.returncode == 1
    assert json.loads(both.stdout) == {node: {"ok": "pong"}}
    assert "nobody@nowhere" in both.stderr


def test_client_returns_when_every_destination_replied(shared, sapp):
    node = shared.worker.nodename
    with ControlClient(sapp) as client:
        client.broadcast("ping", destination=[node], reply=True, timeout=5)  # warm up
        started = time.monotonic()
        replies = client.broadcast("ping", destination=[node], reply=True, timeout=5)
        elapsed = time.monotonic() - started
    assert replies == {node: {"ok": "pong"}}
    assert replies.missing == []
    assert elapsed < 0.5


def test_client_without_destination_waits_only_for_the_live_nodes(shared, sapp):
    node = shared.worker.nodename
    with ControlClient(sapp) as client:
        started = time.monotonic()
        replies = client.broadcast("registered", reply=True, timeout=10)
        elapsed = time.monotonic() - started
    assert "testproj.add" in replies[node]
    assert elapsed < 3


def test_silent_destination_is_reported(shared, sapp):
    node, ghost = shared.worker.nodename, unique("ghost") + "@nowhere"
    with ControlClient(sapp) as client:
        replies = client.broadcast("ping", destination=[node, ghost], reply=True, timeout=0.5)
    assert replies == {node: {"ok": "pong"}}
    assert replies.missing == [ghost]
    result = _cli(shared, "inspect", "ping", "-d", f"{node},{ghost}", "-t", "0.5")
    assert _one_line_error(result) == f"Error: no reply from {ghost}"
    assert node in result.stdout and f"No reply from: {ghost}" in result.stdout


def test_unknown_command_reply_is_kept_as_data(shared, sapp):
    node = shared.worker.nodename
    with ControlClient(sapp) as client:
        replies = client.broadcast("no_such_command", destination=[node], reply=True, timeout=5)
    assert "error" in replies[node]
    assert list(replies.errors()) == [node]


def test_control_revoke_then_the_task_is_discarded(shared, sapp):
    node = shared.worker.nodename
    task_id = unique("cli-revoked")
    result = _cli(shared, "control", "revoke", task_id, "-d", node, "-t", "10", "-j")
    assert result.returncode == 0, result.stderr
    [reply] = json.loads(result.stdout)
    assert task_id in reply[node]["ok"]
    sent = sapp.send_task("testproj.add", (1, 2), queue=shared.queue, task_id=task_id)
    with pytest.raises(TaskRevokedError):
        sent.get(timeout=15)


def test_inspect_registered_table(shared):
    result = _cli(shared, "inspect", "registered", "-d", shared.worker.nodename, "-t", "10")
    assert result.returncode == 0, result.stderr
    assert f"{shared.worker.nodename}: registered" in result.stdout
    assert "testproj.add" in result.stdout


def test_status_lists_the_worker(shared):
    result = _cli(shared, "status", "-t", "5")
    assert result.returncode == 0, result.stderr
    assert f"{shared.worker.nodename}: OK" in result.stdout
    assert "online." in result.stdout


def test_purge_counts_deleted_messages(shared, sapp):
    queue = unique("purge")
    for n in range(3):
        sapp.send_task("testproj.add", (n, n), queue=queue)
    assert queue_depth(shared.kind, shared.broker_url, queue) == 3
    result = _cli(shared, "purge", "-f", "-Q", queue)
    assert result.returncode == 0, result.stderr
    assert f"{queue}: 3 messages deleted" in result.stdout
    assert queue_depth(shared.kind, shared.broker_url, queue) == 0


def test_purge_asks_first(shared, sapp):
    queue = unique("purge-ask")
    sapp.send_task("testproj.add", (1, 1), queue=queue)
    result = tuiq_cli(["-b", shared.broker_url, "purge", "-Q", queue], timeout=30)
    # No answer on stdin: nothing is deleted.
    assert result.returncode == 1
    assert queue_depth(shared.kind, shared.broker_url, queue) == 1
    assert _cli(shared, "purge", "-f", "-Q", queue).returncode == 0


@pytest.mark.parametrize(("args", "message"), [
    (["inspect", "nope"], "Error: unknown inspect command: 'nope' (see tuiq inspect --help)"),
    (["inspect", "revoke", "x"], "Error: revoke is a control command: use tuiq control revoke"),
    (["control", "revoke", "bad id"], "Error: malformed task id: 'bad id'"),
    (["control", "rate_limit", "testproj.add", "ten/s"],
     "Error: malformed rate limit: 'ten/s' (use e.g. 10/s, 100/m, 1000/h, or 0 to disable)"),
])
def test_bad_command_lines(shared, args, message):
    assert _one_line_error(_cli(shared, *args)) == message


def test_no_node_answered(shared):
    ghost = unique("ghost") + "@nowhere"
    result = _cli(shared, "inspect", "stats", "-d", ghost, "-t", "0.3")
    assert _one_line_error(result) == f"Error: no reply from {ghost}"
    # Commands without replies ping first: a silent node is named, nothing is sent.
    result = _cli(shared, "control", "shutdown", "-d", ghost, "-t", "0.3")
    assert _one_line_error(result) == f"Error: no reply from {ghost}"
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["inspect", "ping"], ["control", "revoke", "abc"],
                                     ["status"], ["purge", "-f"]])
def test_unreachable_broker(command):
    result = tuiq_cli(["-b", DEAD_BROKER, *command], timeout=30)
    assert _one_line_error(result) == \
        "Error: cannot reach broker redis://127.0.0.1:1/0: Connection refused"


def test_app_commands_appear_in_help():
    for args in (["inspect", "-A", "tests.support.usercmds_app", "--help"],
                 ["-A", "tests.support.usercmds_app", "inspect", "--help"]):
        result = tuiq_cli(args, timeout=30)
        assert result.returncode == 0, result.stderr
        assert "user_hello" in result.stdout and "Say hello from a user-defined" in result.stdout
    assert "user_hello" not in tuiq_cli(["inspect", "--help"], timeout=30).stdout


def test_on_redis_a_broadcast_ends_once_every_node_that_got_it_replied(shared, sapp):
    node = shared.worker.nodename
    with ControlClient(sapp) as client:
        client.broadcast("ping", reply=True, timeout=5)  # warm up
        started = time.monotonic()
        # A long settle: only the count of receivers can end this wait early.
        replies = client.broadcast("ping", reply=True, timeout=10, settle=2.0)
        elapsed = time.monotonic() - started
    assert replies[node] == {"ok": "pong"}
    if shared.kind == "rabbitmq":
        # RabbitMQ does not say how many queues a fanout reached: the settle is waited.
        assert elapsed >= 2.0
    else:
        assert elapsed < 1.0
