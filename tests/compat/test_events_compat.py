"""Monitoring events across engines (Redis and RabbitMQ).

Celery's own monitor stack (``app.events.Receiver`` feeding ``events.State``, and
``celery events --dump``) watches a tuiq worker; tuiq's ``EventReceiver`` watches a
stock Celery worker started with ``-E``, whose task events come as ``task.multi`` lists.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from kombu import Connection, Consumer

from tests.compat.celeryproj import make_app as make_celery_app
from tests.compat.helpers import delete_queues, get_result
from tests.support.brokers import unique
from tests.support.eventlog import EventLog
from tests.support.polling import wait_until
from tests.support.workers import ROOT, start_worker
from tuiq.protocol.events import event_exchange, receiver_queue

HEARTBEAT = 1.0


def _child_env(env) -> dict[str, str]:
    child = dict(os.environ)
    child["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), child.get("PYTHONPATH")]))
    child["PYTHONUNBUFFERED"] = "1"
    child["COMPAT_CELERY_BROKER"] = env.broker_url
    child["COMPAT_CELERY_BACKEND"] = env.backend_url
    return child


@pytest.fixture
def tuiq_events_worker(env, tuiq_client, tmp_path):
    """A tuiq worker with ``-E`` and a 1 s heartbeat, on a queue of its own."""
    queue = unique("ev-t")
    worker = start_worker(tmp_path, env.broker_url, env.backend_url, name=unique("evt"),
                          queues=[queue], ping_app=tuiq_client,
                          extra=["-c", "1", "-E", "--heartbeat-interval", str(HEARTBEAT)])
    yield worker, queue
    if worker.process.poll() is None:
        worker.stop()
    delete_queues(env, [queue])


class CeleryStateMonitor:
    """Celery's ``Receiver`` feeding ``State`` on a thread, as Flower and ``celery events`` do."""

    def __init__(self, capp) -> None:
        self.state = capp.events.State()
        self.connection = capp.connection_for_read()
        self.receiver = capp.events.Receiver(self.connection,
                                             handlers={"*": self.state.event})
        self.thread = threading.Thread(target=self.receiver.capture, daemon=True)

    def __enter__(self) -> CeleryStateMonitor:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.receiver.should_stop = True
        self.thread.join(timeout=10)
        self.connection.release()

    def alive(self, node: str) -> bool:
        return any(worker.hostname == node for worker in self.state.alive_workers())


def test_celery_state_sees_a_tuiq_worker(env, celery_client, tuiq_events_worker):
    worker, queue = tuiq_events_worker
    node = worker.nodename
    with CeleryStateMonitor(celery_client) as monitor:
        # Celery's receiver casts 'heartbeat' on connect; the tuiq worker answers at once.
        wait_until(lambda: monitor.alive(node), timeout=10,
                   message=lambda: f"not alive in Celery's State: {monitor.state.workers}")
        seen = monitor.state.workers[node]
        assert seen.sw_ident == "py-tuiq"
        assert seen.freq == HEARTBEAT

        result = celery_client.send_task("testproj.add", (2, 3), queue=queue)
        assert get_result(result) == 5
        task = wait_until(lambda: (t := monitor.state.tasks.get(result.id)) is not None
                          and t.state == "SUCCESS" and t, timeout=10,
                          message=lambda: f"task state: {monitor.state.tasks.get(result.id)}")
        assert task.name == "testproj.add"
        assert task.args == "(2, 3)"
        assert task.result == "5"
        assert task.worker.hostname == node
        assert task.received and task.started and task.succeeded
        assert task.received <= task.started <= task.succeeded

        # kill -9: no offline event; Celery's liveness rule (2 x freq) must notice.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
        killed = time.monotonic()
        wait_until(lambda: not monitor.alive(node), timeout=10,
                   message="still alive in Celery's State")
        assert time.monotonic() - killed < 2 * HEARTBEAT + 1.0


def test_celery_events_dump_shows_a_tuiq_worker(env, celery_client, tuiq_events_worker):
    worker, queue = tuiq_events_worker
    lines: list[str] = []
    dump = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.compat.celeryproj", "events", "--dump"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_child_env(env),
        cwd=str(ROOT), start_new_session=True)
    reader = threading.Thread(target=lambda: lines.extend(dump.stdout), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(line.startswith(f"{worker.nodename} [") for line in lines),
                   timeout=30, message=lambda: f"celery events --dump printed {lines[-10:]}")
        result = celery_client.send_task("testproj.add", (6, 7), queue=queue)
        assert get_result(result) == 13
        wait_until(lambda: any("task succeeded" in line and result.id in line
                               for line in lines),
                   timeout=15, message=lambda: f"celery events --dump printed {lines[-10:]}")
    finally:
        dump.send_signal(signal.SIGINT)
        try:
            dump.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(dump.pid, signal.SIGKILL)
            dump.wait(timeout=5)
    mine = [line for line in lines if line.startswith(f"{worker.nodename} [")]
    assert any(" heartbeat: " in line and "sw_ident=py-tuiq" in line for line in mine)
    received = [line for line in mine if "task received" in line and result.id in line]
    assert received and "testproj.add" in received[0] and "args=(6, 7)" in received[0]
    assert any("task succeeded" in line and "result=13" in line for line in mine)


def _drain(connection, timeout: float) -> None:
    try:
        connection.drain_events(timeout=timeout)
    except TimeoutError:
        pass


class CeleryEventsWorker:
    """A stock ``celery worker -E`` (prefork, 2 processes) on queues of its own."""

    def __init__(self, tmp_path, env, queue: str) -> None:
        self.nodename = f"{unique('ce')}@{socket.gethostname()}"
        self.logfile = tmp_path / "celery-events-worker.log"
        command = [sys.executable, "-m", "celery", "-A", "tests.compat.celeryproj", "worker",
                   "-E", "-P", "prefork", "-c", "2", "-Q", queue, "-n", self.nodename,
                   "--without-mingle", "--without-gossip", "-l", "INFO"]
        with open(self.logfile, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env=_child_env(env), cwd=str(ROOT),
                                            start_new_session=True)

    def log(self) -> str:
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def test_tuiq_receiver_reads_a_celery_worker(env, tuiq_client, celery_client, tmp_path):
    queue = unique("ev-c")
    log = EventLog(tuiq_client).start()
    lists: list[tuple[str, list]] = []
    raw = Connection(env.broker_url)
    try:
        channel = raw.channel()
        exchange = event_exchange(raw.transport.driver_type)
        raw_queue = receiver_queue(exchange, unique("raw"), routing_key="task.#")
        consumer = Consumer(channel, [raw_queue], no_ack=True, accept=["json"],
                            callbacks=[lambda body, message: lists.append(
                                (message.delivery_info.get("routing_key"), body))])
        consumer.consume()
        _drain(raw, 0.2)  # on Redis the first read subscribes
        celery = CeleryEventsWorker(tmp_path, env, queue)
        try:
            node = celery.nodename
            log.wait_for(lambda: log.of(node, "worker-online", "worker-heartbeat"),
                         f"no worker event from {node}:\n{celery.log()[-3000:]}", timeout=30)
            sender = make_celery_app(env.broker_url, env.backend_url)
            sender.conf.task_send_sent_event = True
            try:
                results = [sender.send_task("testproj.add", (i, i), queue=queue)
                           for i in range(5)]
                assert [r.get(timeout=20) for r in results] == [0, 2, 4, 6, 8]
            finally:
                sender.close()
            for result in results:
                events = log.wait_task(result.id, "task-sent", "task-received",
                                       "task-started", "task-succeeded")
                by_type = {e["type"]: e for e in events}
                assert by_type["task-received"]["hostname"] == node
                assert by_type["task-succeeded"]["result"] == repr(
                    results.index(result) * 2)
                assert by_type["task-sent"]["hostname"].startswith("gen")
                assert all("local_received" in e for e in events)
            online = log.of(node, "worker-online", "worker-heartbeat")[0]
            assert online["sw_ident"] == "py-celery"
            # Drain the raw subscriber: the worker's task events came as task.multi lists.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not any(
                    rk == "task.multi" and isinstance(body, list) for rk, body in lists):
                _drain(raw, 0.2)
            multi = [body for rk, body in lists if rk == "task.multi"]
            assert multi and all(isinstance(body, list) for body in multi)
            assert any(e.get("hostname") == node for body in multi for e in body)
            assert log.alive
        finally:
            celery.stop()
        log.wait_for(lambda: log.of(node, "worker-offline"), "no worker-offline from Celery")
    finally:
        log.stop()
        raw.release()
        delete_queues(env, [queue])
