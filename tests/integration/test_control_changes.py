"""Control commands that change a worker at run time, each against a real worker per broker.

One worker per broker serves the tests of this module (each test restores
what it changes); tests that need a differently started worker start their own.
"""

from __future__ import annotations

import time
import uuid

import pytest

from tests.integration.helpers import OwnWorker, queue_depth, wait_logged
from tests.support.brokers import BROKERS, unique
from tests.support.polling import wait_until
from tuiq import states


@pytest.fixture(scope="module", params=BROKERS)
def node(request, embedded_url, tmp_path_factory):
    """A ``-c 2`` prefork worker of this module's own, per broker."""
    queue = unique("ctl")
    with OwnWorker(tmp_path_factory.mktemp(f"ctl-{request.param}"), request.param,
                   embedded_url, name=unique("ctl"), queues=[queue],
                   extra=["-c", "2"]) as own:
        own.queue = queue
        yield own
        assert own.worker.process.poll() is None, own.worker.log()[-3000:]


def _reply(own, command, timeout=5.0, **arguments):
    name = own.worker.nodename
    replies = own.app.control.broadcast(command, arguments, destination=[name], reply=True,
                                        timeout=timeout)
    assert name in replies, f"{name} did not answer {command}: {own.worker.log()[-2000:]}"
    return replies[name]


def _stats(own):
    return _reply(own, "stats")


def test_rate_limit_is_changed_and_disabled_at_run_time(node):
    add = node.app.tasks["testproj.add"]
    assert _reply(node, "rate_limit", task_name="testproj.add", rate_limit="2/s") == \
        {"ok": "new rate limit set successfully"}
    try:
        started = time.monotonic()
        results = [add.apply_async((i, i), queue=node.queue) for i in range(5)]
        assert [r.get(timeout=30) for r in results] == [0, 2, 4, 6, 8]
        assert time.monotonic() - started >= 1.5  # 5 tasks at 2/s: at least 2 s of tokens
    finally:
        assert _reply(node, "rate_limit", task_name="testproj.add", rate_limit="0") == \
            {"ok": "rate limit disabled successfully"}
    started = time.monotonic()
    results = [add.apply_async((i, 1), queue=node.queue) for i in range(10)]
    assert [r.get(timeout=30) for r in results] == list(range(1, 11))
    assert time.monotonic() - started < 1.5


def test_rate_limit_rejects_bad_strings_and_unknown_tasks(node):
    assert _reply(node, "rate_limit", task_name="testproj.add", rate_limit="fast") == \
        {"error": "Invalid rate limit string: 'fast'"}
    assert _reply(node, "rate_limit", task_name="no.such.task", rate_limit="1/s") == \
        {"error": "unknown task"}


def test_time_limit_applies_to_tasks_started_afterwards(node):
    sleep = node.app.tasks["testproj.sleep"]
    assert _reply(node, "time_limit", task_name="testproj.sleep", soft=0.3, hard=0.6) == \
        {"ok": "time limits set successfully"}
    try:
        result = sleep.apply_async((3,), queue=node.queue)
        with pytest.raises(Exception) as failure:
            result.get(timeout=20)
        assert type(failure.value).__name__ in ("SoftTimeLimitExceeded", "TimeLimitExceeded")
    finally:
        _reply(node, "time_limit", task_name="testproj.sleep", soft=None, hard=None)
    assert sleep.apply_async((0.8,), queue=node.queue).get(timeout=20) == 0.8
    assert _reply(node, "time_limit", task_name="nope", soft=1) == {"error": "unknown task"}


def test_add_and_cancel_consumer_are_idempotent(node):
    extra = unique("extra")
    echo = node.app.tasks["testproj.echo"]
    assert _reply(node, "add_consumer", queue=extra) == {"ok": f"add consumer {extra}"}
    assert _reply(node, "add_consumer", queue=extra) == {"ok": f"add consumer {extra}"}
    names = [q["name"] for q in _reply(node, "active_queues")]
    assert names.count(extra) == 1
    assert echo.apply_async(("via extra",), queue=extra).get(timeout=20) == "via extra"

    assert _reply(node, "cancel_consumer", queue=extra) == \
        {"ok": f"no longer consuming from {extra}"}
    assert _reply(node, "cancel_consumer", queue=extra) == \
        {"ok": f"no longer consuming from {extra}"}
    assert extra not in [q["name"] for q in _reply(node, "active_queues")]
    echo.apply_async(("left waiting",), queue=extra)
    time.sleep(1.0)
    assert queue_depth(node.kind, node.broker_url, extra) == 1


def test_pool_grows_and_shrinks_with_prefetch(node):
    before = _stats(node)
    assert _reply(node, "pool_grow", n=1) == {"ok": "pool will grow"}
    grown = wait_until(lambda: (s := _stats(node)) and len(s["pool"]["processes"]) == 3 and s,
                       timeout=15, message="the pool never reached 3 processes")
    assert grown["pool"]["max-concurrency"] == 3
    assert grown["prefetch_count"] == before["prefetch_count"] + 4
    assert _reply(node, "pool_shrink", n=1) == {"ok": "pool will shrink"}
    shrunk = wait_until(lambda: (s := _stats(node)) and len(s["pool"]["processes"]) == 2 and s,
                        timeout=15, message="the pool never went back to 2 processes")
    assert shrunk["prefetch_count"] == before["prefetch_count"]
    assert node.app.tasks["testproj.add"].apply_async((1, 2), queue=node.queue) \
        .get(timeout=20) == 3


def test_pool_resize_refuses_counts_below_one(node):
    before = _stats(node)["pool"]["max-concurrency"]
    for command in ("pool_grow", "pool_shrink"):
        for n in (-5, 0):
            reply = _reply(node, command, n=n)
            assert "positive whole number" in reply["error"], (command, n, reply)
    assert _stats(node)["pool"]["max-concurrency"] == before


def test_terminate_kills_the_running_task_and_marks_it_revoked(node):
    result = node.app.tasks["testproj.sleep"].apply_async((30,), queue=node.queue)
    wait_until(lambda: any(t["id"] == result.id for t in _reply(node, "active")), timeout=15)
    reply = _reply(node, "terminate", signal="KILL", task_id=result.id)
    assert reply == {"ok": f"terminate: {result.id}"}
    wait_until(lambda: result.state == states.REVOKED, timeout=15,
               message=lambda: f"state is {result.state}")
    assert result.id in _reply(node, "revoked")
    assert _reply(node, "terminate", signal="NOSUCH", task_id=result.id) == \
        {"error": "unknown signal: NOSUCH"}


def test_revoke_by_stamped_headers_discards_matching_tasks(node):
    stamp = uuid.uuid4().hex
    reply = _reply(node, "revoke_by_stamped_headers", headers=[f"batch={stamp}"])
    assert "flagged as revoked" in reply["ok"]
    headers = {"stamped_headers": ["batch"], "stamps": {"batch": stamp}}
    stamped = node.app.tasks["testproj.echo"].apply_async(("x",), queue=node.queue,
                                                         headers=headers)
    other = node.app.tasks["testproj.echo"].apply_async(("y",), queue=node.queue)
    assert other.get(timeout=20) == "y"
    wait_until(lambda: stamped.state == states.REVOKED, timeout=15,
               message=lambda: f"state is {stamped.state}")


def test_events_toggle_and_pool_restart_off_by_default(node):
    assert _reply(node, "enable_events") == {"ok": "task events enabled"}
    assert _reply(node, "enable_events") == {"ok": "task events already enabled"}
    assert _reply(node, "disable_events") == {"ok": "task events disabled"}
    assert _reply(node, "disable_events") == {"ok": "task events already disabled"}
    assert "not enabled" in _reply(node, "pool_restart")["error"]
    assert "Autoscale not enabled" in _reply(node, "autoscale", max=3)["error"]
    assert "gossip" in _reply(node, "election", id="e1", topic="t")["error"]


@pytest.mark.parametrize("kind", BROKERS)
def test_autoscale_grows_under_load_and_obeys_the_range(kind, embedded_url, tmp_path):
    queue = unique("scale")
    with OwnWorker(tmp_path, kind, embedded_url, name=unique("scale"), queues=[queue],
                   extra=["--autoscale", "3,1"]) as own:
        stats = _stats(own)
        assert stats["autoscaler"] == {"max": 3, "min": 1, "current": 1, "qty": 0}
        assert len(stats["pool"]["processes"]) == 1
        sleep = own.app.tasks["testproj.sleep"]
        results = [sleep.apply_async((2,), queue=queue) for _ in range(3)]
        wait_until(lambda: len(_reply(own, "active")) == 3, timeout=20,
                   message="three tasks never ran at once")
        assert _stats(own)["autoscaler"]["current"] == 3
        assert [r.get(timeout=30) for r in results] == [2, 2, 2]
        assert "not supported with autoscale" in _reply(own, "pool_grow")["error"]
        assert _reply(own, "autoscale", max=5, min=2) == {"ok": "autoscale now max=5 min=2"}
        wait_until(lambda: _stats(own)["autoscaler"]["current"] == 2, timeout=20)
        assert "autoscale" in _reply(own, "autoscale", max=1, min=4)["error"]


@pytest.mark.parametrize("kind", BROKERS)
def test_persistent_revokes_survive_a_restart(kind, embedded_url, tmp_path):
    queue = unique("persist")
    name = unique("persist")
    revoked_id = str(uuid.uuid4())
    extra = ["-S", str(tmp_path / "state-%n.db")]
    with OwnWorker(tmp_path, kind, embedded_url, name=name, queues=[queue],
                   extra=extra) as first:
        first.app.control.revoke(revoked_id, destination=[first.worker.nodename])
        wait_until(lambda: revoked_id in _reply(first, "revoked"), timeout=10)
    with OwnWorker(tmp_path, kind, embedded_url, name=name, queues=[queue],
                   extra=[*extra, "--without-mingle"]) as second:
        assert revoked_id in _reply(second, "revoked")
        result = second.app.tasks["testproj.echo"].apply_async(("no",), queue=queue,
                                                               task_id=revoked_id)
        wait_until(lambda: result.state == states.REVOKED, timeout=15,
                   message=lambda: f"state is {result.state}")


@pytest.mark.parametrize("kind", BROKERS)
def test_a_starting_worker_learns_revokes_from_running_ones(kind, embedded_url, tmp_path):
    queue = unique("mingle")
    revoked_id = str(uuid.uuid4())
    with OwnWorker(tmp_path, kind, embedded_url, name=unique("old"), queues=[queue]) as old:
        old.app.control.revoke(revoked_id, destination=[old.worker.nodename])
        wait_until(lambda: revoked_id in _reply(old, "revoked"), timeout=10)
        with OwnWorker(tmp_path, kind, embedded_url, name=unique("new"),
                       queues=[unique("other")]) as new:
            # Mingle runs beside start-up (tasks wait for it): the log says when it is done.
            wait_logged(new.worker, "mingle: sync with")
            assert revoked_id in _reply(new, "revoked")


@pytest.mark.parametrize("kind", BROKERS)
def test_threads_pool_says_it_cannot_terminate(kind, embedded_url, tmp_path):
    queue = unique("threads")
    with OwnWorker(tmp_path, kind, embedded_url, name=unique("threads"), queues=[queue],
                   extra=["-P", "threads", "-c", "2"],
                   env={"TUIQ_WORKER_POOL_RESTARTS": "true"}) as own:
        result = own.app.tasks["testproj.sleep"].apply_async((1,), queue=queue)
        reply = _reply(own, "revoke", task_id=result.id, terminate=True)
        assert "threads pool cannot terminate" in reply["error"]
        assert _reply(own, "pool_grow", n=1) == {"ok": "pool will grow"}
        assert _stats(own)["pool"]["max-concurrency"] == 3
        assert "no processes to restart" in _reply(own, "pool_restart")["error"]


@pytest.mark.parametrize("kind", BROKERS)
def test_pool_restart_replaces_every_process(kind, embedded_url, tmp_path):
    queue = unique("restart")
    with OwnWorker(tmp_path, kind, embedded_url, name=unique("restart"), queues=[queue],
                   extra=["-c", "2"], env={"TUIQ_WORKER_POOL_RESTARTS": "true"}) as own:
        before = set(_stats(own)["pool"]["processes"])
        assert _reply(own, "pool_restart", modules=["tests.support.testproj"]) == \
            {"ok": "reload started"}
        wait_until(lambda: (now := set(_stats(own)["pool"]["processes"])) and len(now) == 2
                   and not now & before, timeout=20,
                   message=lambda: f"processes still {_stats(own)['pool']['processes']}")
        assert own.app.tasks["testproj.add"].apply_async((2, 2), queue=queue) \
            .get(timeout=20) == 4
        assert "cannot import" in _reply(own, "pool_restart", modules=["no_such_mod"])["error"]


def test_terminate_sent_at_once_never_lets_the_task_run_on(node):
    """Whatever the task's stage (in flight, received, handed to the pool), it ends REVOKED."""
    sleep = node.app.tasks["testproj.sleep"]
    for _ in range(5):
        result = sleep.apply_async((30,), queue=node.queue)
        node.app.control.revoke(result.id, destination=[node.worker.nodename],
                                terminate=True, signal="KILL")
        wait_until(lambda result=result: result.state == states.REVOKED, timeout=15,
                   message=lambda result=result: f"state is {result.state}")
    wait_until(lambda: not _reply(node, "active"), timeout=15,
               message="a terminated task is still running")
