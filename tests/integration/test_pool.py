"""The prefork pool driven by a kombu ``Hub``, and by its own thread when no hub has it.

Real billiard children run real tasks from ``tests.support.testproj``; nothing is mocked.
The jobs ask not to store results, so no result backend is involved.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from billiard.exceptions import TimeLimitExceeded, WorkerLostError
from kombu.asynchronous import Hub

from tests.support import testproj
from tuiq.worker import trace
from tuiq.worker.pool import PreforkPool


class Outcome:
    """What the pool reported for one job, and on which thread."""

    def __init__(self) -> None:
        self.accepted_pid: int | None = None
        self.summary: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.threads: set[int] = set()
        self.done = threading.Event()

    def on_accept(self, pid: int) -> None:
        self.threads.add(threading.get_ident())
        self.accepted_pid = pid

    def on_done(self, summary: dict[str, Any]) -> None:
        self.threads.add(threading.get_ident())
        self.summary = summary
        self.done.set()

    def on_error(self, exc: BaseException, text: str | None) -> None:
        self.threads.add(threading.get_ident())
        self.error = exc
        self.done.set()


def job(name: str, *args: Any) -> dict[str, Any]:
    """A job payload as ``Request.job_payload`` builds it, for a task that stores nothing."""
    return {"id": str(uuid.uuid4()), "name": name, "args": list(args), "kwargs": {},
            "headers": {"ignore_result": True}, "embed": {}, "properties": {},
            "delivery_info": {}}


def submit(pool: PreforkPool, payload: dict[str, Any], hard: float | None = None) -> Outcome:
    outcome = Outcome()
    pool.apply(payload, outcome.on_accept, outcome.on_done, outcome.on_error, None, hard)
    return outcome


def run_hub(hub: Hub, outcome: Outcome, timeout: float = 10.0) -> None:
    """Turn ``hub``'s loop until ``outcome`` is known."""
    loop = hub.create_loop()
    deadline = time.monotonic() + timeout
    while not outcome.done.is_set():
        assert time.monotonic() < deadline, "the pool reported nothing in time"
        next(loop)


@pytest.fixture
def pool():
    trace.set_worker_app(testproj.app, "pooltest@localhost")
    prefork = PreforkPool(2, lost_wait=0.2)
    prefork.start()
    try:
        yield prefork
    finally:
        prefork.terminate()


def test_results_come_on_the_hub_thread_and_on_the_pool_thread_between_hubs(pool):
    me = threading.get_ident()
    hub = Hub()
    pool.register_with_event_loop(hub)
    outcome = submit(pool, job("testproj.add", 2, 3))
    run_hub(hub, outcome)
    assert outcome.summary["state"] == "SUCCESS", outcome.summary
    assert outcome.accepted_pid in pool.processes()
    assert outcome.threads == {me}

    # No hub (a reconnect's back-off): the pool's own thread still collects results.
    hub.close()
    outcome = submit(pool, job("testproj.add", 4, 5))
    assert outcome.done.wait(10), "no result while no hub had the pool"
    assert outcome.summary["state"] == "SUCCESS", outcome.summary
    assert me not in outcome.threads

    # A new hub takes over again.
    hub = Hub()
    pool.register_with_event_loop(hub)
    outcome = submit(pool, job("testproj.add", 6, 7))
    run_hub(hub, outcome)
    assert outcome.summary["state"] == "SUCCESS", outcome.summary
    assert outcome.threads == {me}
    hub.close()


def test_a_hub_replaced_without_being_closed_is_left(pool):
    first = Hub()
    pool.register_with_event_loop(first)
    second = Hub()
    pool.register_with_event_loop(second)
    assert not first.readers
    outcome = submit(pool, job("testproj.add", 1, 1))
    run_hub(second, outcome)
    assert outcome.summary["state"] == "SUCCESS", outcome.summary
    second.close()


@pytest.mark.parametrize("with_hub", [True, False], ids=["hub", "pool-thread"])
def test_lost_child_fails_its_job_and_is_replaced(pool, with_hub):
    hub = Hub()
    if with_hub:
        pool.register_with_event_loop(hub)
    before = set(pool.processes())
    outcome = submit(pool, job("testproj.die", 3))
    if with_hub:
        run_hub(hub, outcome)
    else:
        assert outcome.done.wait(10), "the lost child's job was never failed"
    assert isinstance(outcome.error, WorkerLostError), outcome.error
    assert outcome.accepted_pid in before
    assert outcome.accepted_pid not in pool.processes()
    # The replacement serves the next job.
    outcome = submit(pool, job("testproj.add", 1, 2))
    if with_hub:
        run_hub(hub, outcome)
    else:
        assert outcome.done.wait(10)
    assert outcome.summary["state"] == "SUCCESS", outcome.summary
    assert len(pool.processes()) == 2
    hub.close()


@pytest.mark.parametrize("with_hub", [True, False], ids=["hub", "pool-thread"])
def test_hard_time_limit_kills_the_child(pool, with_hub):
    hub = Hub()
    if with_hub:
        pool.register_with_event_loop(hub)
    started = time.monotonic()
    outcome = submit(pool, job("testproj.sleep", 30), hard=0.5)
    if with_hub:
        run_hub(hub, outcome)
    else:
        assert outcome.done.wait(10), "the hard time limit never fired"
    assert isinstance(outcome.error, TimeLimitExceeded), outcome.error
    assert time.monotonic() - started < 5
    outcome = submit(pool, job("testproj.add", 1, 2))
    if with_hub:
        run_hub(hub, outcome)
    else:
        assert outcome.done.wait(10)
    assert outcome.summary["state"] == "SUCCESS", outcome.summary
    hub.close()


def test_max_tasks_per_child_replaces_the_child_inside_the_hub():
    trace.set_worker_app(testproj.app, "pooltest@localhost")
    pool = PreforkPool(1, max_tasks_per_child=1)
    pool.start()
    hub = Hub()
    try:
        pool.register_with_event_loop(hub)
        pids = []
        for _ in range(3):
            outcome = submit(pool, job("testproj.add", 1, 2))
            run_hub(hub, outcome)
            assert outcome.summary["state"] == "SUCCESS", outcome.summary
            pids.append(outcome.accepted_pid)
        assert len(set(pids)) == 3, pids
    finally:
        hub.close()
        pool.terminate()
