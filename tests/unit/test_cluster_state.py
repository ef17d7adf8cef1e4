"""ClusterState: the state machine, LRU caps, liveness, counters, rates, polls, bad input.

The last tests replay one synthetic stream into ``celery.events.state.State`` too and
check that both models end with the same task states and the same alive workers.
"""

from __future__ import annotations

import math
import random
import time
import uuid as uuidlib
from decimal import Decimal

import pytest

from tuiq.events.cluster import Changes, ClusterState, TaskInfo, WorkerInfo
from tuiq.events.models import HEARTBEATS_KEPT, TIMELINE_MAX


class FakeClock:
    """A settable local clock."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def task_event(kind: str, uuid: str, when: float, hostname: str = "w1@h", **fields) -> dict:
    return {"type": f"task-{kind}", "uuid": uuid, "hostname": hostname, "timestamp": when,
            "local_received": when, "utcoffset": 0.0, "pid": 100, "clock": 1, **fields}


def worker_event(kind: str, hostname: str, when: float, freq: float = 2.0, **fields) -> dict:
    return {"type": f"worker-{kind}", "hostname": hostname, "timestamp": when,
            "local_received": when, "freq": freq, "utcoffset": 0.0, "pid": 100, "clock": 1,
            "active": 0, "processed": 0, "loadavg": [0.1, 0.2, 0.3], "sw_ident": "py-celery",
            "sw_ver": "5.7.0", "sw_sys": "Linux", **fields}


RECEIVED_FIELDS = {"name": "proj.add", "args": "(1, 2)", "kwargs": "{'z': 3}", "root_id": "r",
                   "parent_id": "p", "retries": 0, "eta": None, "expires": None}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock) -> ClusterState:
    return ClusterState(clock=clock)


# task state machine ------------------------------------------------------------------------
def test_public_names_are_the_contracts():
    state = ClusterState()
    assert isinstance(state.take_changes(), Changes)
    assert not hasattr(WorkerInfo("w"), "__dict__")
    assert not hasattr(TaskInfo("t"), "__dict__")


def test_received_started_succeeded(state):
    state.event(task_event("received", "a", 10.0, **RECEIVED_FIELDS))
    assert state.tasks["a"].state == "RECEIVED"
    state.event(task_event("started", "a", 11.0))
    assert state.tasks["a"].state == "STARTED"
    state.event(task_event("succeeded", "a", 12.5, result="3", runtime=1.5))
    task = state.tasks["a"]
    assert task.state == "SUCCESS"
    assert (task.name, task.args, task.kwargs, task.root_id, task.parent_id, task.retries) == (
        "proj.add", "(1, 2)", "{'z': 3}", "r", "p", 0)
    assert (task.received, task.started, task.succeeded, task.timestamp) == (10.0, 11.0, 12.5, 12.5)
    assert (task.result, task.runtime, task.hostname) == ("3", 1.5, "w1@h")
    assert task.timeline == [("RECEIVED", 10.0), ("STARTED", 11.0), ("SUCCESS", 12.5)]
    assert state.malformed == 0 and state.events_seen == 3


def test_late_received_fills_fields_but_keeps_success(state):
    state.event(task_event("started", "a", 11.0))
    state.event(task_event("succeeded", "a", 12.0, result="3", runtime=1.0))
    state.event(task_event("received", "a", 10.0, **dict(RECEIVED_FIELDS, retries=2,
                                                          eta="2026-01-01T00:00:00")))
    task = state.tasks["a"]
    assert task.state == "SUCCESS"
    assert (task.name, task.args, task.retries, task.eta) == (
        "proj.add", "(1, 2)", 2, "2026-01-01T00:00:00")
    assert task.received == 10.0
    assert task.timestamp == 12.0  # the latest event's time, not the late one's
    assert [entry[0] for entry in task.timeline] == ["STARTED", "SUCCESS", "RECEIVED"]


def test_late_received_fields_win_over_earlier_ones(state):
    state.event(task_event("sent", "a", 9.0, hostname="client@h", name="alias", args="()"))
    state.event(task_event("succeeded", "a", 12.0))
    state.event(task_event("received", "a", 10.0, **RECEIVED_FIELDS))
    assert state.tasks["a"].name == "proj.add"
    assert state.tasks["a"].args == "(1, 2)"


def test_late_events_other_than_received_only_fill_empty_fields(state):
    state.event(task_event("received", "a", 10.0, **RECEIVED_FIELDS))
    state.event(task_event("sent", "a", 9.0, hostname="client@h", name="other", args="(9,)",
                           queue="q1", exchange="", routing_key="q1"))
    task = state.tasks["a"]
    assert task.state == "RECEIVED"
    assert (task.name, task.args) == ("proj.add", "(1, 2)")
    assert (task.queue, task.routing_key, task.client, task.sent) == ("q1", "q1", "client@h", 9.0)


def test_late_started_does_not_reopen_a_finished_task(state):
    state.event(task_event("received", "a", 10.0, **RECEIVED_FIELDS))
    state.event(task_event("failed", "a", 12.0, exception="KeyError('x')", traceback="tb"))
    state.event(task_event("started", "a", 11.0))
    task = state.tasks["a"]
    assert task.state == "FAILURE"
    assert (task.exception, task.traceback, task.started, task.failed) == (
        "KeyError('x')", "tb", 11.0, 12.0)


def test_retried_then_received_again(state):
    uuid = "a"
    state.event(task_event("received", uuid, 10.0, **RECEIVED_FIELDS))
    state.event(task_event("started", uuid, 11.0))
    state.event(task_event("retried", uuid, 12.0, exception="Retry('again')", traceback="tb"))
    assert state.tasks[uuid].state == "RETRY"
    state.event(task_event("received", uuid, 13.0, **dict(RECEIVED_FIELDS, retries=1)))
    assert state.tasks[uuid].state == "RECEIVED"
    assert state.tasks[uuid].retries == 1
    state.event(task_event("started", uuid, 14.0))
    state.event(task_event("succeeded", uuid, 15.0, runtime=0.5))
    task = state.tasks[uuid]
    assert task.state == "SUCCESS"
    assert [entry[0] for entry in task.timeline] == [
        "RECEIVED", "STARTED", "RETRY", "RECEIVED", "STARTED", "SUCCESS"]
    assert (task.received, task.retried) == (13.0, 12.0)
    assert state.totals["received"] == 2 and state.totals["retried"] == 1
    assert state.task_types["proj.add"].counts["received"] == 2


def test_unknown_task_event_becomes_its_upper_case_state(state):
    state.event(task_event("received", "a", 10.0, **RECEIVED_FIELDS))
    state.event(task_event("started", "a", 11.0))
    state.event(task_event("cancelled", "a", 12.0))
    assert state.tasks["a"].state == "CANCELLED"
    state.event(task_event("started", "a", 11.5))  # STARTED ranks below a custom state
    assert state.tasks["a"].state == "CANCELLED"
    state.event(task_event("succeeded", "a", 13.0))  # SUCCESS ranks above it
    assert state.tasks["a"].state == "SUCCESS"
    assert state.totals["cancelled"] == 1
    assert state.task_types["proj.add"].counts["cancelled"] == 1


def test_revoked_and_rejected_fields_are_coerced(state):
    state.event(task_event("revoked", "a", 10.0, terminated="true", signum="15", expired=0))
    task = state.tasks["a"]
    assert (task.state, task.terminated, task.signum, task.expired) == (
        "REVOKED", True, "15", False)
    state.event(task_event("revoked", "b", 10.0, terminated=True, signum=9.0, expired=False))
    assert state.tasks["b"].signum == 9
    state.event(task_event("rejected", "c", 10.0, requeue=False))
    assert (state.tasks["c"].state, state.tasks["c"].requeue) == ("REJECTED", False)
    assert state.workers["w1@h"].revoked == 2 and state.workers["w1@h"].rejected == 1


def test_task_sent_comes_from_a_client_not_a_worker(state):
    state.event(task_event("sent", "a", 9.0, hostname="gen42@client", name="proj.add",
                           queue="celery", exchange="", routing_key="celery"))
    task = state.tasks["a"]
    assert (task.state, task.client, task.hostname) == ("PENDING", "gen42@client", None)
    assert state.workers == {}
    assert state.totals["sent"] == 1


def test_task_event_from_an_unknown_worker_creates_it(state, clock):
    state.event(task_event("received", "a", 10.0, hostname="new@h", **RECEIVED_FIELDS))
    worker = state.workers["new@h"]
    assert worker.received == 1
    # As in Celery, a node's task events are a sign of life.
    assert worker.last_heartbeat == 10.0
    assert worker.status(10.5) == "online"
    assert worker.status(10.0 + 2 * worker.freq + 0.1) == "offline"


def test_task_event_does_not_bring_back_a_node_that_left(state):
    state.event({"type": "worker-offline", "hostname": "gone@h", "timestamp": 5.0,
                 "local_received": 5.0, "freq": 2.0})
    state.event(task_event("succeeded", "late", 5.5, hostname="gone@h"))
    assert state.workers["gone@h"].status(5.6) == "offline"


def test_timeline_is_capped(state):
    for index in range(TIMELINE_MAX + 10):
        state.event(task_event("retried", "a", float(index)))
    timeline = state.tasks["a"].timeline
    assert len(timeline) == TIMELINE_MAX
    assert timeline[-1] == ("RETRY", float(TIMELINE_MAX + 9))


# LRU caps ---------------------------------------------------------------------------------
def test_tasks_are_evicted_least_recently_touched_first(clock):
    state = ClusterState(max_tasks=3, clock=clock)
    for name in "abc":
        state.event(task_event("received", name, 10.0))
    state.take_changes()
    state.event(task_event("started", "a", 11.0))  # "a" is now the most recent
    state.event(task_event("received", "d", 12.0))
    assert list(state.tasks) == ["c", "a", "d"]
    changes = state.take_changes()
    assert changes.evicted_tasks == {"b"}
    assert changes.tasks == {"a", "d"}
    state.event(task_event("received", "e", 13.0))
    state.event(task_event("received", "b", 14.0))  # back again: no longer "evicted"
    changes = state.take_changes()
    assert changes.evicted_tasks == {"c", "a"}
    assert changes.tasks == {"e", "b"}
    assert len(state.tasks) == 3


def test_evicted_then_touched_again_in_the_same_interval(clock):
    state = ClusterState(max_tasks=1, clock=clock)
    state.event(task_event("received", "a", 10.0))
    state.event(task_event("received", "b", 11.0))
    state.event(task_event("started", "a", 12.0))  # evicts "b", re-creates "a"
    changes = state.take_changes()
    assert changes.tasks == {"a"} and changes.evicted_tasks == {"b"}
    assert state.tasks["a"].state == "STARTED"


def test_workers_are_evicted_at_their_cap(clock):
    state = ClusterState(max_workers=2, clock=clock)
    for host in ("w1", "w2"):
        state.event(worker_event("heartbeat", host, 10.0))
    state.event(worker_event("heartbeat", "w1", 11.0))
    state.event(worker_event("heartbeat", "w3", 12.0))
    assert list(state.workers) == ["w1", "w3"]
    changes = state.take_changes()
    assert changes.evicted_workers == {"w2"}
    assert changes.workers == {"w1", "w3"}


def test_memory_stays_bounded_without_anyone_taking_changes(clock):
    state = ClusterState(max_tasks=50, clock=clock)
    for index in range(1000):
        state.event(task_event("received", f"t{index}", 10.0 + index))
    changes = state.take_changes()
    assert not changes.full_refresh and len(changes.evicted_tasks) == 950
    for index in range(3000):
        state.event(task_event("received", f"u{index}", 10.0 + index))
    assert len(state.tasks) == 50
    changes = state.take_changes()
    assert changes.full_refresh
    assert len(changes.evicted_tasks) <= 1024 and len(changes.tasks) <= 50


def test_clear_tasks(state):
    state.event(task_event("received", "a", 10.0, **RECEIVED_FIELDS))
    state.event(task_event("succeeded", "b", 10.0))
    state.take_changes()
    state.clear_tasks(ready_only=True)
    assert list(state.tasks) == ["a"]
    assert state.take_changes().evicted_tasks == {"b"}
    state.clear_tasks()
    assert state.tasks == {}
    assert state.take_changes().full_refresh
    assert state.totals["succeeded"] == 1  # counters are cumulative


# liveness ----------------------------------------------------------------------------------
def test_online_late_offline_by_heartbeat_age(state, clock):
    state.event(worker_event("online", "w1", 100.0))
    worker = state.workers["w1"]
    assert worker.status(100.5) == "online"
    assert worker.status(102.9) == "online"
    assert worker.status(103.0) == "late"  # 1.5 x freq without a heartbeat
    assert worker.alive(103.99)
    assert worker.status(103.99) == "late"
    assert worker.status(104.0) == "offline"  # Celery's 2 x freq
    assert not worker.alive(104.0)
    clock.now = 103.5
    assert [w.hostname for w in state.alive_workers()] == ["w1"]
    clock.now = 104.5
    assert state.alive_workers() == []


def test_worker_offline_is_immediate_and_a_later_heartbeat_revives(state):
    state.event(worker_event("heartbeat", "w1", 100.0))
    state.event(worker_event("offline", "w1", 100.5))
    worker = state.workers["w1"]
    assert worker.offline and worker.status(100.6) == "offline"
    assert state.alive_workers(100.6) == []
    state.event(worker_event("online", "w1", 110.0))
    assert not worker.offline and worker.status(110.1) == "online"


def test_heartbeats_keep_the_last_four_receive_times_and_the_event_fields(state):
    for index in range(6):
        state.event(worker_event("heartbeat", "w1", 100.0 + 2 * index, active=index,
                                 processed=10 * index))
    worker = state.workers["w1"]
    assert list(worker.heartbeats) == [104.0, 106.0, 108.0, 110.0]
    assert len(worker.heartbeats) == HEARTBEATS_KEPT
    assert (worker.active, worker.processed, worker.pid, worker.freq) == (5, 50, 100, 2.0)
    assert (worker.sw_ident, worker.sw_ver, worker.sw_sys) == ("py-celery", "5.7.0", "Linux")
    assert worker.loadavg == [0.1, 0.2, 0.3]


def test_freq_from_the_event_sets_the_thresholds(state):
    # The ``heartbeat`` control command makes a worker send freq=5 and no load fields.
    state.event({"type": "worker-heartbeat", "hostname": "w1", "freq": 5, "timestamp": 100.0,
                 "local_received": 100.0, "sw_ident": "py-celery"})
    worker = state.workers["w1"]
    assert worker.status(107.0) == "online"
    assert worker.status(108.0) == "late"
    assert worker.status(110.0) == "offline"


def test_local_time_prefers_local_received_then_timestamp_then_clock(state, clock):
    state.event({"type": "worker-heartbeat", "hostname": "a", "timestamp": 50.0,
                 "local_received": 60.0})
    state.event({"type": "worker-heartbeat", "hostname": "b", "timestamp": 50.0})
    state.event({"type": "worker-heartbeat", "hostname": "c"})
    assert state.workers["a"].last_heartbeat == 60.0
    assert state.workers["a"].drift == 10.0
    assert state.workers["b"].last_heartbeat == 50.0
    assert state.workers["c"].last_heartbeat == clock.now


# counters and rates --------------------------------------------------------------------------
def test_counters_per_node_per_type_and_cluster(state):
    for index, host in enumerate(["w1", "w1", "w2"]):
        uuid = f"t{index}"
        state.event(task_event("received", uuid, 10.0, hostname=host, **RECEIVED_FIELDS))
        state.event(task_event("started", uuid, 11.0, hostname=host))
        state.event(task_event("succeeded", uuid, 12.0, hostname=host, runtime=float(index + 1)))
    state.event(task_event("received", "x", 10.0, hostname="w2", name="proj.mul"))
    state.event(task_event("failed", "x", 11.0, hostname="w2", exception="E()"))
    w1, w2 = state.workers["w1"], state.workers["w2"]
    assert (w1.received, w1.started, w1.succeeded, w1.failed) == (2, 2, 2, 0)
    assert (w2.received, w2.started, w2.succeeded, w2.failed) == (2, 1, 1, 1)
    assert {key: state.totals[key] for key in ("received", "started", "succeeded", "failed")} == {
        "received": 4, "started": 3, "succeeded": 3, "failed": 1}
    add = state.task_types["proj.add"]
    assert (add.counts["received"], add.counts["succeeded"], add.counts["failed"]) == (3, 3, 0)
    assert (add.runtime_total, add.runtime_max, add.runtime_count) == (6.0, 3.0, 3)
    assert add.runtime_avg == 2.0
    assert state.task_types["proj.mul"].counts["failed"] == 1
    assert state.task_types["proj.mul"].runtime_avg is None


def test_throughput_and_history_from_per_second_buckets(clock):
    state = ClusterState(clock=clock, rate_window=10)
    for index in range(3):
        state.event(task_event("succeeded", f"s{index}", 100.2 + index / 10))
    for index in range(2):
        state.event(task_event("failed", f"f{index}", 101.5))
    state.event(task_event("started", "other", 101.6))  # not a finish
    state.event(task_event("succeeded", "late", 105.9))
    assert state.throughput(now=110.0) == pytest.approx(0.6)
    assert state.throughput(now=105.5) == pytest.approx(0.5)  # second 105 is still open
    assert state.rate_history(6, now=106.0) == [3, 2, 0, 0, 0, 1]
    clock.now = 111.0  # second 100 fell out of the 10 s window
    assert state.throughput() == pytest.approx(0.3)
    assert state.rate_history(3) == [0, 0, 0]


def test_rates_use_local_receive_time(clock):
    state = ClusterState(clock=clock)
    event = task_event("succeeded", "a", 50.0)
    event["local_received"] = 200.5
    state.event(event)
    assert state.rate_history(2, now=201.0) == [0, 1]
    assert state.tasks["a"].succeeded == 50.0


def test_old_seconds_leave_the_ring(clock):
    state = ClusterState(clock=clock, rate_window=2, history=4)
    state.event(task_event("succeeded", "a", 100.0))
    state.event(task_event("succeeded", "b", 200.0))
    assert state.rate_history(200, now=201.0).count(1) == 1  # 100 was overwritten
    state.event(task_event("succeeded", "c", 100.0))  # too old for its bucket: dropped
    assert state.rate_history(3, now=201.0) == [0, 0, 1]


# polls --------------------------------------------------------------------------------------
def test_update_inspect_stores_each_reply(state, clock):
    active = [{"id": "a", "name": "proj.add", "args": [1], "time_start": 99.0}]
    replies = {
        "active": active, "reserved": [], "scheduled": [{"eta": None, "priority": 6,
                                                          "request": active[0]}],
        "revoked": ["x", "y"], "registered": ["proj.add", "proj.mul [rate_limit=10/m]"],
        "active_queues": [{"name": "celery"}], "stats": {"pid": 7, "clock": "54"},
        "conf": {"worker_concurrency": 2},
    }
    for command, reply in replies.items():
        state.update_inspect("w1@h", command, reply, now=500.0)
    worker = state.workers["w1@h"]
    assert worker.active_tasks == active and worker.reserved_tasks == []
    assert worker.scheduled_tasks[0]["priority"] == 6
    assert worker.revoked_ids == ["x", "y"]
    assert worker.registered == replies["registered"]
    assert worker.queues == [{"name": "celery"}]
    assert worker.stats == {"pid": 7, "clock": "54"}
    assert worker.conf == {"worker_concurrency": 2}
    assert worker.inspected_at == 500.0
    assert worker.status(500.0) == "offline"  # seen only by polls: no heartbeat yet
    assert state.take_changes().workers == {"w1@h"}
    clock.now = 600.0
    state.update_inspect("w1@h", "ping", {"ok": "pong"})
    assert worker.inspected_at == 600.0


def test_update_inspect_keeps_the_last_good_reply_on_errors(state):
    state.update_inspect("w1", "active", [{"id": "a"}], now=1.0)
    state.update_inspect("w1", "active", {"error": "no such command"}, now=2.0)
    state.update_inspect("w1", "stats", None, now=2.0)
    worker = state.workers["w1"]
    assert worker.active_tasks == [{"id": "a"}]
    assert worker.inspect_errors == {"active": "no such command",
                                     "stats": "unexpected NoneType reply to stats"}
    state.update_inspect("w1", "active", (), now=3.0)
    assert worker.active_tasks == [] and "active" not in worker.inspect_errors
    with pytest.raises(ValueError):
        state.update_inspect("w1", "query_task", {})
    with pytest.raises(ValueError):
        state.update_inspect("w9", "query_task", {})
    assert "w9" not in state.workers


# tolerant input -----------------------------------------------------------------------------
@pytest.mark.parametrize("event", [
    None, [], "task-received", 42, {}, {"type": None}, {"type": ["task-received"]},
    {"type": "task-received"}, {"type": "task-received", "uuid": 7},
    {"type": "task-received", "uuid": ""}, {"type": "worker-heartbeat"},
    {"type": "worker-heartbeat", "hostname": 5},
])
def test_malformed_events_are_counted_and_ignored(state, event):
    state.event(event)
    assert (state.events_seen, state.malformed) == (1, 1)
    assert state.tasks == {} and state.workers == {}


def test_events_of_other_groups_are_ignored(state):
    state.ingest([{"type": "foo"}, {"type": "foo-bar", "hostname": "x"}])
    assert (state.events_seen, state.ignored, state.malformed) == (2, 2, 0)
    assert state.workers == {}


def test_odd_field_types_are_read_without_raising(state):
    state.event({"type": "worker-heartbeat", "hostname": "w1", "freq": "2.5",
                 "utcoffset": -6, "pid": "123", "clock": Decimal("7"), "active": 1.0,
                 "processed": "x", "loadavg": ["0.5", None, 1], "timestamp": "100.0",
                 "local_received": 100.0})
    worker = state.workers["w1"]
    assert (worker.freq, worker.utcoffset, worker.pid, worker.clock) == (2.5, -6.0, 123, 7)
    assert (worker.active, worker.processed, worker.loadavg) == (1, 0, [0.5, 1.0])
    state.event({"type": "worker-heartbeat", "hostname": "w1", "freq": -1, "loadavg": "high",
                 "local_received": 101.0})
    assert worker.freq == 2.5 and worker.loadavg == []
    state.event({"type": "task-succeeded", "uuid": "a", "hostname": "w1", "runtime": "0.25",
                 "result": {"not": "a repr"}, "timestamp": math.nan, "local_received": 102.0})
    task = state.tasks["a"]
    assert (task.runtime, task.result, task.succeeded) == (0.25, "{'not': 'a repr'}", 102.0)
    state.event({"type": "task-received", "uuid": "b", "hostname": ["w1"], "retries": "2",
                 "name": "proj.add", "local_received": "soon", "timestamp": 1e20})
    assert state.tasks["b"].retries == 2
    assert state.tasks["b"].received == state.clock()
    assert state.malformed == 0


# differential: the same stream into Celery's State ------------------------------------------------
def _differential_stream(rng: random.Random, tasks: int, end: float) -> list[dict]:
    """Tasks in every order the monitor can meet, on three busy nodes, plus nodes that
    stop, leave, come back, or beat slowly; times run up to ``end``."""
    busy = ["w0@h", "w1@h", "w2@h"]
    sequences = []
    for index in range(tasks):
        uuid = str(uuidlib.UUID(int=rng.getrandbits(128)))
        host = busy[index % 3]
        received = ("received", dict(RECEIVED_FIELDS, name=f"proj.t{index % 4}"))
        started, done = ("started", {}), ("succeeded", {"result": "1", "runtime": 0.1})
        scenario = rng.randrange(10)
        if scenario == 0:
            steps = [received, started, ("failed", {"exception": "E()", "traceback": "tb"})]
        elif scenario == 1:
            steps = [received, started, ("retried", {"exception": "Retry()"}), received,
                     started, done]
        elif scenario == 2:
            steps = [received, ("revoked", {"terminated": False, "signum": None,
                                            "expired": True})]
        elif scenario == 3:
            steps = [received, started, ("rejected", {"requeue": False})]
        elif scenario == 4:
            steps = [received, started, ("cancelled", {})]
        elif scenario == 5:
            sent = ("sent", {"name": received[1]["name"], "args": "(1, 2)", "queue": "celery"})
            steps = [sent, received, started, done]
        else:
            steps = [received, started, done]
        if rng.random() < 0.35:  # out of order: a random swap of two steps
            i, j = rng.randrange(len(steps)), rng.randrange(len(steps))
            steps[i], steps[j] = steps[j], steps[i]
        sequences.append([(kind, uuid, host, fields) for kind, fields in steps])

    merged = []
    cursors = [iter(sequence) for sequence in sequences]
    while cursors:
        pick = rng.randrange(min(len(cursors), 8))  # a few tasks in flight at a time
        step = next(cursors[pick], None)
        if step is None:
            cursors.pop(pick)
        else:
            merged.append(step)

    span = 20.0
    start = end - span
    gap = span / len(merged)
    stream = []
    clock = 0
    for position, (kind, uuid, host, fields) in enumerate(merged):
        when = start + position * gap
        clock += 1
        sender = "gen9@client" if kind == "sent" else host
        stream.append(task_event(kind, uuid, when, hostname=sender, clock=clock, **fields))

    def beats(host: str, begin: float, last: float, freq: float = 2.0) -> list[dict]:
        count = int((last - begin) / freq) + 1
        return [worker_event("heartbeat", host, last - step * freq, freq=freq)
                for step in range(count)]

    nodes = [worker_event("online", host, start) for host in busy]
    for host in busy:
        nodes += beats(host, start + 0.1, end - 0.5)  # alive to the end
    nodes += beats("gone@h", start, start + 8.0)  # stopped beating 12 s ago
    nodes += beats("left@h", start, start + 10.0)
    nodes.append(worker_event("offline", "left@h", start + 11.0))
    nodes += beats("back@h", start, start + 5.0)
    nodes.append(worker_event("offline", "back@h", start + 5.5))
    nodes += beats("back@h", start + 9.0, end - 1.0)
    nodes += beats("slow@h", start, end - 7.0, freq=5.0)  # 7 s ago, but 2 x 5 s window
    nodes += beats("quiet@h", start, end - 3.5)  # 3.5 s ago: late, still alive
    nodes += beats("stale@h", start, end - 5.0)  # 5 s ago: past 2 x 2 s
    stream += nodes
    stream.sort(key=lambda event: event["local_received"])
    return stream


def _celery_state(stream: list[dict], **caps):
    from celery.events.state import State

    theirs = State(**caps)
    for event in stream:
        theirs.event(dict(event))  # Celery's State mutates the dicts it is given
    return theirs


def test_same_final_states_and_alive_workers_as_celery():
    rng = random.Random(7)
    stream = _differential_stream(rng, tasks=600, end=time.time())
    ours = ClusterState()
    ours.ingest([dict(event) for event in stream])
    theirs = _celery_state(stream)
    now = time.time()

    assert ours.malformed == 0
    assert set(ours.tasks) == set(theirs.tasks.keys())
    mismatched = {uuid: (ours.tasks[uuid].state, task.state)
                  for uuid, task in theirs.tasks.items() if ours.tasks[uuid].state != task.state}
    assert mismatched == {}
    assert {uuid: task.name for uuid, task in theirs.tasks.items()} == {
        uuid: task.name for uuid, task in ours.tasks.items()}
    # REJECTED ranks below STARTED in Celery's precedence, so a rejection after the start
    # leaves a task STARTED in both models.
    states = {task.state for task in ours.tasks.values()}
    assert {"SUCCESS", "FAILURE", "REVOKED", "CANCELLED", "STARTED", "RETRY"} <= states

    alive_theirs = {worker.hostname for worker in theirs.alive_workers()}
    alive_ours = {worker.hostname for worker in ours.alive_workers(now)}
    assert alive_ours == alive_theirs == {"w0@h", "w1@h", "w2@h", "back@h", "slow@h",
                                          "quiet@h"}
    assert ours.workers["quiet@h"].status(now) == "late"
    assert ours.workers["gone@h"].status(now) == "offline"
    assert ours.workers["left@h"].offline


def test_same_tasks_kept_as_celery_at_the_cap_for_an_in_order_stream():
    # In order, every task is touched only while it is the newest, so touch order and
    # Celery's insertion order agree on which tasks the cap keeps.
    end = time.time()
    stream = []
    for index in range(500):
        uuid = f"task-{index:04d}"
        when = end - 10 + index / 50
        stream += [task_event("received", uuid, when, **RECEIVED_FIELDS),
                   task_event("started", uuid, when + 0.005),
                   task_event("succeeded", uuid, when + 0.01)]
    ours = ClusterState(max_tasks=100, max_workers=5000)
    ours.ingest([dict(event) for event in stream])
    theirs = _celery_state(stream, max_tasks_in_memory=100, max_workers_in_memory=5000)
    assert list(ours.tasks) == list(theirs.tasks.keys())
    assert len(ours.tasks) == 100
    assert all(task.state == "SUCCESS" for task in ours.tasks.values())
