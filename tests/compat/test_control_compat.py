"""tuiq's control client and CLI against a real Celery 5.7 worker (Redis and RabbitMQ).

Replies must equal what Celery's own client gets, and tuiq's client must return
as soon as every destination answered instead of waiting out the timeout.
"""

from __future__ import annotations

import json
import time

import pytest
from celery.exceptions import TaskRevokedError

from tests.compat.helpers import delete_queues, get_result
from tests.integration.helpers import tuiq_cli
from tests.support.brokers import unique
from tuiq.control.client import ControlClient


@pytest.fixture
def client(tuiq_client):
    """A ControlClient on the broker under test, closed afterwards."""
    with ControlClient(tuiq_client) as control:
        yield control


def _cli(env, *args: str):
    return tuiq_cli(["-b", env.broker_url, *args], timeout=60)


def _json(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.mark.parametrize("command", ["ping", "registered", "active_queues", "active",
                                     "reserved", "scheduled", "revoked"])
def test_replies_equal_celerys_own_client(env, client, celery_client, celery_node, command):
    node = celery_node.name
    theirs = getattr(celery_client.control.inspect(destination=[node], timeout=5), command)()
    ours = client.inspect(destination=[node], timeout=5)._request(command)
    assert ours == theirs
    assert ours.missing == []


def test_stats_shape(env, client, celery_node):
    node = celery_node.name
    stats = client.inspect(destination=[node], timeout=5).stats()[node]
    assert {"total", "pid", "clock", "pool", "broker", "prefetch_count"} <= set(stats)


def test_early_return_with_destination(env, client, celery_client, celery_node):
    node = celery_node.name
    client.ping(destination=[node], timeout=5)  # connection and reply queue warmed up
    started = time.monotonic()
    replies = client.broadcast("stats", destination=[node], reply=True, timeout=5)
    ours = time.monotonic() - started
    assert node in replies
    assert ours < 1.0, f"took {ours:.3f}s with a 5 s timeout"


def test_early_return_without_destination(env, client, celery_node):
    started = time.monotonic()
    replies = client.broadcast("ping", reply=True, timeout=5)
    elapsed = time.monotonic() - started
    assert replies[celery_node.name] == {"ok": "pong"}
    assert elapsed < 2.5, f"took {elapsed:.3f}s with a 5 s timeout"


def test_cli_inspect_matches_celery_json(env, celery_client, celery_node):
    node = celery_node.name
    for command in ("ping", "registered", "active_queues"):
        ours = _json(_cli(env, "inspect", command, "-d", node, "-t", "5", "-j"))
        theirs = getattr(celery_client.control.inspect(destination=[node], timeout=5),
                         command)()
        assert ours == theirs, command
    stats = _json(_cli(env, "inspect", "stats", "-d", node, "-t", "5", "-j"))
    assert stats[node]["pid"] > 0


def test_cli_revoke_marks_the_task_revoked(env, celery_client, celery_node, celery_queue):
    node = celery_node.name
    task_id = unique("compat-revoked")
    [reply] = _json(_cli(env, "control", "revoke", task_id, "-d", node, "-t", "5", "-j"))
    assert task_id in reply[node]["ok"]
    revoked = _json(_cli(env, "inspect", "revoked", "-d", node, "-t", "5", "-j"))
    assert task_id in revoked[node]
    result = celery_client.send_task("testproj.add", (1, 2), queue=celery_queue,
                                     task_id=task_id)
    with pytest.raises(TaskRevokedError):
        get_result(result, celery_node, timeout=10)
    assert result.state == "REVOKED"


def test_cli_rate_limit_and_unknown_task_error(env, celery_node):
    node = celery_node.name
    [ok] = _json(_cli(env, "control", "rate_limit", "testproj.echo", "100/m", "-d", node,
                      "-t", "5", "-j"))
    assert ok == {node: {"ok": "new rate limit set successfully"}}
    result = _cli(env, "control", "rate_limit", "no.such.task", "10/s", "-d", node, "-t", "5")
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: 1 node(s) replied with an error"
    assert "unknown task" in result.stdout


def test_cli_add_and_cancel_consumer(env, client, celery_node):
    node, queue = celery_node.name, unique("compat-added")
    [added] = _json(_cli(env, "control", "add_consumer", queue, "-d", node, "-t", "5", "-j"))
    assert added == {node: {"ok": f"add consumer {queue}"}}
    deadline = time.monotonic() + 10
    names: list[str] = []
    while time.monotonic() < deadline and queue not in names:
        names = [q["name"] for q in
                 client.inspect(destination=[node], timeout=5).active_queues()[node]]
    assert queue in names
    [cancelled] = _json(_cli(env, "control", "cancel_consumer", queue, "-d", node, "-t", "5",
                             "-j"))
    assert cancelled == {node: {"ok": f"no longer consuming from {queue}"}}
    delete_queues(env, [queue])


def test_status_lists_the_celery_worker(env, celery_node):
    result = _cli(env, "status", "-t", "5")
    assert result.returncode == 0, result.stderr
    assert f"{celery_node.name}: OK" in result.stdout
