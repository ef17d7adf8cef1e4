"""``AsyncResult.get`` on Redis: woken by the PUBLISH, and by a re-read when none comes."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import redis

from tests.support.brokers import REDIS_URL, require_port
from tuiq import App
from tuiq.exceptions import TimeoutError

DB = 9


def _app() -> App:
    require_port("127.0.0.1", 6379, "Redis")
    return App("wait-test", broker=f"{REDIS_URL}/{DB}", backend=f"{REDIS_URL}/{DB}",
               set_as_current=False)


def _meta(task_id: str, value: int) -> str:
    return json.dumps({"status": "SUCCESS", "result": value, "traceback": None,
                       "children": [], "date_done": None, "task_id": task_id})


def _later(delay: float, action) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_published_result_wakes_the_waiter_at_once():
    app = _app()
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    task_id = str(uuid.uuid4())
    key = f"celery-task-meta-{task_id}"

    def store() -> None:
        client.set(key, _meta(task_id, 7))
        client.publish(key, _meta(task_id, 7))

    _later(0.2, store)
    started = time.monotonic()
    # A long interval: only the PUBLISH can end this wait quickly.
    assert app.AsyncResult(task_id).get(timeout=10, interval=30) == 7
    assert time.monotonic() - started < 2
    client.delete(key)
    app.close()


def test_a_result_stored_without_a_publish_is_found_by_the_periodic_re_read():
    app = _app()
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    task_id = str(uuid.uuid4())
    key = f"celery-task-meta-{task_id}"
    _later(0.2, lambda: client.set(key, _meta(task_id, 8)))
    started = time.monotonic()
    assert app.AsyncResult(task_id).get(timeout=10, interval=0.3) == 8
    assert time.monotonic() - started < 2
    client.delete(key)
    app.close()


def test_waits_one_after_another_on_one_connection_each_get_their_own_result():
    app = _app()
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    ids = [str(uuid.uuid4()) for _ in range(5)]
    for index, task_id in enumerate(ids):
        key = f"celery-task-meta-{task_id}"

        def store(key=key, task_id=task_id, index=index) -> None:
            client.set(key, _meta(task_id, index))
            client.publish(key, _meta(task_id, index))

        _later(0.05, store)
        assert app.AsyncResult(task_id).get(timeout=10, interval=30) == index
    client.delete(*(f"celery-task-meta-{task_id}" for task_id in ids))
    app.close()


def test_a_timeout_still_ends_the_wait():
    app = _app()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        app.AsyncResult(str(uuid.uuid4())).get(timeout=0.3, interval=0.1)
    assert 0.25 < time.monotonic() - started < 2
    app.close()
