"""Celery 5.7's own CLI drives a real ``tuiq worker``, and mixed clusters share revokes.

* ``celery inspect ... -j`` against a tuiq node prints Celery-shaped JSON
  (PROTOCOL.md §2.5, §2.6);
* ``celery control ...`` gets Celery-shaped replies and the changes really happen
  (a revoked id ends REVOKED, a new consumer gets tasks, shutdown exits 0);
* start-up sync (mingle) carries revoked ids from a Celery node to a starting tuiq
  node and back (§3.2);
* a Celery state file (``-S``) is read by tuiq's StateDB and by a tuiq worker (§3.3).

Every test runs on Redis and on RabbitMQ, with workers and queues of its own.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from celery.exceptions import TaskRevokedError
from kombu import Exchange, Queue

from tests.compat.cluster import CeleryNode, celery_cli, cli_json, wait_for_log
from tests.compat.helpers import RESULT_EXPIRES, Node, delete_queues, get_result
from tests.integration.helpers import tuiq_cli
from tests.support.brokers import unique
from tests.support.polling import wait_until
from tests.support.testproj import app as testproj_app
from tests.support.workers import WorkerProcess, start_worker
from tuiq.worker.statedb import StateDB

#: Keys of Celery's TASK_INFO (``active``, ``reserved``, ``scheduled[].request``).
TASK_INFO_KEYS = {"id", "name", "type", "args", "kwargs", "hostname", "time_start",
                  "acknowledged", "delivery_info", "worker_pid"}
STATS_KEYS = {"total", "pid", "clock", "uptime", "pool", "broker", "prefetch_count", "rusage"}
RUSAGE_KEYS = {"utime", "stime", "maxrss", "minflt", "majflt", "nvcsw", "nivcsw"}
CLI_TIMEOUT = "5"


# helpers --------------------------------------------------------------------------------------
def _start_tuiq(tmp_path, env, client, queues, extra=()) -> WorkerProcess:
    return start_worker(tmp_path, env.broker_url, env.backend_url, name=unique("tcli"),
                        queues=queues, extra=["-c", "2", *extra], ping_app=client,
                        env={"TUIQ_RESULT_EXPIRES": str(RESULT_EXPIRES)})


def _node(worker: WorkerProcess) -> Node:
    return Node(worker.nodename, worker.log, lambda: worker.process.poll() is None)


def _inspect(env, node: str, command: str, *args: str):
    """``celery inspect COMMAND ARGS -d node -j``: the node's reply (the only key)."""
    replies = cli_json(celery_cli(env, "inspect", command, *args, "-d", node,
                                  "-t", CLI_TIMEOUT, "-j"))
    assert list(replies) == [node], replies
    return replies[node]


def _control(env, node: str, command: str, *args: str):
    """``celery control COMMAND ARGS -d node -j``: the node's reply (a one-item list)."""
    replies = cli_json(celery_cli(env, "control", command, *args, "-d", node,
                                  "-t", CLI_TIMEOUT, "-j"))
    assert len(replies) == 1 and list(replies[0]) == [node], replies
    return replies[0][node]


def _tuiq_revoked(env, node: str) -> list[str]:
    result = tuiq_cli(["-b", env.broker_url, "inspect", "revoked", "-d", node,
                       "-t", CLI_TIMEOUT, "-j"])
    return cli_json(result)[node]


def _assert_revoked(celery_client, queue: str, task_id: str, *nodes: Node) -> None:
    """A task sent with ``task_id`` to ``queue`` ends REVOKED instead of running."""
    result = celery_client.send_task("testproj.add", (1, 2), queue=queue, task_id=task_id)
    with pytest.raises(TaskRevokedError):
        get_result(result, *nodes, timeout=15)
    assert result.state == "REVOKED"


def _queue_names(env, node: str) -> list[str]:
    return [queue["name"] for queue in _inspect(env, node, "active_queues")]


# one tuiq worker per broker for the inspect and control tests ---------------------------------
@pytest.fixture(scope="module")
def subject(env, tuiq_client, tmp_path_factory):
    """A tuiq worker (prefork, 2 processes) of this module's, and the queue it consumes."""
    queue = unique("cli-t")
    worker = _start_tuiq(tmp_path_factory.mktemp("cli-tuiq"), env, tuiq_client, [queue])
    try:
        yield _node(worker), queue, worker
    finally:
        worker.stop()
        delete_queues(env, [queue])


# 1. celery inspect ----------------------------------------------------------------------------
def test_inspect_ping(env, subject):
    node, _queue, _worker = subject
    assert cli_json(celery_cli(env, "inspect", "ping", "-d", node.name, "-t", CLI_TIMEOUT,
                               "-j")) == {node.name: {"ok": "pong"}}


def test_inspect_stats(env, subject):
    node, _queue, worker = subject
    stats = _inspect(env, node.name, "stats")
    assert STATS_KEYS <= set(stats), stats
    assert stats["pid"] == worker.pid
    assert isinstance(stats["clock"], str) and int(stats["clock"]) > 0
    assert isinstance(stats["uptime"], int)
    assert isinstance(stats["total"], dict)
    pool = stats["pool"]
    assert pool["max-concurrency"] == 2
    assert len(pool["processes"]) == 2
    assert stats["broker"]["transport"] == ("redis" if env.kind == "redis" else "amqp")
    assert stats["broker"]["hostname"] == "127.0.0.1"
    assert isinstance(stats["prefetch_count"], int) and stats["prefetch_count"] > 0
    assert RUSAGE_KEYS <= set(stats["rusage"])


def test_inspect_registered_lists_the_tuiq_projects_tasks(env, subject):
    node, _queue, _worker = subject
    registered = _inspect(env, node.name, "registered")
    assert registered == sorted(registered)
    expected = sorted(name for name in testproj_app.tasks if not name.startswith("celery."))
    assert [entry.split(" [")[0] for entry in registered] == expected
    assert "testproj.limited [rate_limit=5/s]" in registered


def test_inspect_active_queues_is_kombus_queue_as_dict(env, subject):
    node, queue, _worker = subject
    expected = Queue(queue, Exchange(queue, "direct"), routing_key=queue).as_dict(recurse=True)
    assert _inspect(env, node.name, "active_queues") == [expected]


def test_inspect_active_reserved_scheduled(env, subject, celery_client):
    node, queue, worker = subject
    # Two sleeps fill both processes, the third waits in ``reserved``; the countdown
    # task waits for its ETA in ``scheduled``.
    running = [celery_client.send_task("testproj.sleep", (5,), queue=queue) for _ in range(2)]
    waiting = celery_client.send_task("testproj.sleep", (1,), queue=queue)
    later = celery_client.send_task("testproj.add", (2, 2), queue=queue, countdown=8)
    try:
        active = wait_until(lambda: (lambda a: a if len(a) == 2 else None)(
            _inspect(env, node.name, "active")), timeout=15,
            message=lambda: f"two sleeps never active:\n{worker.log()[-3000:]}")
        assert {info["id"] for info in active} == {r.id for r in running}
        pids = set(_inspect(env, node.name, "stats")["pool"]["processes"])
        for info in active:
            assert set(info) == TASK_INFO_KEYS, info
            assert info["name"] == info["type"] == "testproj.sleep"
            assert info["args"] == [5] and info["kwargs"] == {}
            assert info["hostname"] == node.name
            assert info["acknowledged"] is True
            assert isinstance(info["time_start"], float)
            assert info["time_start"] <= time.time()
            assert info["delivery_info"]["routing_key"] == queue
            assert info["delivery_info"]["redelivered"] is False
            assert info["worker_pid"] in pids

        reserved = _inspect(env, node.name, "reserved")
        assert [info["id"] for info in reserved] == [waiting.id], reserved
        assert set(reserved[0]) == TASK_INFO_KEYS
        assert reserved[0]["args"] == [1]
        assert reserved[0]["time_start"] is None

        scheduled = _inspect(env, node.name, "scheduled")
        assert len(scheduled) == 1, scheduled
        [entry] = scheduled
        assert set(entry) == {"eta", "priority", "request"}
        assert isinstance(entry["priority"], int)
        assert datetime.fromisoformat(entry["eta"]).timestamp() > time.time()
        assert entry["request"]["id"] == later.id
        assert set(entry["request"]) == TASK_INFO_KEYS
        assert entry["request"]["name"] == "testproj.add"
        assert entry["request"]["args"] == [2, 2]
    finally:
        for result in (*running, waiting):
            get_result(result, node)
        assert get_result(later, node) == 4


# 2. celery control ----------------------------------------------------------------------------
def test_control_revoke_makes_a_later_task_revoked(env, subject, celery_client):
    node, queue, _worker = subject
    task_id = unique("cli-revoked")
    assert _control(env, node.name, "revoke", task_id) == {
        "ok": f"tasks {{'{task_id}'}} flagged as revoked"}
    assert task_id in _inspect(env, node.name, "revoked")
    _assert_revoked(celery_client, queue, task_id, node)


def test_control_rate_limit(env, subject, celery_client):
    node, queue, _worker = subject
    assert _control(env, node.name, "rate_limit", "testproj.now", "60/m") == {
        "ok": "new rate limit set successfully"}
    assert "testproj.now [rate_limit=60/m]" in _inspect(env, node.name, "registered")
    # One a second: three tasks sent at once take about two seconds between the ends.
    results = [celery_client.send_task("testproj.now", queue=queue) for _ in range(3)]
    times = sorted(get_result(result, node)["time"] for result in results)
    assert times[-1] - times[0] >= 1.5, times
    assert _control(env, node.name, "rate_limit", "testproj.now", "0") == {
        "ok": "rate limit disabled successfully"}
    assert _control(env, node.name, "rate_limit", "no.such.task", "1/s") == {
        "error": "unknown task"}


def test_control_time_limit(env, subject, celery_client):
    node, queue, _worker = subject
    assert _control(env, node.name, "time_limit", "testproj.tracked", "1", "2") == {
        "ok": "time limits set successfully"}
    registered = _inspect(env, node.name, "registered", "time_limit", "soft_time_limit")
    assert "testproj.tracked [time_limit=2.0 soft_time_limit=1.0]" in registered
    started = time.monotonic()
    result = celery_client.send_task("testproj.tracked", (20,), queue=queue)
    get_result(result, node, propagate=False)
    assert result.state == "FAILURE"
    assert "TimeLimitExceeded" in type(result.result).__name__, repr(result.result)
    assert time.monotonic() - started < 10
    assert _control(env, node.name, "time_limit", "no.such.task", "1", "2") == {
        "error": "unknown task"}


def test_control_add_and_cancel_consumer(env, subject, celery_client):
    node, _queue, worker = subject
    extra = unique("cli-added")
    try:
        assert _control(env, node.name, "add_consumer", extra) == {
            "ok": f"add consumer {extra}"}
        wait_until(lambda: extra in _queue_names(env, node.name), timeout=15,
                   message=lambda: f"{extra} never consumed:\n{worker.log()[-3000:]}")
        result = celery_client.send_task("testproj.add", (20, 22), queue=extra)
        assert get_result(result, node) == 42
        assert _control(env, node.name, "cancel_consumer", extra) == {
            "ok": f"no longer consuming from {extra}"}
        wait_until(lambda: extra not in _queue_names(env, node.name), timeout=15,
                   message=f"{extra} still consumed")
    finally:
        delete_queues(env, [extra])


def test_control_pool_grow_and_shrink(env, subject):
    node, _queue, worker = subject

    def processes() -> int:
        return len(_inspect(env, node.name, "stats")["pool"]["processes"])

    assert _control(env, node.name, "pool_grow", "1") == {"ok": "pool will grow"}
    wait_until(lambda: processes() == 3, timeout=15,
               message=lambda: f"pool never grew:\n{worker.log()[-3000:]}")
    assert _control(env, node.name, "pool_shrink", "1") == {"ok": "pool will shrink"}
    wait_until(lambda: processes() == 2, timeout=15,
               message=lambda: f"pool never shrank:\n{worker.log()[-3000:]}")


def test_plain_text_output_and_status(env, subject):
    node, _queue, _worker = subject
    stats = celery_cli(env, "inspect", "stats", "-d", node.name, "-t", CLI_TIMEOUT)
    assert stats.returncode == 0, (stats.stdout, stats.stderr)
    assert f"{node.name}: OK" in stats.stdout
    assert '"prefetch_count"' in stats.stdout
    assert "1 node online." in stats.stdout
    status = celery_cli(env, "status", "-d", node.name, "-t", CLI_TIMEOUT)
    assert status.returncode == 0, (status.stdout, status.stderr)
    assert f"{node.name}: OK" in status.stdout
    error = celery_cli(env, "control", "rate_limit", "no.such.task", "1/s", "-d", node.name,
                       "-t", CLI_TIMEOUT)
    # Celery's CLI prints an error reply and still exits 0.
    assert error.returncode == 0, (error.stdout, error.stderr)
    assert f"{node.name}: ERROR" in error.stdout
    assert "unknown task" in error.stdout


def test_control_shutdown_stops_the_tuiq_worker(env, tuiq_client, tmp_path):
    queue = unique("cli-shutdown")
    worker = _start_tuiq(tmp_path, env, tuiq_client, [queue])
    try:
        result = celery_cli(env, "control", "shutdown", "-d", worker.nodename, "-t", "2",
                            "-j")
        # Like a Celery worker, tuiq does not answer shutdown, so Celery's CLI reports
        # that nobody replied; an ``ok`` reply would be acceptable as well.
        if result.returncode == 0:
            assert cli_json(result) == [{worker.nodename: {"ok": "shutting down"}}]
        else:
            assert result.returncode == 69, (result.stdout, result.stderr)
            assert "No nodes replied within time constraint" in result.stderr
        assert worker.wait(timeout=30) == 0, worker.log()[-3000:]
        assert "Got shutdown from remote" in worker.log()
    finally:
        worker.stop()
        delete_queues(env, [queue])


# 3. mixed cluster: revokes shared at start-up (mingle) ----------------------------------------
def test_starting_tuiq_worker_learns_a_celery_nodes_revokes(env, celery_client, tuiq_client,
                                                             tmp_path):
    celery_queue, tuiq_queue = unique("cli-mc"), unique("cli-mt")
    task_id = unique("cli-mingle-x")
    celery = CeleryNode(tmp_path, env, [celery_queue])
    try:
        celery.wait_for_ping(celery_client)
        assert _control(env, celery.nodename, "revoke", task_id) == {
            "ok": f"tasks {{'{task_id}'}} flagged as revoked"}
        worker = _start_tuiq(tmp_path, env, tuiq_client, [tuiq_queue])
        try:
            log = wait_for_log(worker.log, "mingle:")
            assert "mingle: sync with" in log, log[-3000:]
            assert task_id in _tuiq_revoked(env, worker.nodename)
            assert task_id in _inspect(env, worker.nodename, "revoked")
            _assert_revoked(celery_client, tuiq_queue, task_id, _node(worker))
        finally:
            worker.stop()
    finally:
        celery.stop()
        delete_queues(env, [celery_queue, tuiq_queue])


def test_starting_celery_worker_learns_a_tuiq_nodes_revokes(env, celery_client, tuiq_client,
                                                             tmp_path):
    celery_queue, tuiq_queue = unique("cli-mc"), unique("cli-mt")
    task_id = unique("cli-mingle-y")
    worker = _start_tuiq(tmp_path, env, tuiq_client, [tuiq_queue])
    try:
        wait_for_log(worker.log, "mingle:")
        assert _control(env, worker.nodename, "revoke", task_id) == {
            "ok": f"tasks {{'{task_id}'}} flagged as revoked"}
        celery = CeleryNode(tmp_path, env, [celery_queue], mingle=True)
        try:
            celery.wait_for_ping(celery_client)
            log = wait_for_log(celery.log, "mingle: sync with")
            assert "mingle: all alone" not in log
            assert task_id in _inspect(env, celery.nodename, "revoked")
            node = Node(celery.nodename, celery.log, celery.is_alive)
            _assert_revoked(celery_client, celery_queue, task_id, node)
        finally:
            celery.stop()
    finally:
        worker.stop()
        delete_queues(env, [celery_queue, tuiq_queue])


# 4. a Celery state file, read by tuiq ---------------------------------------------------------
def test_celery_statedb_is_read_by_tuiq(env, celery_client, tuiq_client, tmp_path):
    celery_queue, tuiq_queue = unique("cli-sc"), unique("cli-st")
    task_id = unique("cli-statedb")
    path = str(tmp_path / "c1.db")
    celery = CeleryNode(tmp_path, env, [celery_queue], statedb=path)
    try:
        celery.wait_for_ping(celery_client)
        assert _control(env, celery.nodename, "revoke", task_id) == {
            "ok": f"tasks {{'{task_id}'}} flagged as revoked"}
        assert celery.stop_and_wait() == 0, celery.log()[-3000:]
    finally:
        celery.stop()
        delete_queues(env, [celery_queue])

    ids, clock = StateDB(path).load()
    assert task_id in ids
    assert clock > 0

    # Without mingle the id can only come from the file.
    worker = _start_tuiq(tmp_path, env, tuiq_client, [tuiq_queue],
                         extra=["-S", path, "--without-mingle"])
    try:
        assert task_id in _tuiq_revoked(env, worker.nodename)
        assert task_id in _inspect(env, worker.nodename, "revoked")
        assert int(_inspect(env, worker.nodename, "clock")["clock"]) > clock
        _assert_revoked(celery_client, tuiq_queue, task_id, _node(worker))
        assert worker.stop() == 0, worker.log()[-3000:]
    finally:
        worker.stop()
        delete_queues(env, [tuiq_queue])
    # tuiq wrote its own keys at exit and still has the id.
    assert task_id in StateDB(path).load()[0]
