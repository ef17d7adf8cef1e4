"""Monitoring events from real workers on each broker (embedded Valkey, Redis, RabbitMQ).

One worker per broker runs with ``-E`` and a 0.5 s heartbeat for the task-event
tests; the tests that change a worker (events on/off at run time, shutdowns,
no heartbeat) start their own. Every broker is shared with other tests, so
events are always picked by node name or task id.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from kombu import Connection, Producer

import tuiq
from tests.integration.helpers import tuiq_cli
from tests.support.brokers import BROKERS, broker_urls, unique
from tests.support.eventlog import EventLog
from tests.support.polling import wait_until
from tests.support.redis_server import RedisServer
from tests.support.workers import ROOT, client_app, start_worker
from tuiq.exceptions import TaskRevokedError
from tuiq.protocol.events import event_exchange, make_event

HEARTBEAT = 0.5
COMMON = {"hostname", "utcoffset", "pid", "clock", "timestamp", "type", "local_received"}
WORKER_FIELDS = {"freq", "active", "processed", "loadavg", "sw_ident", "sw_ver", "sw_sys"}


class Monitored:
    """A ``-E`` worker on one broker, the event log watching it, and a client app."""

    def __init__(self, kind, broker_url, backend_url, worker, log, app, queue, spawned_at):
        self.kind = kind
        self.broker_url = broker_url
        self.backend_url = backend_url
        self.worker = worker
        self.log = log
        self.app = app
        self.queue = queue
        self.spawned_at = spawned_at

    @property
    def node(self) -> str:
        return self.worker.nodename

    def run(self, name: str, *args, **options):
        """Send a task to this worker's queue."""
        return self.app.send_task(name, args, queue=self.queue, **options)


@pytest.fixture(scope="module", params=BROKERS)
def monitored(request, embedded_url, tmp_path_factory):
    """A ``-E`` prefork worker (2 processes, heartbeat every 0.5 s) watched from its start."""
    broker_url, backend_url = broker_urls(request.param, embedded_url)
    app = client_app(broker_url, backend_url)
    log = EventLog(app).start()
    queue = unique("ev")
    spawned_at = time.time()
    worker = start_worker(tmp_path_factory.mktemp(f"events-{request.param}"), broker_url,
                          backend_url, name=unique("ev"), queues=[queue],
                          extra=["-c", "2", "-E", "--heartbeat-interval", str(HEARTBEAT)])
    yield Monitored(request.param, broker_url, backend_url, worker, log, app, queue,
                    spawned_at)
    try:
        assert worker.stop() == 0
        log.wait_for(lambda: log.of(worker.nodename, "worker-offline"),
                     f"no worker-offline from {worker.nodename} after TERM")
    finally:
        log.stop()
        app.close()
        delete_queues(broker_url, [queue])


@pytest.fixture
def fresh(broker, tmp_path):
    """For tests that start their own worker: URLs, a client app and a running event log."""
    kind, broker_url, backend_url = broker
    app = client_app(broker_url, backend_url)
    log = EventLog(app).start()
    started = []
    queues: list[str] = []

    def spawn(*extra: str, queue: str | None = None):
        queues.append(queue or unique("evq"))
        worker = start_worker(tmp_path, broker_url, backend_url, name=unique("evw"),
                              queues=[queues[-1]], extra=["-c", "1", *extra])
        started.append(worker)
        return worker

    yield app, log, spawn
    for worker in started:
        if worker.process.poll() is None:
            worker.stop()
    log.stop()
    app.close()
    delete_queues(broker_url, queues)


def delete_queues(broker_url: str, names: list[str]) -> None:
    """Remove the queues (and their exchanges) a test's workers declared."""
    from kombu import Exchange, Queue

    with Connection(broker_url) as conn:
        channel = conn.default_channel
        for name in names:
            exchange = Exchange(name, "direct")
            queue = Queue(name, exchange, routing_key=name)(channel)
            queue.declare()  # so kombu's Redis channel knows the binding to remove
            queue.delete()
            exchange(channel).delete()


def _types(events) -> list[str]:
    return [event["type"] for event in events]


# worker events ---------------------------------------------------------------------------
def test_worker_online_within_two_seconds(monitored):
    log = monitored.log
    online = log.wait_for(lambda: log.of(monitored.node, "worker-online"),
                          "no worker-online")[0]
    assert online["local_received"] - monitored.spawned_at < 2.0
    assert set(online) == COMMON | WORKER_FIELDS
    assert online["pid"] == monitored.worker.pid
    assert online["sw_ident"] == "py-tuiq"
    assert online["sw_ver"] == tuiq.__version__
    assert online["freq"] == HEARTBEAT


def test_heartbeats_carry_freq_and_counters(monitored):
    log = monitored.log
    results = [monitored.run("testproj.add", i, i) for i in range(3)]
    assert [r.get(timeout=15) for r in results] == [0, 2, 4]
    processed = {r.id for r in results}
    beat = log.wait_for(
        lambda: [e for e in log.of(monitored.node, "worker-heartbeat")
                 if e["processed"] >= len(processed) and e["active"] == 0],
        "no heartbeat counting the tasks")[-1]
    assert set(beat) == COMMON | WORKER_FIELDS
    assert beat["freq"] == HEARTBEAT
    assert isinstance(beat["loadavg"], list) and len(beat["loadavg"]) == 3
    assert isinstance(beat["utcoffset"], float)
    beats = log.of(monitored.node, "worker-heartbeat")
    # Clocks only move forward, and beats keep coming at about the interval.
    assert [b["clock"] for b in beats] == sorted(b["clock"] for b in beats)
    last = beats[-1]["local_received"]
    log.wait_for(lambda: [b for b in log.of(monitored.node, "worker-heartbeat")
                          if b["local_received"] > last], "heartbeats stopped",
                 timeout=HEARTBEAT * 4)


def test_connecting_receiver_gets_a_heartbeat_at_once(monitored):
    # Its 'heartbeat' cast makes the worker beat now, not at the next interval.
    second = EventLog(monitored.app)
    try:
        connected = time.time()
        second.start()
        beat = second.wait_for(lambda: second.of(monitored.node, "worker-heartbeat"),
                               "no heartbeat after connecting")[0]
        assert beat["local_received"] - connected < 2.0
    finally:
        second.stop()


# task events -------------------------------------------------------------------------------
def test_task_lifecycle_events_in_order(monitored):
    result = monitored.run("testproj.add", 2, 3)
    assert result.get(timeout=15) == 5
    events = monitored.log.wait_task(result.id, "task-received", "task-started",
                                     "task-succeeded")
    assert _types(events) == ["task-received", "task-started", "task-succeeded"]
    received, started, succeeded = events
    assert set(received) == COMMON | {"uuid", "name", "args", "kwargs", "root_id", "parent_id",
                                      "retries", "eta", "expires"}
    assert received["name"] == "testproj.add"
    assert (received["args"], received["kwargs"]) == ("(2, 3)", "{}")
    assert received["root_id"] == result.id and received["parent_id"] is None
    assert (received["retries"], received["eta"], received["expires"]) == (0, None, None)
    assert set(started) == COMMON | {"uuid"}
    assert set(succeeded) == COMMON | {"uuid", "result", "runtime"}
    assert succeeded["result"] == "5"
    assert 0 <= succeeded["runtime"] < 5
    assert all(e["hostname"] == monitored.node for e in events)
    assert received["clock"] < started["clock"] < succeeded["clock"]


def test_task_events_arrive_as_task_multi_lists(monitored):
    # A raw subscriber sees the worker's own messages: lists routed as task.multi.
    bodies: list = []
    done = threading.Event()
    with Connection(monitored.broker_url) as conn:
        from kombu import Consumer

        from tuiq.protocol.events import receiver_queue

        exchange = event_exchange(conn.transport.driver_type)
        queue = receiver_queue(exchange, unique("raw"), routing_key="task.#")
        channel = conn.channel()

        def on_message(body, message):
            if isinstance(body, list) and any(e.get("hostname") == monitored.node
                                              for e in body):
                bodies.append((message.delivery_info.get("routing_key"), body,
                               message.headers, message.properties.get("delivery_mode")))
                done.set()

        with Consumer(channel, [queue], callbacks=[on_message], no_ack=True, accept=["json"]):
            _drain_until(conn, lambda: False, 0.2)  # subscribe (Redis) before sending
            result = monitored.run("testproj.add", 1, 1)
            assert result.get(timeout=15) == 2
            _drain_until(conn, done.is_set, 10)
    assert bodies, "no task.multi list from the worker"
    routing_key, body, headers, delivery_mode = bodies[0]
    assert routing_key == "task.multi"
    assert headers.get("hostname") == monitored.node
    assert all(e["type"].startswith("task-") for e in body)
    assert delivery_mode in (1, None)


def _drain_until(conn, predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        try:
            conn.drain_events(timeout=0.1)
        except TimeoutError:
            pass


def test_failed_task_event_has_exception_and_traceback(monitored):
    result = monitored.run("testproj.fail", "kaput")
    with pytest.raises(ValueError):
        result.get(timeout=15)
    failed = monitored.log.wait_task(result.id, "task-failed")
    failed = [e for e in failed if e["type"] == "task-failed"][0]
    assert failed["exception"] == "ValueError('kaput')"
    assert "Traceback (most recent call last)" in failed["traceback"]
    assert "raise ValueError(message)" in failed["traceback"]


def test_unregistered_task_fails_without_traceback(monitored):
    result = monitored.run("testproj.nope")
    failed = monitored.log.wait_task(result.id, "task-failed")
    assert _types(failed) == ["task-failed"]
    assert failed[0]["exception"] == "NotRegistered('testproj.nope')"
    assert "traceback" not in failed[0]


def test_retried_task_is_received_again_with_the_same_id(monitored):
    result = monitored.run("testproj.retry_once", 0.1)
    assert result.get(timeout=15) == 1
    events = monitored.log.wait_task(result.id, "task-retried", "task-succeeded")
    types = _types(events)
    # The retry's new message can be received before the first run's task-retried
    # goes out (as with Celery), so only the order within each run is fixed.
    assert types[:2] == ["task-received", "task-started"]
    assert sorted(types[2:]) == ["task-received", "task-retried", "task-started",
                                 "task-succeeded"]
    assert types[-1] == "task-succeeded"
    assert types.index("task-started", 2) > types.index("task-received", 2)
    retried = events[types.index("task-retried")]
    assert retried["exception"] == "KeyError('again')"
    assert "KeyError" in retried["traceback"]
    assert [e["retries"] for e in events if e["type"] == "task-received"] == [0, 1]


def test_revoked_task_is_discarded_with_an_event(monitored):
    task_id = unique("revoked")
    monitored.app.control.revoke(task_id)
    monitored.app.control.ping(destination=[monitored.node], timeout=2)
    result = monitored.run("testproj.add", 1, 2, task_id=task_id)
    with pytest.raises(TaskRevokedError):
        result.get(timeout=15)
    events = monitored.log.wait_task(task_id, "task-revoked")
    # Revoked at receipt: no task-received, as with Celery.
    assert _types(events) == ["task-revoked"]
    assert {k: events[0][k] for k in ("terminated", "signum", "expired")} == \
        {"terminated": False, "signum": None, "expired": False}


def test_expired_task_is_revoked_as_expired(monitored):
    result = monitored.run("testproj.add", 1, 2,
                           expires=datetime.now(UTC) - timedelta(seconds=5))
    with pytest.raises(TaskRevokedError):
        result.get(timeout=15)
    revoked = monitored.log.wait_task(result.id, "task-revoked")[-1]
    assert (revoked["expired"], revoked["terminated"]) == (True, False)


def test_terminated_task_is_revoked_with_its_signal(monitored, tmp_path):
    marker = tmp_path / "marker"
    result = monitored.run("testproj.sleep", 30, str(marker))
    monitored.log.wait_task(result.id, "task-started")
    wait_until(lambda: marker.exists() and "start" in marker.read_text())
    monitored.app.control.revoke(result.id, terminate=True, signal="SIGKILL",
                                 destination=[monitored.node])
    with pytest.raises(TaskRevokedError):
        result.get(timeout=15)
    events = monitored.log.wait_task(result.id, "task-revoked")
    assert _types(events) == ["task-received", "task-started", "task-revoked"]
    revoked = events[-1]
    assert {k: revoked[k] for k in ("terminated", "signum", "expired")} == \
        {"terminated": True, "signum": signal.SIGKILL.value, "expired": False}


def test_rejected_task_fails_then_is_rejected(monitored):
    result = monitored.run("testproj.reject", False)
    events = monitored.log.wait_task(result.id, "task-rejected")
    assert _types(events) == ["task-received", "task-started", "task-failed", "task-rejected"]
    assert events[-1]["requeue"] is False
    # Reject's repr, as Celery's: "reject requeue=False: <reason>".
    assert events[2]["exception"] == "reject requeue=False: no thanks"
    assert "Reject" in events[2]["traceback"]


def test_task_sent_event_from_a_client(monitored):
    sender = tuiq.App("sender", set_as_current=False, task_send_sent_event=True)
    sender.override_broker(monitored.broker_url)
    sender.override_backend(monitored.backend_url)
    try:
        result = sender.send_task("testproj.add", (4, 4), queue=monitored.queue,
                                  countdown=0.2)
        assert result.get(timeout=15) == 8
    finally:
        sender.close()
    events = monitored.log.wait_task(result.id, "task-sent", "task-succeeded")
    sent = [e for e in events if e["type"] == "task-sent"][0]
    assert sent["hostname"] == f"gen{os.getpid()}@{os.uname().nodename}"
    assert sent["pid"] == os.getpid()
    assert set(sent) == COMMON | {"uuid", "root_id", "parent_id", "name", "args", "kwargs",
                                  "retries", "eta", "expires", "queue", "exchange",
                                  "routing_key"}
    assert (sent["name"], sent["args"], sent["kwargs"]) == ("testproj.add", "(4, 4)", "{}")
    assert (sent["queue"], sent["exchange"], sent["routing_key"]) == \
        (monitored.queue, "", monitored.queue)
    assert sent["eta"] is not None and sent["expires"] is None
    assert sent["root_id"] == result.id and sent["retries"] == 0


def test_malformed_event_message_does_not_stop_the_receiver(monitored):
    log = EventLog(monitored.app, announce=False).start()
    try:
        with Connection(monitored.broker_url) as conn:
            exchange = event_exchange(conn.transport.driver_type)
            producer = Producer(conn.default_channel, exchange=exchange)
            producer.publish(b"\xff not json {", routing_key="task.multi",
                             content_type="application/json", content_encoding="utf-8",
                             declare=[exchange])
            producer.publish("just a string", routing_key="task.multi", serializer="json")
            producer.publish([{"no type": 1}], routing_key="task.multi", serializer="json")
            marker = unique("after-garbage")
            producer.publish(make_event("task-started", "garbage@test", 1, 1,
                                        {"uuid": marker}),
                             routing_key="task.started", serializer="json")
        log.wait_for(lambda: log.task(marker), "the good event after the bad ones")
        assert log.alive
        assert log.receiver.dropped >= 3
    finally:
        log.stop()


# events switched on and off, shutdowns ------------------------------------------------------
def _quiet_heartbeat(log: EventLog, node: str, processed: int):
    """A heartbeat sent after ``processed`` tasks were settled (so their events are out)."""
    return log.wait_for(
        lambda: [e for e in log.of(node, "worker-heartbeat")
                 if e["processed"] >= processed and e["active"] == 0],
        f"no heartbeat with processed >= {processed}")


def test_enable_and_disable_task_events_at_run_time(fresh):
    app, log, spawn = fresh
    queue = unique("evq")
    worker = spawn("--heartbeat-interval", str(HEARTBEAT), queue=queue)
    node = worker.nodename

    first = app.send_task("testproj.add", (1, 1), queue=queue)
    assert first.get(timeout=15) == 2
    _quiet_heartbeat(log, node, 1)
    assert log.task(first.id) == [], "task events sent without -E"

    replies = app.control.broadcast("enable_events", destination=[node], reply=True,
                                    timeout=5)
    assert replies == {node: {"ok": "task events enabled"}}
    second = app.send_task("testproj.add", (2, 2), queue=queue)
    assert second.get(timeout=15) == 4
    assert _types(log.wait_task(second.id, "task-succeeded")) == \
        ["task-received", "task-started", "task-succeeded"]

    replies = app.control.broadcast("disable_events", destination=[node], reply=True,
                                    timeout=5)
    assert replies == {node: {"ok": "task events disabled"}}
    third = app.send_task("testproj.add", (3, 3), queue=queue)
    assert third.get(timeout=15) == 6
    _quiet_heartbeat(log, node, 3)
    assert log.task(third.id) == []

    assert worker.stop() == 0
    offline = log.wait_for(lambda: log.of(node, "worker-offline"), "no worker-offline")[0]
    assert set(offline) == COMMON | WORKER_FIELDS
    assert offline["processed"] == 3
    assert _types(log.of(node))[0] == "worker-online"
    assert _types(log.of(node))[-1] == "worker-offline"


def test_remote_shutdown_sends_worker_offline(fresh):
    app, log, spawn = fresh
    worker = spawn("--without-mingle")
    log.wait_for(lambda: log.of(worker.nodename, "worker-online"), "no worker-online")
    app.control.shutdown(destination=[worker.nodename])
    assert worker.wait(timeout=30) == 0
    log.wait_for(lambda: log.of(worker.nodename, "worker-offline"), "no worker-offline")


def test_without_heartbeat_sends_no_worker_events(fresh):
    app, log, spawn = fresh
    queue = unique("evq")
    worker = spawn("-E", "--without-heartbeat", queue=queue)
    result = app.send_task("testproj.add", (5, 5), queue=queue)
    assert result.get(timeout=15) == 10
    log.wait_task(result.id, "task-succeeded")
    # The heartbeat command would make any heartbeat-sending worker beat now.
    app.control.broadcast("heartbeat", destination=[worker.nodename])
    app.control.ping(destination=[worker.nodename], timeout=2)
    assert worker.stop() == 0
    assert _types(log.of(worker.nodename)) == ["task-received", "task-started",
                                               "task-succeeded"]
    assert "no heartbeat" in worker.log()


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_banner_says_whether_task_events_are_on(fresh):
    _, _, spawn = fresh
    on = spawn("-E")
    off = spawn()
    assert "task events ON" in on.log()
    assert "task events OFF" in off.log()
    assert "heartbeat every 2s" in off.log()


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_conf_shows_the_heartbeat_interval(fresh):
    app, _, spawn = fresh
    worker = spawn("--heartbeat-interval", "1.5")
    inspect = app.control.inspect(destination=[worker.nodename], timeout=5)
    assert inspect.conf()[worker.nodename]["worker_heartbeat_interval"] == 1.5
    assert inspect.stats()[worker.nodename]["pid"] == worker.pid


# tuiq events --dump ---------------------------------------------------------------------
class Dump:
    """``tuiq events --dump`` as a subprocess whose lines are read as they come."""

    def __init__(self, broker_url: str, *args: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tuiq", "-b", broker_url, "events", "--dump", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            cwd=str(ROOT))
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def events(self) -> list[dict]:
        return [json.loads(line) for line in list(self.lines)]

    def finish(self, timeout: float = 15) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code, self.process.stderr.read()


def test_dump_prints_each_event_as_a_json_line(monitored):
    dump = Dump(monitored.broker_url, "--type", "worker-heartbeat", "--type", "task-*",
                "--timeout", "30")
    try:
        # Its heartbeat cast on connect proves it is listening.
        wait_until(lambda: any(e["hostname"] == monitored.node for e in dump.events()),
                   timeout=20, message=lambda: f"dump printed {dump.lines[-5:]}")
        result = monitored.run("testproj.add", 7, 8)
        assert result.get(timeout=15) == 15
        wait_until(lambda: [e for e in dump.events() if e.get("uuid") == result.id
                            and e["type"] == "task-succeeded"], timeout=15)
    finally:
        dump.process.send_signal(signal.SIGINT)
        code, err = dump.finish()
    assert code == 0, err
    events = dump.events()
    assert all(e["type"] == "worker-heartbeat" or e["type"].startswith("task-")
               for e in events)
    mine = [e["type"] for e in events if e.get("uuid") == result.id]
    assert mine == ["task-received", "task-started", "task-succeeded"]
    assert all("local_received" in e for e in events)


def test_dump_stops_after_limit_and_after_timeout(monitored):
    limited = Dump(monitored.broker_url, "--type", "worker-heartbeat", "--limit", "1",
                   "--timeout", "30")
    code, err = limited.finish(timeout=30)
    assert code == 0, err
    assert len(limited.lines) == 1
    assert json.loads(limited.lines[0])["type"] == "worker-heartbeat"

    started = time.monotonic()
    timed = Dump(monitored.broker_url, "--type", "nothing-matches", "--timeout", "1")
    code, err = timed.finish(timeout=30)
    assert code == 0, err
    assert timed.lines == []
    assert time.monotonic() - started < 10


def test_dump_against_an_unreachable_broker_is_one_line():
    result = tuiq_cli(["-b", "redis://127.0.0.1:1/0", "events", "--dump", "--timeout", "5"])
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach broker redis://127.0.0.1:1/0" in lines[0]
    assert "Traceback" not in result.stderr


def test_console_options_need_dump():
    result = tuiq_cli(["events", "--limit", "3"])
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["Error: --type, --limit and --timeout go with --dump"]
    assert "Traceback" not in result.stderr


# a broker restart -------------------------------------------------------------------------
def test_receiver_and_worker_come_back_after_the_broker_restarts(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    url = server.url()
    app = tuiq.App("events-restart", broker=url, backend=url, set_as_current=False)
    log = EventLog(app).start()
    worker = None
    try:
        worker = start_worker(tmp_path, url, url, name=unique("evr"), queues=[unique("evq")],
                              extra=["-c", "1", "--without-mingle", "--heartbeat-interval",
                                     str(HEARTBEAT)], ping_app=app)
        node = worker.nodename
        log.wait_for(lambda: log.of(node, "worker-online"), "no worker-online")

        server.kill()
        wait_until(lambda: ("disconnected" in [s for s, _ in log.statuses]), timeout=15,
                   message=lambda: f"statuses: {log.statuses}")
        detail = [d for s, d in log.statuses if s == "disconnected"][0]
        assert detail and "\n" not in detail
        assert log.alive
        server.start()

        # Both reconnect: the receiver says so, the worker announces itself again.
        wait_until(lambda: [s for s, _ in log.statuses].count("connected") >= 2, timeout=30,
                   message=lambda: f"statuses: {log.statuses}")
        assert log.statuses[-1] == ("connected", url)
        log.wait_for(lambda: len(log.of(node, "worker-online")) >= 2,
                     "no second worker-online after the restart", timeout=30)
        before = len(log.of(node, "worker-heartbeat"))
        log.wait_for(lambda: len(log.of(node, "worker-heartbeat")) > before + 1,
                     "heartbeats did not resume", timeout=10)
    finally:
        log.stop()
        app.close()
        try:
            if worker is not None:
                assert worker.stop() == 0
        finally:
            server.stop()


def test_dump_says_once_that_the_broker_went_away_and_once_that_it_is_back(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    dump = Dump(server.url(), "--timeout", "14")
    try:
        time.sleep(2.0)
        server.kill()
        time.sleep(4.0)  # several reconnection attempts fail meanwhile
        server.start()
        assert dump.process.wait(timeout=40) == 0
        lines = dump.process.stderr.read().splitlines()
        assert len(lines) == 2, lines
        assert lines[0].startswith("events: broker connection lost (")
        assert lines[1] == "events: reconnected"
    finally:
        if dump.process.poll() is None:
            dump.process.kill()
        server.stop()


def test_a_heartbeat_interval_that_is_not_positive_is_one_line():
    from tests.support.brokers import REDIS_URL

    result = tuiq_cli(["-b", f"{REDIS_URL}/9", "worker", "-A", "tests.support.testproj"],
                      env={"TUIQ_WORKER_HEARTBEAT_INTERVAL": "0"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: worker_heartbeat_interval must be a positive number of seconds, not 0.0"]
    option = tuiq_cli(["worker", "--heartbeat-interval", "0"])
    assert option.returncode == 2
    assert "Traceback" not in option.stderr


def test_without_dump_it_opens_the_console_with_the_same_broker():
    # The console checks its broker first: an unreachable one shows the option was passed on.
    result = tuiq_cli(["events", "-b", "redis://127.0.0.1:1/0"])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: cannot reach broker redis://127.0.0.1:1/0: Connection refused"]
