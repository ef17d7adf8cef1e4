"""A stock Celery 5.7 client drives a real ``tuiq worker`` (PROTOCOL.md §1)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from celery import chain, group
from celery.exceptions import TaskRevokedError as CeleryTaskRevokedError
from kombu import Connection

from tests.compat.helpers import MARKER_VALUES, assert_same_markers, get_result


def test_send_task_by_name(celery_client, tuiq_node, tuiq_queue):
    result = celery_client.send_task("testproj.add", (2, 3), queue=tuiq_queue)
    assert get_result(result, tuiq_node) == 5
    assert result.state == "SUCCESS"


def test_countdown_expires_and_link(celery_client, tuiq_node, tuiq_queue):
    add = celery_client.tasks["testproj.add"]
    link = add.s(10).set(queue=tuiq_queue)
    link_id = link.freeze().id
    sent = datetime.now(UTC)
    result = add.apply_async((1, 2), countdown=1, expires=60, link=link, queue=tuiq_queue)
    assert get_result(result, tuiq_node) == 3
    # The eta was honoured: the task cannot have finished before it.
    assert result.date_done >= sent + timedelta(seconds=0.95)
    link_result = celery_client.AsyncResult(link_id)
    assert get_result(link_result, tuiq_node) == 13


def test_chain(celery_client, tuiq_node, tuiq_queue):
    add = celery_client.tasks["testproj.add"]
    steps = [add.s(1, 2), add.s(3), add.s(4)]
    result = chain(*(step.set(queue=tuiq_queue) for step in steps))()
    assert get_result(result, tuiq_node) == 10
    assert get_result(result.parent, tuiq_node) == 6
    assert get_result(result.parent.parent, tuiq_node) == 3


def test_chain_steps_are_children_of_their_sender(celery_client, tuiq_node, tuiq_queue):
    # Like Celery, the worker sends the next step before storing the result, and the
    # stored meta lists it in ``children`` (PROTOCOL.md §1.4, Celery's app/trace.py).
    add = celery_client.tasks["testproj.add"]
    steps = [add.s(1, 2), add.s(3), add.s(4)]
    result = chain(*(step.set(queue=tuiq_queue) for step in steps))()
    assert get_result(result, tuiq_node) == 10
    first, second = result.parent.parent, result.parent
    # A step's successor can finish before the step's own result is stored.
    assert get_result(first, tuiq_node) == 3 and get_result(second, tuiq_node) == 6
    assert [child.id for child in first.children] == [second.id]
    assert [child.id for child in second.children] == [result.id]
    assert result.children == []


def test_failure_reraises_value_error_with_link_error(celery_client, tuiq_node, tuiq_queue):
    errback = celery_client.tasks["testproj.echo"].s().set(queue=tuiq_queue)
    errback_id = errback.freeze().id
    result = celery_client.tasks["testproj.fail"].apply_async(
        ("kaput",), queue=tuiq_queue, link_error=errback)
    with pytest.raises(ValueError, match="kaput"):
        get_result(result, tuiq_node)
    assert result.state == "FAILURE"
    assert type(result.result) is ValueError
    assert result.result.args == ("kaput",)
    assert "Traceback (most recent call last)" in result.traceback
    assert "ValueError: kaput" in result.traceback
    meta = celery_client.backend.get_task_meta(result.id)
    assert meta["status"] == "FAILURE"
    # Old-style errbacks (one argument) get the failed task's id.
    assert get_result(celery_client.AsyncResult(errback_id), tuiq_node) == result.id


def _publish_by_hand(broker_url: str, queue: str, body, headers: dict) -> None:
    with Connection(broker_url) as connection:
        connection.Producer().publish(
            body, exchange="", routing_key=queue, serializer="json", headers=headers,
            delivery_mode=2, retry=True)


def test_protocol_v1_message(env, celery_client, tuiq_node, tuiq_queue):
    task_id = str(uuid.uuid4())
    body = {"task": "testproj.add", "id": task_id, "args": [20, 22], "kwargs": {},
            "retries": 0, "eta": None, "expires": None, "utc": True, "callbacks": None,
            "errbacks": None, "chord": None, "taskset": None, "timelimit": [None, None]}
    _publish_by_hand(env.broker_url, tuiq_queue, body, headers={})
    assert get_result(celery_client.AsyncResult(task_id), tuiq_node) == 42


def test_minimal_header_message(env, celery_client, tuiq_node, tuiq_queue):
    task_id = str(uuid.uuid4())
    _publish_by_hand(env.broker_url, tuiq_queue, [[40, 2], {}, {}],
                     headers={"task": "testproj.add", "id": task_id})
    assert get_result(celery_client.AsyncResult(task_id), tuiq_node) == 42


def test_kombu_json_markers_round_trip(celery_client, tuiq_node, tuiq_queue):
    echo = celery_client.tasks["testproj.echo"]
    result = echo.apply_async((MARKER_VALUES,), queue=tuiq_queue)
    assert_same_markers(get_result(result, tuiq_node), MARKER_VALUES)
    keyword = echo.apply_async(kwargs={"value": MARKER_VALUES["decimal"]}, queue=tuiq_queue)
    assert_same_markers(get_result(keyword, tuiq_node), MARKER_VALUES["decimal"])


def test_group(celery_client, tuiq_node, tuiq_queue):
    add = celery_client.tasks["testproj.add"]
    result = group(add.s(i, i).set(queue=tuiq_queue) for i in range(4))()
    assert get_result(result, tuiq_node) == [0, 2, 4, 6]


def test_expired_before_eta_is_revoked(celery_client, tuiq_node, tuiq_queue):
    # Held for its eta by the worker, then found expired: REVOKED, never run.
    result = celery_client.tasks["testproj.add"].apply_async(
        (1, 1), countdown=2, expires=1, queue=tuiq_queue)
    with pytest.raises(CeleryTaskRevokedError, match="expired"):
        get_result(result, tuiq_node)
    assert result.state == "REVOKED"
