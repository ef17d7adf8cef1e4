"""The ``tuiq worker``, ``tuiq call`` and ``tuiq result`` command lines, run as subprocesses."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.helpers import (
    OwnWorker,
    queue_depth,
    tuiq_cli,
    wait_logged,
    wait_until,
)
from tests.support.brokers import broker_urls, unique
from tests.support.testproj import add
from tests.support.workers import ROOT, client_app, wait_for_ping

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DEAD_BROKER = "redis://127.0.0.1:1/0"
#: The local Redis (plain text) addressed as TLS.
PLAIN_AS_TLS = "rediss://127.0.0.1:6379/0"


def test_call_then_result_wait(sapp, shared):
    sent = tuiq_cli(["call", "testproj.add", "--args", "[2, 3]", "-Q", shared.queue,
                     "-A", "tests.support.testproj", "-b", shared.broker_url])
    assert sent.returncode == 0, sent.stderr
    task_id = sent.stdout.strip()
    assert UUID_RE.match(task_id), sent.stdout
    shown = tuiq_cli(["result", task_id, "--wait", "-t", "15",
                      "--result-backend", shared.backend_url])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "5"
    assert sapp.AsyncResult(task_id).get(timeout=1) == 5


def test_result_takes_the_broker_after_the_command_name(sapp, shared):
    task_id = add.apply_async((20, 22), queue=shared.queue).id
    assert sapp.AsyncResult(task_id).get(timeout=15) == 42
    # With no result backend given, results are read from the broker's server.
    shown = tuiq_cli(["result", task_id, "-b", shared.backend_url])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "42"


def test_call_with_kwargs_and_result_of_a_failure(sapp, shared):
    sent = tuiq_cli(["call", "testproj.fail", "--kwargs", '{"message": "cli-boom"}',
                     "-Q", shared.queue, "-b", shared.broker_url])
    assert sent.returncode == 0, sent.stderr
    task_id = sent.stdout.strip()
    shown = tuiq_cli(["result", task_id, "--wait", "-t", "15", "--traceback",
                      "--result-backend", shared.backend_url])
    assert shown.returncode == 1
    assert "FAILURE: ValueError: cli-boom" in shown.stdout
    assert "Traceback (most recent call last)" in shown.stdout


CLI_ERRORS = {
    "malformed-task-id": (["result", "not a task id"], "malformed task id"),
    "empty-task-id": (["result", ""], "malformed task id"),
    "invalid-json-args": (["call", "testproj.add", "--args", "[1,", "-b", DEAD_BROKER],
                          "--args is not valid JSON"),
    "args-not-an-array": (["call", "testproj.add", "--args", '{"x": 1}', "-b", DEAD_BROKER],
                          "--args must be a JSON array"),
    "kwargs-not-an-object": (["call", "testproj.add", "--kwargs", "[1]", "-b", DEAD_BROKER],
                             "--kwargs must be a JSON object"),
    "bad-eta": (["call", "testproj.add", "--eta", "tomorrow", "-b", DEAD_BROKER],
                "--eta is not an ISO-8601 time"),
    "call-unreachable-broker": (["call", "testproj.add", "--args", "[1, 2]", "-b", DEAD_BROKER],
                                f"cannot reach broker {DEAD_BROKER}: Connection refused"),
    "call-unreachable-amqp": (["call", "testproj.add", "-b", "amqp://guest:guest@127.0.0.1:1//"],
                              "127.0.0.1:1"),
    "worker-unreachable-broker": (["worker", "-A", "tests.support.testproj", "-b", DEAD_BROKER,
                                   "--result-backend", DEAD_BROKER], "127.0.0.1:1"),
    "result-unreachable-backend": (
        ["result", "0d8e3bd6-5a7e-4c7e-9a36-0d1b2f8e9a11", "--result-backend", DEAD_BROKER],
        f"cannot reach result backend {DEAD_BROKER}: Connection refused"),
    # TLS to a plain-text port: the server never answers the TLS hello.
    "inspect-tls-to-plain-port": (["-b", PLAIN_AS_TLS, "inspect", "ping"],
                                  f"cannot reach broker {PLAIN_AS_TLS}: timed out"),
    "result-tls-to-plain-port": (["result", "0d8e3bd6-5a7e-4c7e-9a36-0d1b2f8e9a11",
                                  "--result-backend", PLAIN_AS_TLS],
                                 f"cannot reach result backend {PLAIN_AS_TLS}: timed out"),
    "worker-bad-logfile-format": (["worker", "-A", "tests.support.testproj", "-b", DEAD_BROKER,
                                   "--logfile", "/tmp/%Q.log"], "Unknown format %Q"),
    "worker-bad-pidfile-format": (["worker", "-A", "tests.support.testproj", "-b", DEAD_BROKER,
                                   "--pidfile", "/tmp/%Q.pid"], "Unknown format %Q"),
    "worker-bad-hostname-format": (["worker", "-A", "tests.support.testproj", "-b", DEAD_BROKER,
                                    "-n", "w1@%Q"], "Unknown format %Q"),
    "worker-logfile-dir-missing": (["worker", "-A", "tests.support.testproj", "-b", DEAD_BROKER,
                                    "--logfile", "/nonexistent-tq/w.log"],
                                   "cannot open log file /nonexistent-tq/w.log"),
    "worker-pidfile-dir-missing": (["worker", "-A", "tests.support.testproj",
                                    "-b", "redis://127.0.0.1:6379/9", "-Q", "tq-never-used",
                                    "--pidfile", "/nonexistent-tq/w.pid"],
                                   "cannot create pidfile /nonexistent-tq/w.pid"),
    "worker-unknown-app": (["worker", "-A", "no_such_module_tq", "-b", DEAD_BROKER],
                           "no_such_module_tq"),
    "call-unknown-app": (["call", "testproj.add", "-A", "no_such_module_tq", "-b", DEAD_BROKER],
                         "no_such_module_tq"),
    "call-unknown-transport": (["call", "testproj.add", "-b", "foo://bar"],
                               "unknown broker transport 'foo'"),
    "worker-unknown-transport": (["worker", "-A", "tests.support.testproj", "-b", "foo://bar"],
                                 "unknown broker transport 'foo'"),
    "call-unknown-task-of-the-app": (["call", "testproj.nosuch", "-A", "tests.support.testproj",
                                      "-b", DEAD_BROKER],
                                     "unknown task 'testproj.nosuch': the app does not "
                                     "register it (--force sends it anyway)"),
    "call-misspelt-task": (["call", "testproj.ad", "-A", "tests.support.testproj",
                            "-b", DEAD_BROKER], "did you mean testproj.add"),
    "worker-app-module-raises": (["worker", "-A", "tests.support.broken_app", "-b", DEAD_BROKER],
                                 "error while importing -A tests.support.broken_app: "
                                 "ModuleNotFoundError"),
}


def test_call_force_sends_a_task_the_app_does_not_register(embedded_url):
    redis_url, _ = broker_urls("redis", embedded_url)
    queue = unique("cli-force")
    sent = tuiq_cli(["call", "elsewhere.task", "--force", "-Q", queue,
                     "-A", "tests.support.testproj", "-b", redis_url])
    assert sent.returncode == 0, sent.stderr
    assert UUID_RE.match(sent.stdout.strip()), sent.stdout
    try:
        assert queue_depth("redis", redis_url, queue) == 1
    finally:
        purged = tuiq_cli(["purge", "-f", "-Q", queue, "-b", redis_url])
        assert purged.returncode == 0, purged.stderr


def test_call_to_an_unreachable_broker_fails_at_once():
    started = time.monotonic()
    sent = tuiq_cli(["call", "testproj.add", "-b", DEAD_BROKER])
    assert sent.returncode == 1
    assert sent.stderr.strip() == f"Error: cannot reach broker {DEAD_BROKER}: Connection refused"
    # Publishing would retry for seconds; the command checks the broker first.
    assert time.monotonic() - started < 4


def test_a_syntax_error_in_the_app_names_the_file_and_line(tmp_path):
    (tmp_path / "badsyntax_app.py").write_text('from tuiq import App\napp = App("bad"\n')
    shown = tuiq_cli(["-A", "badsyntax_app", "call", "x", "-b", DEAD_BROKER],
                     env={"PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])})
    assert shown.returncode == 1
    assert shown.stderr.strip() == (
        "Error: error while importing -A badsyntax_app: SyntaxError: '(' was never closed "
        f"({tmp_path / 'badsyntax_app.py'}, line 2)")


def test_bad_inputs_give_one_line_and_no_traceback():
    # All at once: each is a separate interpreter, and most of the time is start-up.
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    running = {
        case: subprocess.Popen([sys.executable, "-m", "tuiq", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=str(ROOT), env=env)
        for case, (args, _) in CLI_ERRORS.items()
    }
    started = time.monotonic()
    problems = []
    try:
        for case, process in running.items():
            check_one(case, process, problems)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    assert time.monotonic() - started < 30, "a CLI error took too long to report"
    assert not problems, "\n".join(problems)


def check_one(case, process, problems):
    """Add to ``problems`` unless ``process`` failed with exactly one clear error line."""
    try:
        stdout, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        problems.append(f"{case}: still running after 30s")
        return
    expected = CLI_ERRORS[case][1]
    lines = [line for line in stderr.splitlines() if line.strip()]
    if process.returncode == 0:
        problems.append(f"{case}: exit status 0")
    if "Traceback" in stderr or "Traceback" in stdout:
        problems.append(f"{case}: traceback printed:\n{stderr}")
    elif len(lines) != 1 or not lines[0].startswith("Error: ") or expected not in lines[0]:
        problems.append(f"{case}: expected one 'Error: ...{expected}...' line, got:\n{stderr}")


def test_pidfile_logfile_and_short_hostname(embedded_url, tmp_path):
    broker_url, backend_url = broker_urls("redis", embedded_url)
    host = unique("foo")
    nodename = f"celery@{host}"
    queue = unique("files")
    command = [sys.executable, "-m", "tuiq", "worker", "-A", "tests.support.testproj",
               "-b", broker_url, "--result-backend", backend_url, "-n", host, "-c", "2",
               "-Q", queue, "--pidfile", str(tmp_path / "%n.pid"),
               "--logfile", str(tmp_path / "%n%I.log")]
    console = tmp_path / "console.txt"
    with open(console, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(ROOT)),
                                   start_new_session=True)
    app = client_app(broker_url, backend_url)
    pidfile = tmp_path / "celery.pid"
    main_log = tmp_path / "celery.log"
    try:
        # -n foo means host "foo": the node is celery@foo, and %n is its name part.
        wait_for_ping(app, nodename, process, main_log)
        assert pidfile.read_text() == f"{process.pid}\n"
        assert add.apply_async((1, 1), queue=queue).get(timeout=10) == 2
        wait_until(lambda: (tmp_path / "celery-1.log").exists()
                   and (tmp_path / "celery-2.log").exists(), timeout=10,
                   message=lambda: f"child logs missing: {sorted(os.listdir(tmp_path))}")
        assert f"{nodename} ready." in main_log.read_text()
        assert sorted(p.name for p in tmp_path.glob("*.log")) == [
            "celery-1.log", "celery-2.log", "celery.log"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert not pidfile.exists(), "pidfile left behind after a warm shutdown"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        app.close()


def test_pidfile_of_a_running_worker_is_refused(embedded_url, tmp_path):
    pidfile = tmp_path / "busy.pid"
    pidfile.write_text(f"{os.getpid()}\n")
    broker_url, backend_url = broker_urls("redis", embedded_url)
    run = tuiq_cli(["worker", "-A", "tests.support.testproj", "-b", broker_url,
                    "--result-backend", backend_url, "--pidfile", str(pidfile)], timeout=30)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert f"names a running process ({os.getpid()})" in run.stderr
    assert pidfile.read_text() == f"{os.getpid()}\n"


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
def test_purge_empties_the_queue(embedded_url, tmp_path, kind):
    broker_url, backend_url = broker_urls(kind, embedded_url)
    queue = unique("purge")
    app = client_app(broker_url, backend_url)
    try:
        doomed = [add.apply_async((i, i), queue=queue) for i in range(3)]
        wait_until(lambda: queue_depth(kind, broker_url, queue) == 3, timeout=5)
    finally:
        app.close()
    with OwnWorker(tmp_path, kind, embedded_url, name=unique("purge"), queues=[queue],
                   extra=["-c", "1", "--purge"]) as own:
        wait_logged(own.worker, f"Purged 3 message(s) from {queue}")
        assert add.apply_async((5, 5), queue=queue).get(timeout=10) == 10
        assert [r.state for r in doomed] == ["PENDING"] * 3
        assert queue_depth(kind, broker_url, queue) == 0
        for result in doomed:
            assert f"[{result.id}] received" not in own.worker.log()
