"""Result states and values as the worker stores them (PROTOCOL.md §5.1, §7.4).

Every test runs on the three brokers against the shared worker; results go to
Redis (or the embedded Valkey) in Celery's format.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import pytest

from tests.integration.helpers import (
    children_of,
    read_marker,
    redis_client,
    wait_logged,
    wait_until,
)
from tests.support.testproj import (
    add,
    echo,
    fail,
    ignore,
    progress,
    quiet,
    reject,
    retry_once,
    sleep,
    state_then_ignore,
    tracked,
)
from tuiq import Reject


@contextmanager
def published_states(app, task_id):
    """Collect every state the backend PUBLISHes for ``task_id`` (in order)."""
    client = redis_client(app.backend_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"celery-task-meta-{task_id}")
    seen: list[dict] = []

    def drain() -> list[dict]:
        while True:
            message = pubsub.get_message(timeout=0.05)
            if message is None:
                return seen
            if message["type"] == "message":
                seen.append(json.loads(message["data"]))

    try:
        yield drain
    finally:
        pubsub.close()
        client.close()


def raw_meta(app, task_id):
    """The stored meta as JSON, or None when the key does not exist."""
    client = redis_client(app.backend_url)
    try:
        value = client.get(f"celery-task-meta-{task_id}")
    finally:
        client.close()
    return None if value is None else json.loads(value)


def test_success_value_and_meta(sapp, shared):
    result = echo.apply_async(({"a": [1, 2.5, "x", None, True]},), queue=shared.queue)
    assert result.get(timeout=10) == {"a": [1, 2.5, "x", None, True]}
    assert result.state == "SUCCESS"
    assert result.successful() and result.ready() and not result.failed()
    meta = raw_meta(sapp, result.id)
    assert set(meta) >= {"status", "result", "traceback", "children", "date_done", "task_id"}
    assert meta["status"] == "SUCCESS"
    assert meta["traceback"] is None
    assert meta["children"] == []
    assert meta["task_id"] == result.id
    assert meta["date_done"].endswith("+00:00")


def test_failure_is_reraised_with_type_and_traceback(sapp, shared):
    result = fail.apply_async(("kaput",), queue=shared.queue)
    with pytest.raises(ValueError, match="kaput"):
        result.get(timeout=10)
    assert result.state == "FAILURE"
    assert result.failed()
    assert isinstance(result.result, ValueError)
    assert "Traceback (most recent call last)" in result.traceback
    assert 'raise ValueError(message)' in result.traceback
    meta = raw_meta(sapp, result.id)
    assert meta["result"] == {"exc_type": "ValueError", "exc_message": ["kaput"],
                              "exc_module": "builtins"}
    # propagate=False hands back the exception instead of raising it.
    assert isinstance(result.get(timeout=1, propagate=False), ValueError)


def test_custom_progress_state_visible_while_running(sapp, shared):
    result = progress.apply_async((4, 0.4), queue=shared.queue)
    seen = wait_until(lambda: result.state == "PROGRESS" and result.info, timeout=10,
                      interval=0.02, message="PROGRESS never seen")
    assert seen["total"] == 4
    assert 0 <= seen["current"] < 4
    assert not result.ready()
    assert result.get(timeout=10) == 4
    assert result.state == "SUCCESS"


def test_track_started_reports_pid_and_hostname(sapp, shared):
    result = tracked.apply_async((1.0,), queue=shared.queue)
    wait_until(lambda: result.state == "STARTED", timeout=10, interval=0.02,
               message="STARTED never seen")
    info = result.info
    assert info["hostname"] == shared.worker.nodename
    assert info["pid"] in children_of(shared.worker.pid)
    assert result.get(timeout=10) == info["pid"]


def test_untracked_task_never_stores_started(sapp, shared):
    result = sleep.apply_async((0.3,), queue=shared.queue)
    with published_states(sapp, result.id) as drain:
        assert result.get(timeout=10) == 0.3
        states = [m["status"] for m in wait_until(drain, timeout=5)]
    assert states == ["SUCCESS"]


def test_ignore_result_stores_nothing(sapp, shared, tmp_path):
    marker = tmp_path / "quiet"
    by_task = quiet.apply_async((str(marker),), queue=shared.queue)
    by_call = add.apply_async((1, 2), queue=shared.queue, ignore_result=True)
    # The worker logs "succeeded" after the child returned, i.e. after it would have stored.
    wait_logged(shared.worker, f"[{by_task.id}] succeeded")
    wait_logged(shared.worker, f"[{by_call.id}] succeeded")
    assert read_marker(marker) == ["ran"]
    assert raw_meta(sapp, by_task.id) is None
    assert raw_meta(sapp, by_call.id) is None
    assert by_task.state == "PENDING"


def test_forget_deletes_the_result(sapp, shared):
    result = add.apply_async((2, 2), queue=shared.queue)
    assert result.get(timeout=10) == 4
    assert raw_meta(sapp, result.id) is not None
    result.forget()
    assert raw_meta(sapp, result.id) is None
    assert result.state == "PENDING"


def test_success_is_write_once(sapp, shared):
    result = add.apply_async((2, 3), queue=shared.queue)
    assert result.get(timeout=10) == 5
    before = raw_meta(sapp, result.id)
    backend = sapp.backend
    backend.store_result(result.id, ValueError("late"), "FAILURE", traceback="late")
    backend.mark_as_started(result.id, pid=1, hostname="x")
    backend.store_result(result.id, 99, "SUCCESS")
    assert raw_meta(sapp, result.id) == before
    assert sapp.AsyncResult(result.id).get(timeout=1) == 5


def test_a_store_after_the_server_forgot_the_script_sends_it_again(sapp, shared):
    backend = sapp.backend
    backend.store_result("write-warm", 1, "SUCCESS")  # the writer's connection is open
    client = redis_client(sapp.backend_url)
    try:
        client.script_flush()
        task_id = f"noscript-{os.urandom(6).hex()}"
        backend.store_result(task_id, 7, "SUCCESS")
        assert raw_meta(sapp, task_id)["result"] == 7
        backend.store_result(task_id, 8, "SUCCESS")  # cached again: still write-once
        assert raw_meta(sapp, task_id)["result"] == 7
    finally:
        client.delete("celery-task-meta-write-warm")
        client.close()


def test_a_store_on_a_connection_the_server_dropped_reconnects(sapp, shared):
    backend = sapp.backend
    backend.store_result("write-warm", 1, "SUCCESS")
    connection = backend._writer().connection
    connection.send_command("CLIENT", "ID")
    writer_id = connection.read_response()
    client = redis_client(sapp.backend_url)
    try:
        assert client.client_kill_filter(_id=writer_id) == 1
        task_id = f"dropped-{os.urandom(6).hex()}"
        backend.store_result(task_id, 9, "SUCCESS")
        assert raw_meta(sapp, task_id)["result"] == 9
        assert backend._writer().connection is connection
    finally:
        client.delete("celery-task-meta-write-warm")
        client.close()


def test_failure_may_be_overwritten_by_success(sapp, shared):
    # Only SUCCESS is final for the guard: a retried or redelivered task may still succeed.
    result = fail.apply_async(queue=shared.queue)
    with pytest.raises(ValueError):
        result.get(timeout=10)
    sapp.backend.store_result(result.id, 1, "SUCCESS")
    assert raw_meta(sapp, result.id)["status"] == "SUCCESS"


def test_retry_stores_retry_then_success(sapp, shared):
    task_id = f"retry-{os.urandom(6).hex()}"
    with published_states(sapp, task_id) as drain:
        result = retry_once.apply_async((0.3,), queue=shared.queue, task_id=task_id)
        assert result.get(timeout=15) == 1
        seen = wait_until(lambda: len(drain()) >= 2 and drain(), timeout=5)
    assert [m["status"] for m in seen] == ["RETRY", "SUCCESS"]
    retry_meta = seen[0]
    assert retry_meta["result"] == {"exc_type": "KeyError", "exc_message": ["again"],
                                    "exc_module": "builtins"}
    assert "KeyError" in retry_meta["traceback"]
    assert retry_meta["date_done"] is None
    assert seen[1]["result"] == 1


def test_retry_state_is_readable_between_runs(sapp, shared):
    result = retry_once.apply_async((1.5,), queue=shared.queue)
    wait_until(lambda: result.state == "RETRY", timeout=10, interval=0.02)
    assert isinstance(result.info, KeyError)
    assert not result.ready()
    assert result.get(timeout=15) == 1


def test_ignore_stores_nothing(sapp, shared):
    result = ignore.apply_async(queue=shared.queue)
    wait_logged(shared.worker, f"[{result.id}] ignored")
    assert raw_meta(sapp, result.id) is None
    assert result.state == "PENDING"


def test_ignore_leaves_the_state_it_found(sapp, shared):
    result = state_then_ignore.apply_async(queue=shared.queue)
    wait_logged(shared.worker, f"[{result.id}] ignored")
    assert result.state == "HALFWAY"
    assert result.info == {"done": 1}


def test_reject_without_requeue_stores_failure(sapp, shared):
    result = reject.apply_async((False,), queue=shared.queue)
    with pytest.raises(Reject):
        result.get(timeout=10)
    assert result.state == "FAILURE"
    meta = raw_meta(sapp, result.id)
    assert meta["result"]["exc_type"] == "Reject"
    assert meta["result"]["exc_module"] == "celery.exceptions"
    wait_logged(shared.worker, f"[{result.id}] rejected (requeue=False)")
    # The rejected message is gone: it was not requeued and run again.
    assert shared.worker.log().count(f"[{result.id}] received") == 1
