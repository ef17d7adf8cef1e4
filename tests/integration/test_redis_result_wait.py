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


class Results:
    """A client app and a raw Redis client; stores results as a backend does."""

    def __init__(self, backend_query: str = "") -> None:
        require_port("127.0.0.1", 6379, "Redis")
        self.app = App("wait-test", broker=f"{REDIS_URL}/{DB}",
                       backend=f"{REDIS_URL}/{DB}{backend_query}", set_as_current=False)
        self.client = redis.Redis.from_url(f"{REDIS_URL}/{DB}")
        self.ids: list[str] = []

    def new_id(self) -> str:
        """A task id whose result is deleted at the end of the test."""
        self.ids.append(str(uuid.uuid4()))
        return self.ids[-1]

    def store(self, task_id: str, value: int, publish: bool = True,
              after: float = 0.0) -> None:
        """SET the meta (then PUBLISH it on the key's name), ``after`` seconds from now."""
        def write() -> None:
            time.sleep(after)
            key = f"celery-task-meta-{task_id}"
            meta = json.dumps({"status": "SUCCESS", "result": value, "traceback": None,
                               "children": [], "date_done": None, "task_id": task_id})
            self.client.set(key, meta)
            if publish:
                self.client.publish(key, meta)

        if after:
            threading.Thread(target=write, daemon=True).start()
        else:
            write()

    def get(self, task_id: str, **options) -> tuple[object, float]:
        """``AsyncResult(task_id).get(**options)`` and the seconds it took."""
        started = time.monotonic()
        value = self.app.AsyncResult(task_id).get(**options)
        return value, time.monotonic() - started

    def close(self) -> None:
        """Delete the results and release the connections."""
        if self.ids:
            self.client.delete(*(f"celery-task-meta-{task_id}" for task_id in self.ids))
        self.app.close()


@pytest.fixture
def results():
    state = Results()
    yield state
    state.close()


def test_a_published_result_wakes_the_waiter_at_once(results):
    task_id = results.new_id()
    results.store(task_id, 7, after=0.2)
    # A long interval: only the PUBLISH can end this wait quickly.
    value, took = results.get(task_id, timeout=10, interval=30)
    assert value == 7
    assert took < 2


def test_a_result_stored_without_a_publish_is_found_by_the_periodic_re_read(results):
    task_id = results.new_id()
    results.store(task_id, 8, publish=False, after=0.2)
    value, took = results.get(task_id, timeout=10, interval=0.3)
    assert value == 8
    assert took < 2


def test_waits_one_after_another_on_one_connection_each_get_their_own_result(results):
    for index in range(5):
        task_id = results.new_id()
        results.store(task_id, index, after=0.05)
        assert results.get(task_id, timeout=10, interval=30)[0] == index


def test_a_timeout_still_ends_the_wait(results):
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        results.get(results.new_id(), timeout=0.3, interval=0.1)
    assert 0.25 < time.monotonic() - started < 2


def test_a_result_stored_before_get_is_read_at_once(results):
    task_id = results.new_id()
    results.store(task_id, 5, publish=False)
    value, took = results.get(task_id, timeout=10, interval=30)
    assert value == 5
    assert took < 1


def test_a_wait_cut_short_leaves_no_reply_behind_for_the_next_one(results):
    first, second = results.new_id(), results.new_id()
    with pytest.raises(TimeoutError):
        results.get(first, timeout=0.1, interval=0.02)
    # The first task's result comes late, while the second is awaited.
    results.store(first, 1, after=0.05)
    results.store(second, 2, after=0.3)
    assert results.get(second, timeout=10, interval=30)[0] == 2


def test_the_resp2_protocol_waits_through_pub_sub():
    results = Results("?protocol=2")
    try:
        task_id = results.new_id()
        results.store(task_id, 3, after=0.2)
        value, took = results.get(task_id, timeout=10, interval=30)
        assert value == 3
        assert took < 2
        assert results.app.backend._waiter().resp3 is False
    finally:
        results.close()


def test_a_wait_after_the_server_dropped_the_idle_connection_still_gets_its_result(results):
    warm = results.new_id()
    results.store(warm, 0, publish=False)
    assert results.get(warm, timeout=10)[0] == 0
    # The server closes the waiter's idle connection (as a restart would).
    host, port = results.app.backend._waiter().connection._sock.getsockname()[:2]
    assert results.client.client_kill_filter(addr=f"{host}:{port}") == 1
    task_id = results.new_id()
    results.store(task_id, 4, after=0.2)
    assert results.get(task_id, timeout=10, interval=30)[0] == 4
