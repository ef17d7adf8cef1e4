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


def _store(client, task_id: str, value: int, publish: bool = True) -> None:
    """Write a result as a backend does: SET, then PUBLISH on the key's name."""
    key = f"celery-task-meta-{task_id}"
    client.set(key, _meta(task_id, value))
    if publish:
        client.publish(key, _meta(task_id, value))


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

    _later(0.2, lambda: _store(client, task_id, 7))
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
    _later(0.2, lambda: _store(client, task_id, 8, publish=False))
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
        _later(0.05, lambda task_id=task_id, index=index: _store(client, task_id, index))
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


def test_a_result_stored_before_get_is_read_at_once():
    app = _app()
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    task_id = str(uuid.uuid4())
    _store(client, task_id, 5, publish=False)
    started = time.monotonic()
    assert app.AsyncResult(task_id).get(timeout=10, interval=30) == 5
    assert time.monotonic() - started < 1
    client.delete(f"celery-task-meta-{task_id}")
    app.close()


def test_a_wait_cut_short_leaves_no_reply_behind_for_the_next_one():
    app = _app()
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(TimeoutError):
        app.AsyncResult(first).get(timeout=0.1, interval=0.02)
    # The first task's result comes late, while the second is awaited.
    _later(0.05, lambda: _store(client, first, 1))
    _later(0.3, lambda: _store(client, second, 2))
    assert app.AsyncResult(second).get(timeout=10, interval=30) == 2
    client.delete(f"celery-task-meta-{first}", f"celery-task-meta-{second}")
    app.close()


def test_the_resp2_protocol_waits_through_pub_sub():
    require_port("127.0.0.1", 6379, "Redis")
    app = App("wait-test", broker=f"{REDIS_URL}/{DB}",
              backend=f"{REDIS_URL}/{DB}?protocol=2", set_as_current=False)
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    task_id = str(uuid.uuid4())
    key = f"celery-task-meta-{task_id}"
    _later(0.2, lambda: _store(client, task_id, 3))
    started = time.monotonic()
    assert app.AsyncResult(task_id).get(timeout=10, interval=30) == 3
    assert time.monotonic() - started < 2
    assert app.backend._waiter().resp3 is False
    client.delete(key)
    app.close()


def test_a_wait_after_the_server_dropped_the_idle_connection_still_gets_its_result():
    app = _app()
    client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
    warm = str(uuid.uuid4())
    _store(client, warm, 0, publish=False)
    assert app.AsyncResult(warm).get(timeout=10) == 0
    # The server closes the waiter's idle connection (as a restart would).
    host, port = app.backend._waiter().connection._sock.getsockname()[:2]
    assert client.client_kill_filter(addr=f"{host}:{port}") == 1
    task_id = str(uuid.uuid4())
    key = f"celery-task-meta-{task_id}"
    _later(0.2, lambda: _store(client, task_id, 4))
    assert app.AsyncResult(task_id).get(timeout=10, interval=30) == 4
    client.delete(key, f"celery-task-meta-{warm}")
    app.close()
