"""Result metas cross the engines: each side reads what the other wrote (PROTOCOL.md §5, §7.4).

Written straight through each engine's own Redis result backend (db 14); the worker-written
metas are covered by the client/worker tests of this folder.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Iterator

import pytest
from celery import states as celery_states
from celery.exceptions import TaskRevokedError as CeleryTaskRevokedError

import tuiq
from tests.compat.celeryproj import make_app as make_celery_app
from tests.compat.helpers import RESULT_ONLY_DB, env_for, make_tuiq_app
from tests.support.brokers import REDIS_URL
from tuiq import states as tuiq_states


class NowhereError(Exception):
    """An exception whose module the reading side cannot have imported."""


NowhereError.__module__ = "compat_nowhere.errors"


@pytest.fixture(scope="module")
def apps() -> Iterator[tuple[object, tuiq.App]]:
    env_for("redis")  # fails loudly when Redis is down
    backend = f"{REDIS_URL}/{RESULT_ONLY_DB}"
    # The broker is never contacted: only the result backends are used.
    capp = make_celery_app(f"{REDIS_URL}/{RESULT_ONLY_DB}", backend)
    tapp = make_tuiq_app(f"{REDIS_URL}/{RESULT_ONLY_DB}", backend)
    yield capp, tapp
    capp.close()
    tapp.close()


def _traceback_of(exc: BaseException) -> str:
    try:
        raise exc
    except BaseException as raised:  # noqa: BLE001 - we only format it
        return "".join(traceback.format_exception(raised))


def _new_id() -> str:
    return str(uuid.uuid4())


def test_state_names_match():
    for name in ("PENDING", "RECEIVED", "STARTED", "SUCCESS", "FAILURE", "REVOKED",
                 "REJECTED", "RETRY", "IGNORED"):
        assert getattr(tuiq_states, name) == getattr(celery_states, name)
    # (ALL_STATES is left out: Celery's omits REJECTED and IGNORED, tuiq's lists them.)
    for group in ("READY_STATES", "UNREADY_STATES", "EXCEPTION_STATES", "PROPAGATE_STATES"):
        assert set(getattr(tuiq_states, group)) == set(getattr(celery_states, group)), group


# tuiq writes, Celery reads ------------------------------------------------------------------
def test_celery_reads_tuiq_success(apps):
    capp, tapp = apps
    task_id = _new_id()
    tapp.backend.mark_as_done(task_id, {"total": 42, "items": [1, "two", None]})
    result = capp.AsyncResult(task_id)
    assert result.state == "SUCCESS"
    assert result.get(timeout=5) == {"total": 42, "items": [1, "two", None]}
    assert result.date_done is not None


def test_celery_reads_tuiq_failure(apps):
    capp, tapp = apps
    task_id = _new_id()
    text = _traceback_of(ValueError("bad value", 7))
    tapp.backend.mark_as_failure(task_id, ValueError("bad value", 7), traceback=text)
    result = capp.AsyncResult(task_id)
    assert result.state == "FAILURE"
    assert type(result.result) is ValueError
    assert result.result.args == ("bad value", 7)
    assert result.traceback == text
    with pytest.raises(ValueError, match="bad value"):
        result.get(timeout=5)


def test_celery_reads_tuiq_revoked_retry_started_and_custom(apps):
    capp, tapp = apps
    revoked, retry, started, custom = (_new_id() for _ in range(4))
    tapp.backend.mark_as_revoked(revoked, reason="revoked")
    tapp.backend.mark_as_retry(retry, KeyError("again"), traceback="Traceback ...")
    tapp.backend.mark_as_started(started, pid=1234, hostname="t1@host")
    tapp.backend.store_result(custom, {"current": 2, "total": 5}, "PROGRESS")

    result = capp.AsyncResult(revoked)
    assert result.state == "REVOKED"
    with pytest.raises(CeleryTaskRevokedError):
        result.get(timeout=5)
    retried = capp.AsyncResult(retry)
    assert retried.state == "RETRY"
    assert type(retried.result) is KeyError
    assert capp.AsyncResult(started).state == "STARTED"
    assert capp.AsyncResult(started).info == {"pid": 1234, "hostname": "t1@host"}
    assert capp.AsyncResult(custom).state == "PROGRESS"
    assert capp.AsyncResult(custom).info == {"current": 2, "total": 5}


# Celery writes, tuiq reads ------------------------------------------------------------------
def test_tuiq_reads_celery_success(apps):
    capp, tapp = apps
    task_id = _new_id()
    capp.backend.mark_as_done(task_id, [1, {"a": "b"}])
    result = tapp.AsyncResult(task_id)
    assert result.state == "SUCCESS"
    assert result.get(timeout=5) == [1, {"a": "b"}]


def test_tuiq_reads_celery_failure(apps):
    capp, tapp = apps
    task_id = _new_id()
    text = _traceback_of(ValueError("broken", 3))
    capp.backend.mark_as_failure(task_id, ValueError("broken", 3), traceback=text)
    result = tapp.AsyncResult(task_id)
    assert result.state == "FAILURE"
    assert result.failed()
    assert result.traceback == text
    with pytest.raises(ValueError, match="broken") as raised:
        result.get(timeout=5)
    assert type(raised.value) is ValueError
    assert raised.value.args == ("broken", 3)


def test_tuiq_reads_celery_failure_of_unknown_class(apps):
    capp, tapp = apps
    task_id = _new_id()
    capp.backend.mark_as_failure(task_id, NowhereError("far away"), traceback="Traceback ...")
    exc = tapp.AsyncResult(task_id).result
    assert type(exc).__name__ == "NowhereError"
    assert type(exc).__module__ == "compat_nowhere.errors"
    assert isinstance(exc, Exception)
    assert exc.args == ("far away",)


def test_tuiq_reads_celery_revoked_and_retry(apps):
    capp, tapp = apps
    revoked, retry = _new_id(), _new_id()
    capp.backend.mark_as_revoked(revoked, reason="revoked")
    capp.backend.mark_as_retry(retry, KeyError("again"), traceback="Traceback ...")
    result = tapp.AsyncResult(revoked)
    assert result.state == "REVOKED"
    assert result.ready()
    with pytest.raises(tuiq.TaskRevokedError):
        result.get(timeout=5)
    retried = tapp.AsyncResult(retry)
    assert retried.state == "RETRY"
    assert not retried.ready()
    assert type(retried.result) is KeyError
