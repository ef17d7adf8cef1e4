"""Sending tasks: countdown, eta, expires, priority, ids, headers, routing and send_task.

Every test runs on the three brokers against the shared worker (see conftest.py).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.testproj import add, inspect_request, now
from tuiq import App, TaskRevokedError


def test_delay_runs_the_task(sapp, shared):
    result = add.apply_async((20, 22), queue=shared.queue)
    assert result.get(timeout=10) == 42


def test_countdown_runs_no_earlier(sapp, shared):
    sent = time.time()
    result = now.apply_async(queue=shared.queue, countdown=1.5)
    ran = result.get(timeout=15)["time"]
    assert ran >= sent + 1.5 - 0.01, f"ran {ran - sent:.3f}s after sending, countdown was 1.5s"
    assert ran < sent + 6, "a 1.5s countdown should not take this long"


def test_eta_runs_no_earlier(sapp, shared):
    eta = datetime.now(UTC) + timedelta(seconds=1.5)
    result = inspect_request.apply_async(queue=shared.queue, eta=eta)
    sent = time.time()
    info = result.get(timeout=15)
    state = sapp.backend.get_task_meta(result.id)
    done = datetime.fromisoformat(state["date_done"])
    assert done >= eta, f"finished at {done}, before the eta {eta}"
    assert datetime.fromisoformat(info["eta"]) == eta
    assert time.time() - sent < 8


def test_naive_eta_is_taken_as_utc(sapp, shared):
    eta = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)
    result = now.apply_async(queue=shared.queue, eta=eta)
    ran = result.get(timeout=15)["time"]
    assert ran >= eta.replace(tzinfo=UTC).timestamp() - 0.01


def test_expires_in_the_past_is_revoked(sapp, shared):
    past = datetime.now(UTC) - timedelta(seconds=30)
    result = add.apply_async((1, 1), queue=shared.queue, expires=past)
    with pytest.raises(TaskRevokedError) as info:
        result.get(timeout=10)
    assert info.value.args == ("expired",)
    assert result.state == "REVOKED"
    meta = sapp.backend.get_task_meta(result.id)
    assert meta["result"] == {"exc_type": "TaskRevokedError", "exc_message": ["expired"],
                              "exc_module": "celery.exceptions"}
    assert meta["date_done"]


def test_expires_while_waiting_for_eta_is_revoked(sapp, shared):
    # Received in time, expired when the eta comes: the check before running catches it.
    result = add.apply_async((1, 1), queue=shared.queue, countdown=1.0, expires=0.5)
    with pytest.raises(TaskRevokedError, match="expired"):
        result.get(timeout=10)
    assert result.state == "REVOKED"


def test_expires_in_the_future_runs(sapp, shared):
    result = add.apply_async((2, 2), queue=shared.queue, expires=60)
    assert result.get(timeout=10) == 4


def test_priority_is_accepted_and_visible(sapp, shared):
    result = inspect_request.apply_async(queue=shared.queue, priority=5)
    info = result.get(timeout=10)
    assert info["priority"] == 5


def test_custom_task_id(sapp, shared):
    task_id = f"custom-{uuid.uuid4()}"
    result = add.apply_async((3, 4), queue=shared.queue, task_id=task_id)
    assert result.id == task_id
    assert sapp.AsyncResult(task_id).get(timeout=10) == 7
    assert sapp.backend.get_task_meta(task_id)["task_id"] == task_id


def test_headers_land_in_the_request(sapp, shared):
    result = inspect_request.apply_async(("x-custom",), queue=shared.queue,
                                         headers={"x-custom": "value-42"})
    info = result.get(timeout=10)
    assert info["header"] == "value-42"
    assert info["id"] == result.id
    assert info["root_id"] == result.id
    assert info["parent_id"] is None
    assert info["origin"].startswith("gen")
    assert info["hostname"] == shared.worker.nodename


def test_routing_to_a_named_queue(sapp, shared):
    main = inspect_request.apply_async(queue=shared.queue)
    alt = inspect_request.apply_async(queue=shared.alt_queue)
    assert main.get(timeout=10)["routing_key"] == shared.queue
    assert alt.get(timeout=10)["routing_key"] == shared.alt_queue


def test_task_routes_setting_routes_to_a_named_queue(sapp, shared):
    previous = sapp.conf.task_routes
    sapp.conf.task_routes = {"testproj.inspect_*": {"queue": shared.alt_queue}}
    try:
        routed = inspect_request.delay()
    finally:
        sapp.conf.task_routes = previous
    assert routed.get(timeout=10)["routing_key"] == shared.alt_queue


def test_send_task_for_a_task_the_client_does_not_have(shared):
    client = App("bare-client", broker=shared.broker_url, backend=shared.backend_url,
                 set_as_current=False)
    try:
        assert "testproj.add" not in client.tasks
        result = client.send_task("testproj.add", (5, 6), queue=shared.queue)
        assert result.get(timeout=10) == 11
        kwargs_result = client.send_task("testproj.add", kwargs={"x": 1, "y": 2},
                                         queue=shared.queue)
        assert kwargs_result.get(timeout=10) == 3
    finally:
        client.close()


def test_many_tasks_all_complete(sapp, shared):
    results = [add.apply_async((i, i), queue=shared.queue) for i in range(30)]
    assert [r.get(timeout=20) for r in results] == [2 * i for i in range(30)]
    assert shared.worker.process.poll() is None
