"""A tuiq client drives a real stock ``celery worker`` (prefork) (PROTOCOL.md §1, §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import tuiq
from tests.compat.helpers import MARKER_VALUES, assert_same_markers, get_result


def test_send_task_and_delay(tuiq_client, routed_tuiq_app, celery_node, celery_queue):
    by_name = tuiq_client.send_task("testproj.add", (2, 3), queue=celery_queue)
    assert get_result(by_name, celery_node) == 5
    assert by_name.state == "SUCCESS"
    delayed = routed_tuiq_app.tasks["testproj.add"].delay(4, 4)
    assert get_result(delayed, celery_node) == 8
    assert delayed.successful()


def test_failure_reraises_value_error(routed_tuiq_app, celery_node, celery_queue):
    result = routed_tuiq_app.tasks["testproj.fail"].delay("kaput")
    with pytest.raises(ValueError, match="kaput"):
        get_result(result, celery_node)
    assert result.state == "FAILURE"
    assert result.failed()
    assert type(result.result) is ValueError
    assert "Traceback (most recent call last)" in result.traceback
    assert "ValueError: kaput" in result.traceback
    # propagate=False hands back the exception instead of raising it.
    assert isinstance(get_result(result, celery_node, propagate=False), ValueError)


def test_chain(routed_tuiq_app, celery_node, celery_queue):
    add = routed_tuiq_app.tasks["testproj.add"]
    steps = [add.s(1, 2), add.s(3), add.s(4)]
    result = tuiq.chain(*(step.set(queue=celery_queue) for step in steps))()
    assert get_result(result, celery_node) == 10
    assert get_result(result.parent, celery_node) == 6
    assert get_result(result.parent.parent, celery_node) == 3


def test_chain_steps_are_children_of_their_sender(routed_tuiq_app, celery_node, celery_queue):
    # Like Celery, the worker sends the next step before storing the result, and the
    # stored meta lists it in ``children`` (PROTOCOL.md §1.4, Celery's app/trace.py).
    add = routed_tuiq_app.tasks["testproj.add"]
    steps = [add.s(1, 2), add.s(3), add.s(4)]
    result = tuiq.chain(*(step.set(queue=celery_queue) for step in steps))()
    assert get_result(result, celery_node) == 10
    first, second = result.parent.parent, result.parent
    # A step's successor can finish before the step's own result is stored.
    assert get_result(first, celery_node) == 3 and get_result(second, celery_node) == 6
    assert [child.id for child in first.children] == [second.id]
    assert [child.id for child in second.children] == [result.id]
    assert result.children == []


def test_countdown_expires_link_and_link_error(routed_tuiq_app, celery_node, celery_queue):
    add = routed_tuiq_app.tasks["testproj.add"]
    link = add.s(10).set(queue=celery_queue)
    link_id = link.freeze()
    sent = datetime.now(UTC)
    result = add.apply_async((1, 2), countdown=1, expires=60, link=link)
    assert get_result(result, celery_node) == 3
    done = datetime.fromisoformat(result.date_done)
    assert done >= sent + timedelta(seconds=0.95)
    assert get_result(routed_tuiq_app.AsyncResult(link_id), celery_node) == 13

    errback = routed_tuiq_app.tasks["testproj.echo"].s().set(queue=celery_queue)
    errback_id = errback.freeze()
    failed = routed_tuiq_app.tasks["testproj.fail"].apply_async(("x",), link_error=errback)
    with pytest.raises(ValueError):
        get_result(failed, celery_node)
    # Celery calls a one-argument errback with the failed task's id.
    assert get_result(routed_tuiq_app.AsyncResult(errback_id), celery_node) == failed.id


def test_kombu_json_markers_round_trip(routed_tuiq_app, celery_node, celery_queue):
    echo = routed_tuiq_app.tasks["testproj.echo"]
    result = echo.delay(MARKER_VALUES)
    assert_same_markers(get_result(result, celery_node), MARKER_VALUES)
    keyword = echo.apply_async(kwargs={"value": MARKER_VALUES["bytes"]})
    assert_same_markers(get_result(keyword, celery_node), MARKER_VALUES["bytes"])


def test_group(routed_tuiq_app, celery_node, celery_queue):
    add = routed_tuiq_app.tasks["testproj.add"]
    result = tuiq.group(add.s(i, i) for i in range(4))()
    assert get_result(result, celery_node) == [0, 2, 4, 6]


def test_expired_before_eta_is_revoked(routed_tuiq_app, celery_node, celery_queue):
    # Held for its eta by the worker, then found expired: REVOKED, never run.
    result = routed_tuiq_app.tasks["testproj.add"].apply_async((1, 1), countdown=2, expires=1)
    with pytest.raises(tuiq.TaskRevokedError, match="expired"):
        get_result(result, celery_node)
    assert result.state == "REVOKED"
