"""What the worker does with unknown and malformed input, lost children, limits and pools.

Broker-dependent checks run on the three brokers against the shared worker
(conftest.py); pool and prefetch checks start their own worker.
"""

from __future__ import annotations

import pickle
import time
import uuid

import pytest
from billiard.exceptions import TimeLimitExceeded, WorkerLostError

from tests.integration.helpers import (
    children_of,
    is_redis_kind,
    publish_raw,
    queue_depth,
    read_marker,
    redis_client,
    unacked_for_queue,
    wait_logged,
    wait_until,
)
from tests.support.brokers import broker_urls, unique
from tests.support.testproj import add, die, die_late, hard, limited, now, sleep, soft
from tests.support.workers import client_app, start_worker
from tuiq import NotRegistered


def assert_worker_healthy(sapp, shared):
    """The shared worker is alive and still runs tasks."""
    assert shared.worker.process.poll() is None, shared.worker.log()[-3000:]
    assert add.apply_async((1, 1), queue=shared.queue).get(timeout=10) == 2


# unknown and malformed input -------------------------------------------------------


def test_unknown_task_fails_not_registered_once(sapp, shared):
    name = f"testproj.nope_{uuid.uuid4().hex[:8]}"
    result = sapp.send_task(name, (1,), queue=shared.queue)
    with pytest.raises(NotRegistered) as info:
        result.get(timeout=10)
    assert info.value.args == (name,)
    assert result.state == "FAILURE"
    meta = sapp.backend.get_task_meta(result.id)
    assert meta["result"] == {"exc_type": "NotRegistered", "exc_message": [name],
                              "exc_module": "celery.exceptions"}
    assert_worker_healthy(sapp, shared)
    log = shared.worker.log()
    assert log.count(f"Received unregistered task of type {name!r}") == 1, log[-3000:]
    assert queue_depth(shared.kind, shared.broker_url, shared.queue) == 0
    if is_redis_kind(shared.kind):
        client = redis_client(shared.broker_url)
        try:
            assert not [e for e in unacked_for_queue(client, shared.queue)
                        if e["headers"].get("id") == result.id]
        finally:
            client.close()


def _v2_headers(task_id, name="testproj.add", **extra):
    headers = {"lang": "py", "task": name, "id": task_id, "root_id": task_id,
               "retries": 0, "timelimit": [None, None], "eta": None, "expires": None}
    headers.update(extra)
    return headers


MALFORMED = {
    # case: (headers(id) -> dict, body, publish options, log text)
    "body-not-a-list": (lambda i: _v2_headers(i), {"x": 1}, {"serializer": "json"},
                        "task body must be a 3-item list"),
    "body-two-items": (lambda i: _v2_headers(i), [[1, 2], {}], {"serializer": "json"},
                       "task body must be a 3-item list"),
    "kwargs-not-a-dict": (lambda i: _v2_headers(i), [[1], [2], {}], {"serializer": "json"},
                          "task kwargs must be a mapping"),
    "args-not-a-list": (lambda i: _v2_headers(i), [{"x": 1}, {}, {}], {"serializer": "json"},
                        "task args must be a list"),
    "no-task-header": (lambda i: {"id": i}, [[1, 2], {}, {}], {"serializer": "json"},
                       "no task header and no v1 body"),
    "bad-eta": (lambda i: _v2_headers(i, eta="next tuesday"), [[1, 2], {}, {}],
                {"serializer": "json"}, "invalid ISO-8601 date: 'next tuesday'"),
    "bad-expires": (lambda i: _v2_headers(i, expires="soon"), [[1, 2], {}, {}],
                    {"serializer": "json"}, "invalid ISO-8601 date: 'soon'"),
    "body-null": (lambda i: _v2_headers(i), None, {"serializer": "json"},
                  "task body must be a 3-item list"),
    # Non-numbers in timelimit used to crash billiard's timeout thread and hang the pool.
    "timelimit-not-numbers": (lambda i: _v2_headers(i, timelimit=["x", "y"]), [[1, 2], {}, {}],
                              {"serializer": "json"},
                              "invalid hard time limit in timelimit header: 'x'"),
    "timelimit-negative": (lambda i: _v2_headers(i, timelimit=[None, -1]), [[1, 2], {}, {}],
                           {"serializer": "json"},
                           "invalid soft time limit in timelimit header: -1"),
    "pickle": (lambda i: _v2_headers(i), pickle.dumps(((1, 2), {}, {})),
               {"content_type": "application/x-python-serialize",
                "content_encoding": "binary"},
               "Refusing to deserialize untrusted content of type "
               "application/x-python-serialize"),
    "undecodable-json": (lambda i: _v2_headers(i), b'[[1, 2], {}, {"oops',
                         {"content_type": "application/json", "content_encoding": "utf-8"},
                         "Can't decode message body"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_message_is_dropped_and_worker_survives(sapp, shared, case):
    make_headers, body, options, logged = MALFORMED[case]
    task_id = f"bad-{case}-{uuid.uuid4().hex[:8]}"
    before = shared.worker.log().count(logged)
    publish_raw(shared.broker_url, shared.queue, body, headers=make_headers(task_id),
                **options)
    wait_logged(shared.worker, logged, count=before + 1)
    # A normal task after it still runs; by then a looping message would have shown again.
    assert_worker_healthy(sapp, shared)
    assert add.apply_async((2, 2), queue=shared.queue).get(timeout=10) == 4
    assert shared.worker.log().count(logged) == before + 1, shared.worker.log()[-3000:]
    assert sapp.AsyncResult(task_id).state == "PENDING"
    assert queue_depth(shared.kind, shared.broker_url, shared.queue) == 0


def test_protocol_v1_body_is_accepted(sapp, shared):
    task_id = f"v1-{uuid.uuid4()}"
    publish_raw(shared.broker_url, shared.queue,
                {"task": "testproj.add", "id": task_id, "args": [4, 5], "kwargs": {},
                 "retries": 0, "eta": None, "expires": None},
                headers={}, serializer="json")
    assert sapp.AsyncResult(task_id).get(timeout=10) == 9


def test_minimal_header_message_runs(sapp, shared):
    task_id = f"min-{uuid.uuid4()}"
    publish_raw(shared.broker_url, shared.queue, [[6, 7], {}, {}],
                headers={"task": "testproj.add", "id": task_id}, serializer="json")
    assert sapp.AsyncResult(task_id).get(timeout=10) == 13


# lost children and time limits -----------------------------------------------------


def test_child_exit_is_worker_lost_and_child_replaced(sapp, shared):
    before = set(children_of(shared.worker.pid))
    assert len(before) == 2
    result = die.apply_async((3,), queue=shared.queue)
    with pytest.raises(WorkerLostError, match="exitcode 3"):
        result.get(timeout=15)
    meta = sapp.backend.get_task_meta(result.id)
    assert meta["status"] == "FAILURE"
    assert meta["result"]["exc_type"] == "WorkerLostError"
    assert meta["result"]["exc_module"] == "billiard.exceptions"
    assert meta["traceback"] is None
    # The pool is back to two children, one of them new, and both run tasks.
    wait_until(lambda: len(children_of(shared.worker.pid)) == 2, timeout=10)
    after = set(children_of(shared.worker.pid))
    assert after != before
    results = [now.apply_async(queue=shared.queue) for _ in range(6)]
    assert {r.get(timeout=10)["pid"] for r in results} <= after
    assert_worker_healthy(sapp, shared)


def test_acks_late_reject_on_worker_lost_redelivers(sapp, shared, tmp_path):
    marker = tmp_path / "died-once"
    result = die_late.apply_async((str(marker),), queue=shared.queue)
    assert result.get(timeout=20) == "second run"
    assert marker.exists()
    log = shared.worker.log()
    assert f"[{result.id}] lost its process; requeued" in log
    assert log.count(f"[{result.id}] received") == 2, log[-3000:]
    assert queue_depth(shared.kind, shared.broker_url, shared.queue) == 0


def test_soft_time_limit_is_raised_inside_the_task(sapp, shared):
    result = soft.apply_async(queue=shared.queue)
    started = time.monotonic()
    assert result.get(timeout=10) == "cleaned up"
    assert time.monotonic() - started < 4


def test_soft_time_limit_from_the_message(sapp, shared):
    # timelimit header [hard, soft] overrides the task's own limits.
    result = sleep.apply_async((3,), queue=shared.queue, soft_time_limit=0.3)
    with pytest.raises(Exception) as info:
        result.get(timeout=10)
    assert type(info.value).__name__ == "SoftTimeLimitExceeded"


def test_hard_time_limit_fails_and_next_task_works(sapp, shared):
    result = hard.apply_async(queue=shared.queue)
    with pytest.raises(TimeLimitExceeded):
        result.get(timeout=10)
    meta = sapp.backend.get_task_meta(result.id)
    assert meta["result"]["exc_type"] == "TimeLimitExceeded"
    assert meta["result"]["exc_module"] == "billiard.exceptions"
    wait_until(lambda: len(children_of(shared.worker.pid)) == 2, timeout=10)
    assert_worker_healthy(sapp, shared)


# scheduling -----------------------------------------------------------------------------


def test_eta_tasks_do_not_block_other_tasks(sapp, shared):
    # More ETA tasks than the prefetch count (2 x 4): QoS must grow for them.
    sent = time.time()
    delayed = [now.apply_async(queue=shared.queue, countdown=2.5) for _ in range(10)]
    quick = add.apply_async((1, 2), queue=shared.queue)
    assert quick.get(timeout=10) == 3
    assert time.time() - sent < 2.5, "an immediate task waited behind ETA tasks"
    assert not any(r.ready() for r in delayed)
    for r in delayed:
        assert r.get(timeout=15)["time"] >= sent + 2.5 - 0.01


def test_rate_limit_spaces_executions(sapp, shared):
    results = [limited.apply_async(queue=shared.queue) for _ in range(6)]
    times = sorted(r.get(timeout=15) for r in results)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # 5/s: one every 0.2s. Allow scheduling jitter on each gap, not on the whole span.
    assert times[-1] - times[0] >= 5 * 0.2 - 0.1, times
    assert min(gaps) >= 0.1, gaps


# prefetch and pools (own workers) --------------------------------------------------


def test_prefetch_bound_on_redis(embedded_url, tmp_path):
    broker_url, backend_url = broker_urls("redis", embedded_url)
    queue = unique("prefetch")
    worker = start_worker(tmp_path, broker_url, backend_url, name=unique("pf"),
                          queues=[queue], extra=["-c", "2", "--prefetch-multiplier", "1"])
    app = client_app(broker_url, backend_url)
    client = redis_client(broker_url)
    try:
        # Two ETA tasks are held unacked first; each raises QoS by one (PROTOCOL.md §7.2).
        held = [add.apply_async((0, i), queue=queue, countdown=3) for i in range(2)]
        for r in held:
            wait_until(lambda r=r: f"[{r.id}] received, ETA" in worker.log(), timeout=10)
        slow = [sleep.apply_async((0.4,), queue=queue) for _ in range(10)]
        peak = 0
        while not all(r.ready() for r in slow):
            count = len(unacked_for_queue(client, queue))
            peak = max(peak, count)
            assert count <= 2 + len(held), f"{count} unacked with prefetch 2 and 2 ETA tasks"
            time.sleep(0.01)
        # Held ETA tasks must not use up the prefetch: more than 2 were unacked at once.
        assert peak > len(held), f"peak of {peak} unacked: ETA tasks starved the prefetch"
        assert [r.get(timeout=1) for r in slow] == [0.4] * 10
        assert [r.get(timeout=10) for r in held] == [0, 1]
        wait_until(lambda: not unacked_for_queue(client, queue), timeout=5)
        assert queue_depth("redis", broker_url, queue) == 0
    finally:
        client.close()
        app.close()
        worker.stop()


def test_max_tasks_per_child_replaces_children(embedded_url, tmp_path):
    broker_url, backend_url = broker_urls("redis", embedded_url)
    queue = unique("mtpc")
    worker = start_worker(tmp_path, broker_url, backend_url, name=unique("mtpc"),
                          queues=[queue], extra=["-c", "2", "--max-tasks-per-child", "1"])
    app = client_app(broker_url, backend_url)
    try:
        results = [now.apply_async(queue=queue) for _ in range(8)]
        pids = [r.get(timeout=20)["pid"] for r in results]
        assert len(set(pids)) == 8, pids
        assert worker.pid not in pids
        wait_until(lambda: len(children_of(worker.pid)) == 2, timeout=10)
        assert queue_depth("redis", broker_url, queue) == 0
    finally:
        app.close()
        worker.stop()


@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_threads_and_solo_pools_run_tasks(embedded_url, tmp_path, pool):
    broker_url, backend_url = broker_urls("redis", embedded_url)
    queue = unique(pool)
    worker = start_worker(tmp_path, broker_url, backend_url, name=unique(pool),
                          queues=[queue], extra=["-P", pool, "-c", "2"])
    app = client_app(broker_url, backend_url)
    try:
        assert add.apply_async((2, 3), queue=queue).get(timeout=10) == 5
        with pytest.raises(ValueError, match="boom"):
            app.send_task("testproj.fail", queue=queue).get(timeout=10)
        ran = now.apply_async(queue=queue).get(timeout=10)
        assert ran["pid"] == worker.pid
        started = time.monotonic()
        pair = [sleep.apply_async((0.6,), queue=queue) for _ in range(2)]
        assert [r.get(timeout=10) for r in pair] == [0.6, 0.6]
        elapsed = time.monotonic() - started
        if pool == "threads":
            assert elapsed < 1.1, f"two 0.6s tasks on 2 threads took {elapsed:.2f}s"
        else:
            assert elapsed >= 1.2, f"solo ran two 0.6s tasks in {elapsed:.2f}s"
        assert children_of(worker.pid) == []
        assert worker.stop() == 0
    finally:
        app.close()
        worker.stop()


def test_acks_late_message_stays_unacked_while_running(embedded_url, tmp_path):
    broker_url, backend_url = broker_urls("redis", embedded_url)
    queue = unique("late")
    worker = start_worker(tmp_path, broker_url, backend_url, name=unique("late"),
                          queues=[queue], extra=["-c", "1"])
    app = client_app(broker_url, backend_url)
    client = redis_client(broker_url)
    late_marker, early_marker = tmp_path / "late", tmp_path / "early"

    def unacked_ids():
        return [e["headers"]["id"] for e in unacked_for_queue(client, queue)]

    try:
        late = app.send_task("testproj.late", (1.0, str(late_marker)), queue=queue)
        wait_until(lambda: read_marker(late_marker), timeout=10)
        assert late.id in unacked_ids(), "acks_late message acked before the task ended"
        assert late.get(timeout=10) == 1.0
        wait_until(lambda: not unacked_ids(), timeout=5)
        early = sleep.apply_async((2.0, str(early_marker)), queue=queue)
        wait_until(lambda: read_marker(early_marker), timeout=10)
        # Acknowledged once a pool process has taken it (the main process hears
        # of that a moment later), well before the task ends.
        wait_until(lambda: early.id not in unacked_ids(), timeout=1.5,
                   message="early-ack message still unacked while running")
        assert not early.ready()
        assert early.get(timeout=10) == 2.0
    finally:
        client.close()
        app.close()
        worker.stop()


@pytest.mark.parametrize(("kind", "mingle"), [("embedded", True), ("redis", True),
                                              ("rabbitmq", True), ("rabbitmq", False)],
                         ids=["embedded", "redis", "rabbitmq", "rabbitmq-without-mingle"])
def test_tasks_queued_before_start_wait_for_the_pool_and_all_run(embedded_url, tmp_path,
                                                                 kind, mingle):
    # The pool forks once the worker is connected (and synced); deliveries that
    # come in before that (AMQP delivers during the set-up) are held, not lost.
    queue = unique("early")
    broker_url, backend_url = broker_urls(kind, embedded_url)
    app = client_app(broker_url, backend_url)
    try:
        results = [add.apply_async((i, i), queue=queue) for i in range(20)]
        worker = start_worker(tmp_path, broker_url, backend_url, name=unique("early"),
                              queues=[queue], extra=[] if mingle else ["--without-mingle"])
        try:
            assert [result.get(timeout=15) for result in results] == \
                [2 * i for i in range(20)]
            assert "rejecting it" not in worker.log()
            assert len(children_of(worker.process.pid)) == 2
        finally:
            worker.stop()
    finally:
        app.close()
