"""Jobs waiting in the prefork pool's pipe for a busy process (``worker_pool_lookahead``).

With one process and a slow task running, the next task is written to the
pipe ahead of time. It must still behave as a reserved task: listed by
``inspect reserved``, not ``active``; never run once revoked; handed back
on a warm shutdown; and a job too big for the pipe waits in the worker
instead of blocking its loop.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.integration.helpers import (
    OwnWorker,
    queue_depth,
    read_marker,
    wait_logged,
    wait_until,
)
from tests.support.brokers import unique
from tests.support.testproj import echo, sleep
from tuiq.exceptions import TaskRevokedError
from tuiq.worker.pool import PreforkPool

#: More than the room a 64 KiB pipe leaves for a job that goes ahead.
BIG = 200_000


def _one_process_worker(tmp_path, kind: str, embedded_url: str, prefix: str) -> OwnWorker:
    """A ``-c 1`` worker on a queue of its own."""
    return OwnWorker(tmp_path, kind, embedded_url, name=unique(prefix), queues=[unique(prefix)],
                     extra=["-c", "1"])


def _slow_then_waiting(own: OwnWorker, tmp_path, seconds: float, **options):
    """A slow task running on the only process, and a second one queued behind it."""
    queue = own.queues[0]
    slow_marker = tmp_path / unique("slow")
    waiting_marker = tmp_path / unique("waiting")
    slow = sleep.apply_async((seconds, str(slow_marker)), queue=queue)
    wait_until(lambda: read_marker(slow_marker), timeout=10,
               message="the slow task never started")
    waiting = sleep.apply_async((0, str(waiting_marker)), queue=queue, **options)
    wait_logged(own.worker, f"[{waiting.id}] received")
    return slow, waiting, waiting_marker


def test_a_job_waiting_in_the_pipe_is_reserved_not_active(embedded_url, tmp_path):
    # What inspect reports is the pool's business, the same on every broker.
    with _one_process_worker(tmp_path, "redis", embedded_url, "ahead") as own:
        slow, waiting, _ = _slow_then_waiting(own, tmp_path, 3)
        node = own.worker.nodename
        inspect = own.app.control.inspect(destination=[node], timeout=5)
        assert [t["id"] for t in inspect.active()[node]] == [slow.id]
        assert [t["id"] for t in inspect.reserved()[node]] == [waiting.id]
        where = inspect.query_task(waiting.id)[node][waiting.id][0]
        assert where == "reserved"
        assert waiting.get(timeout=15) == 0


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_a_revoked_job_waiting_in_the_pipe_never_runs(embedded_url, tmp_path, kind):
    with _one_process_worker(tmp_path, kind, embedded_url, "ahead-revoke") as own:
        queue = own.queues[0]
        slow, waiting, waiting_marker = _slow_then_waiting(own, tmp_path, 1.5)
        own.app.control.revoke(waiting.id, reply=True, destination=[own.worker.nodename],
                               timeout=5)
        with pytest.raises(TaskRevokedError):
            waiting.get(timeout=15)
        assert slow.get(timeout=15) == 1.5
        assert not waiting_marker.exists(), "the revoked task ran"
        wait_logged(own.worker, f"Discarding revoked task testproj.sleep[{waiting.id}]")
        # The process that skipped it goes on with the next task.
        assert echo.apply_async(("next",), queue=queue).get(timeout=15) == "next"


def test_a_job_that_expires_while_waiting_in_the_pipe_never_runs(embedded_url, tmp_path):
    with _one_process_worker(tmp_path, "redis", embedded_url, "ahead-expire") as own:
        slow, waiting, waiting_marker = _slow_then_waiting(own, tmp_path, 2, expires=1)
        with pytest.raises(TaskRevokedError):
            waiting.get(timeout=15)
        assert slow.get(timeout=15) == 2
        assert not waiting_marker.exists(), "the expired task ran"
        wait_logged(own.worker, f"Discarding expired task testproj.sleep[{waiting.id}]")


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_warm_shutdown_hands_back_a_job_waiting_in_the_pipe(embedded_url, tmp_path, kind):
    with _one_process_worker(tmp_path, kind, embedded_url, "ahead-term") as own:
        queue = own.queues[0]
        slow, waiting, waiting_marker = _slow_then_waiting(own, tmp_path, 1.5)
        own.worker.signal(signal.SIGTERM)
        assert own.worker.wait(timeout=20) == 0
        assert "Handed back 1 task(s) that had not started" in own.worker.log()
        assert slow.get(timeout=5) == 1.5
        assert not waiting_marker.exists(), "the handed-back task ran"
        assert waiting.state == "PENDING"
        assert queue_depth(kind, own.broker_url, queue) == 1
        with OwnWorker(tmp_path, kind, embedded_url, name=unique("ahead-term2"),
                       queues=[queue], extra=["-c", "1"]):
            assert waiting.get(timeout=15) == 0
            assert read_marker(waiting_marker)[-1] == "done"


def test_a_job_too_big_for_the_pipe_waits_in_the_worker(embedded_url, tmp_path):
    with _one_process_worker(tmp_path, "redis", embedded_url, "ahead-big") as own:
        queue = own.queues[0]
        slow, _, _ = _slow_then_waiting(own, tmp_path, 2)
        big = echo.apply_async(("x" * BIG,), queue=queue)
        wait_logged(own.worker, f"[{big.id}] received")
        # Written to the pipe, it would block the worker's loop until the slow task ends.
        started = time.monotonic()
        replies = own.app.control.ping(destination=[own.worker.nodename], timeout=3)
        assert replies == [{own.worker.nodename: {"ok": "pong"}}]
        assert time.monotonic() - started < 1.5
        assert not slow.ready()
        assert big.get(timeout=15) == "x" * BIG


def test_lookahead_zero_hands_a_job_over_only_to_a_free_process():
    pool = PreforkPool(2, lookahead=0)
    assert not pool.room_ahead(0)
    pool = PreforkPool(2, lookahead=1)
    assert pool.room_ahead(0) and pool.room_ahead(1)
    assert not pool.room_ahead(2)
    assert not PreforkPool(2, lookahead=None).room_ahead(0)
