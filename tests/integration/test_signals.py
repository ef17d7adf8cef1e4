"""Process signals sent to the worker's main pid only (the worker runs in its own session).

TERM and INT: warm shutdown, running tasks finish, reserved ones are handed
back. INT twice and QUIT: cold shutdown. USR1: stack dump. HUP: restart in place,
or for a worker started from a terminal: ignored, then a warm shutdown once the
terminal has hung up.
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.helpers import (
    OwnWorker,
    children_of,
    pid_alive,
    queue_depth,
    read_marker,
    wait_logged,
    wait_until,
)
from tests.support.brokers import broker_urls, unique
from tests.support.testproj import add, inspect_request, sleep
from tests.support.workers import ROOT, client_app, wait_for_ping

#: Runs ``python -m tuiq ARGS`` with standard input's terminal as the controlling one
#: (a session leader that opens a terminal acquires it), as in a real terminal.
IN_TERMINAL = ("import os, runpy, sys; os.close(os.open(os.ttyname(0), os.O_RDWR)); "
               "sys.argv = ['tuiq', *sys.argv[1:]]; runpy.run_module('tuiq', run_name='__main__')")


def start_running(own: OwnWorker, tmp_path, seconds: float, reserved: int = 0):
    """Start a slow task and reserve ``reserved`` more; return (slow, reserved results)."""
    marker = tmp_path / unique("marker")
    queue = own.queues[0]
    slow = sleep.apply_async((seconds, str(marker)), queue=queue)
    waiting = [inspect_request.apply_async(queue=queue) for _ in range(reserved)]
    wait_until(lambda: read_marker(marker), timeout=10, message="the slow task never started")
    for result in waiting:
        wait_logged(own.worker, f"[{result.id}] received")
    return slow, waiting, marker


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_term_is_warm_and_hands_back_reserved_tasks(embedded_url, tmp_path, kind):
    queue = unique("term")
    with OwnWorker(tmp_path, kind, embedded_url, name=unique("term"), queues=[queue],
                   extra=["-c", "1"]) as own:
        slow, waiting, marker = start_running(own, tmp_path, 1.5, reserved=3)
        # An ETA task held in memory (unacked) is handed back too.
        eta = inspect_request.apply_async(queue=queue, countdown=3)
        wait_logged(own.worker, f"[{eta.id}] received, ETA")
        waiting.append(eta)
        child = int(read_marker(marker)[0].split()[1])
        own.worker.signal(signal.SIGTERM)
        assert own.worker.wait(timeout=20) == 0
        log = own.worker.log()
        assert "SIGTERM received: warm shutdown" in log
        assert "Handed back 4 task(s) that had not started" in log, log[-3000:]
        assert read_marker(marker)[-1] == "done"
        assert slow.get(timeout=5) == 1.5
        assert not pid_alive(child)
        assert all(r.state == "PENDING" for r in waiting)
        assert queue_depth(kind, own.broker_url, queue) == 4

        with OwnWorker(tmp_path, kind, embedded_url, name=unique("term2"),
                       queues=[queue], extra=["-c", "1"]) as second:
            infos = [r.get(timeout=15) for r in waiting]
            assert {i["hostname"] for i in infos} == {second.worker.nodename}
            assert queue_depth(kind, own.broker_url, queue) == 0


def test_int_once_is_warm(embedded_url, tmp_path):
    queue = unique("int")
    with OwnWorker(tmp_path, "redis", embedded_url, name=unique("int"), queues=[queue],
                   extra=["-c", "1"]) as own:
        slow, waiting, marker = start_running(own, tmp_path, 1.0, reserved=1)
        own.worker.signal(signal.SIGINT)
        assert own.worker.wait(timeout=20) == 0
        assert ("SIGINT received (Ctrl+C again kills the running tasks): warm shutdown"
                in own.worker.log())
        assert slow.get(timeout=5) == 1.0
        assert read_marker(marker)[-1] == "done"
        assert waiting[0].state == "PENDING"
        assert queue_depth("redis", own.broker_url, queue) == 1


def _assert_cold(own: OwnWorker, slow, marker, started: float) -> None:
    child = int(read_marker(marker)[0].split()[1])
    code = own.worker.wait(timeout=15)
    assert time.monotonic() - started < 8, "cold shutdown waited for the running task"
    assert code == 1, f"cold shutdown exit code {code}"
    assert "Cold shutdown: terminating pool processes" in own.worker.log()
    assert read_marker(marker)[-1] != "done"
    wait_until(lambda: not pid_alive(child), timeout=5, message="pool child survived")
    assert slow.state != "SUCCESS"


def test_int_twice_is_cold(embedded_url, tmp_path):
    queue = unique("int2")
    with OwnWorker(tmp_path, "redis", embedded_url, name=unique("int2"), queues=[queue],
                   extra=["-c", "1"]) as own:
        slow, _, marker = start_running(own, tmp_path, 10)
        started = time.monotonic()
        own.worker.signal(signal.SIGINT)
        wait_logged(own.worker, "Ctrl+C again kills the running tasks")
        assert own.worker.process.poll() is None, "one INT must not stop a busy worker"
        own.worker.signal(signal.SIGINT)
        _assert_cold(own, slow, marker, started)
        assert "SIGINT received twice" in own.worker.log()


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_quit_is_cold_and_an_acks_late_task_comes_back(embedded_url, tmp_path, kind):
    queue = unique("quit")
    marker = tmp_path / "first-run"
    with OwnWorker(tmp_path, kind, embedded_url, name=unique("quit"), queues=[queue],
                   extra=["-c", "1"]) as own:
        late = own.app.send_task("testproj.slow_first_time", (str(marker),), queue=queue)
        wait_until(lambda: read_marker(marker), timeout=10, message="the task never started")
        started = time.monotonic()
        own.worker.signal(signal.SIGQUIT)
        _assert_cold(own, late, marker, started)
        assert "SIGQUIT received: cold shutdown" in own.worker.log()
        # Never acknowledged, so the broker gives it to the next worker.
        with OwnWorker(tmp_path, kind, embedded_url, name=unique("quit2"), queues=[queue],
                       extra=["-c", "1"]):
            assert late.get(timeout=15) == "second run"
        assert queue_depth(kind, own.broker_url, queue) == 0


def test_usr1_dumps_stacks_and_keeps_working(sapp, shared):
    before = shared.worker.log().count("Dumping thread stacks (SIGUSR1)")
    shared.worker.signal(signal.SIGUSR1)
    wait_logged(shared.worker, "Dumping thread stacks (SIGUSR1)", count=before + 1)
    log = shared.worker.log()
    assert "=== Thread MainThread" in log
    assert 'File "' in log.split("Dumping thread stacks (SIGUSR1)")[-1]
    assert shared.worker.process.poll() is None
    assert add.apply_async((4, 4), queue=shared.queue).get(timeout=10) == 8


def test_hup_restarts_in_place(embedded_url, tmp_path):
    queue = unique("hup")
    with OwnWorker(tmp_path, "redis", embedded_url, name=unique("hup"), queues=[queue],
                   extra=["-c", "2"]) as own:
        worker = own.worker
        assert add.apply_async((1, 2), queue=queue).get(timeout=10) == 3
        old_children = set(children_of(worker.pid))
        worker.signal(signal.SIGHUP)
        wait_logged(worker, "SIGHUP received, restarting")
        wait_logged(worker, f"{worker.nodename} ready.", count=2, timeout=20)
        # The command line ran again in the same process: exec, not a loop in place.
        assert worker.log().count(f"tuiq 0.1.0 -- {worker.nodename}") == 2
        assert worker.process.poll() is None, "the worker exited instead of restarting"
        wait_for_ping(own.app, worker.nodename, worker.process, worker.logfile)
        assert add.apply_async((2, 3), queue=queue).get(timeout=10) == 5
        new_children = set(children_of(worker.pid))
        assert len(new_children) == 2
        assert not new_children & old_children, "the pool was not restarted"
        assert worker.stop() == 0


def test_hup_from_a_closed_terminal_is_a_warm_shutdown(embedded_url, tmp_path):
    broker, backend = broker_urls("redis", embedded_url)
    name = unique("tty")
    nodename = f"{name}@{os.uname().nodename}"
    logfile = tmp_path / "tty.log"
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(logfile, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", IN_TERMINAL, "worker", "-A", "tests.support.testproj",
             "-b", broker, "--result-backend", backend, "-n", nodename, "-Q", name,
             "-c", "1", "-l", "INFO"],
            stdin=slave, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT),
            start_new_session=True)
    os.close(slave)
    app = client_app(broker, backend)
    try:
        wait_for_ping(app, nodename, process, logfile)
        # While the terminal is there, a HUP is not a restart request.
        process.send_signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP ignored" in logfile.read_text(), timeout=10,
                   message="no warning for a HUP with the terminal open")
        assert process.poll() is None
        # Closing the terminal hangs it up: the worker stops, warm, instead of restarting.
        os.close(master)
        assert process.wait(timeout=30) == 0
        log = logfile.read_text()
        assert "SIGHUP received, the terminal hung up: warm shutdown" in log
        assert "restarting" not in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        app.close()
