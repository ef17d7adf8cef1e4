"""Every inspect command against a real worker on each broker, checked for Celery's reply shapes."""

from __future__ import annotations

import time
import uuid

from tests.support.polling import wait_until

RUSAGE_FIELDS = {"utime", "stime", "maxrss", "ixrss", "idrss", "isrss", "minflt", "majflt",
                 "nswap", "inblock", "oublock", "msgsnd", "msgrcv", "nsignals", "nvcsw",
                 "nivcsw"}
TASK_INFO_FIELDS = {"id", "name", "type", "args", "kwargs", "hostname", "time_start",
                    "acknowledged", "delivery_info", "worker_pid"}


def _inspect(app, node, timeout=5.0):
    return app.control.inspect(destination=[node], timeout=timeout)


def _one(replies, node):
    assert node in replies, f"{node} did not answer: {replies!r}"
    return replies[node]


def test_stats_has_every_field_celery_reports(shared, sapp):
    node = shared.worker.nodename
    stats = _one(_inspect(sapp, node).stats(), node)
    assert {"total", "pid", "clock", "uptime", "pool", "broker", "prefetch_count",
            "rusage"} <= set(stats)
    assert stats["pid"] == shared.worker.pid
    assert isinstance(stats["clock"], str) and int(stats["clock"]) > 0
    assert set(stats["rusage"]) == RUSAGE_FIELDS
    pool = stats["pool"]
    assert pool["max-concurrency"] == 2 and len(pool["processes"]) == 2
    assert pool["timeouts"] == [0, 0]
    assert stats["prefetch_count"] >= 8  # 2 processes x multiplier 4
    assert stats["broker"]["transport"] in ("redis", "amqp")
    assert "password" not in stats["broker"]


def test_stats_total_counts_accepted_tasks_by_name(shared, sapp):
    node = shared.worker.nodename
    before = _one(_inspect(sapp, node).stats(), node)["total"].get("testproj.echo", 0)
    sapp.tasks["testproj.echo"].apply_async((1,), queue=shared.queue).get(timeout=20)
    after = _one(_inspect(sapp, node).stats(), node)["total"]["testproj.echo"]
    assert after == before + 1


def test_active_scheduled_and_query_task_show_where_tasks_are(shared, sapp):
    node = shared.worker.nodename
    running = sapp.tasks["testproj.sleep"].apply_async((3,), queue=shared.alt_queue)
    later = sapp.tasks["testproj.echo"].apply_async(("later",), queue=shared.alt_queue,
                                                    countdown=30)
    try:
        inspect = _inspect(sapp, node)
        wait_until(lambda: any(t["id"] == running.id for t in _one(inspect.active(), node)),
                   timeout=15, message="the sleeping task never showed as active")
        info = next(t for t in _one(inspect.active(), node) if t["id"] == running.id)
        assert set(info) >= TASK_INFO_FIELDS
        assert info["type"] == "testproj.sleep" and info["args"] == [3]
        assert info["worker_pid"] in _one(inspect.stats(), node)["pool"]["processes"]
        assert info["acknowledged"] is True and info["time_start"] > 0

        safe = next(t for t in _one(inspect.active(safe=True), node) if t["id"] == running.id)
        assert safe["args"] == "(3,)"

        scheduled = _one(inspect.scheduled(), node)
        entry = next(e for e in scheduled if e["request"]["id"] == later.id)
        assert entry["eta"] and entry["priority"] == 6

        where = _one(inspect.query_task(running.id, later.id, "no-such-id"), node)
        assert where[running.id][0] == "active"
        assert where[later.id][0] == "scheduled"
        assert "no-such-id" not in where
    finally:
        sapp.control.revoke(later.id)
    assert running.get(timeout=20) == 3


def test_reserved_lists_tasks_waiting_for_a_process(shared, sapp):
    node = shared.worker.nodename
    sleepers = [sapp.tasks["testproj.sleep"].apply_async((2,), queue=shared.alt_queue)
                for _ in range(3)]
    inspect = _inspect(sapp, node)
    wait_until(lambda: len(_one(inspect.active(), node)) == 2, timeout=15,
               message="two tasks never ran at once")
    reserved = _one(inspect.reserved(), node)
    assert [t["id"] for t in reserved] == [sleepers[2].id]
    assert reserved[0]["time_start"] is None
    for result in sleepers:
        assert result.get(timeout=20) == 2


def test_registered_shows_requested_attributes(shared, sapp):
    node = shared.worker.nodename
    inspect = _inspect(sapp, node)
    names = _one(inspect.registered(), node)
    assert "testproj.add" in names and "testproj.limited [rate_limit=5/s]" in names
    assert not any(name.startswith("celery.") for name in names)
    detailed = _one(inspect.registered("rate_limit", "acks_late"), node)
    assert "testproj.late [acks_late=True]" in detailed
    with_builtins = _one(inspect.registered(builtins=True), node)
    assert any(name.startswith("celery.") for name in with_builtins)


def test_active_queues_conf_report_clock_and_memory(shared, sapp):
    node = shared.worker.nodename
    inspect = _inspect(sapp, node)
    queues = _one(inspect.active_queues(), node)
    assert {q["name"] for q in queues} == {shared.queue, shared.alt_queue}
    assert {"exchange", "routing_key", "durable", "bindings"} <= set(queues[0])
    conf = _one(inspect.conf(with_defaults=True), node)
    assert conf["worker_prefetch_multiplier"] == 4
    assert "tuiq" in _one(inspect.report(), node)["ok"]
    first = _one(inspect.clock(), node)["clock"]
    assert _one(inspect.clock(), node)["clock"] > first
    sample = _one(inspect.memsample(), node)
    assert sample.endswith("MB") and float(sample[:-2]) > 1
    assert "Memory samples" in _one(inspect.memdump(), node)


def test_hello_merges_ids_both_ways_in_every_form(shared, sapp):
    node = shared.worker.nodename
    inspect = _inspect(sapp, node)
    listed, old_style = str(uuid.uuid4()), str(uuid.uuid4())
    reply = _one(inspect.hello(from_node="other@host", revoked=[listed]), node)
    assert listed in reply["revoked"] and isinstance(reply["clock"], int)
    reply = _one(inspect.hello(from_node="other@host", revoked={old_style: [1.0, old_style]}),
                 node)
    assert old_style in reply["revoked"]
    assert _one(inspect.hello(from_node=node, revoked=[]), node) is None
    assert {listed, old_style} <= set(_one(inspect.revoked(), node))


def test_unknown_command_and_bad_arguments_are_errors_not_crashes(shared, sapp):
    node = shared.worker.nodename
    replies = sapp.control.broadcast("no_such_command", destination=[node], reply=True,
                                     timeout=5)
    assert "unknown command" in replies[node]["error"]
    replies = sapp.control.broadcast("rate_limit", {"nope": 1}, destination=[node],
                                     reply=True, timeout=5)
    assert "bad arguments" in replies[node]["error"]
    assert _one(_inspect(sapp, node).ping(), node) == {"ok": "pong"}


def test_replies_come_back_without_waiting_for_the_timeout(shared, sapp):
    node = shared.worker.nodename
    started = time.monotonic()
    _one(_inspect(sapp, node, timeout=10).stats(), node)
    assert time.monotonic() - started < 2
