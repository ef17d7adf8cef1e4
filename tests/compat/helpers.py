"""Helpers of the Celery compatibility tests: URLs, client apps, worker handles.

Redis databases used here: 11 (broker), 12 and 13 (results of the Redis and RabbitMQ runs),
14 (result-only tests).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from celery import Celery
from celery.exceptions import TimeoutError as CeleryTimeoutError
from kombu import Connection, Exchange, Queue

import tuiq
from tests.support.brokers import AMQP_URL, REDIS_URL, require_port, unique
from tests.support.workers import ROOT
from tuiq.exceptions import TimeoutError as TuiqTimeoutError

COMPAT_BROKERS = ("redis", "rabbitmq")
BROKER_DB = 11
RESULT_DB = {"redis": 12, "rabbitmq": 13}
RESULT_ONLY_DB = 14
#: Queues each session worker consumes; one per test that talks to that worker.
QUEUE_POOL_SIZE = 16
RESULT_TIMEOUT = 20.0
#: Seconds results written by these tests live (both engines, clients and workers).
RESULT_EXPIRES = 600


@dataclass(frozen=True)
class Env:
    """One broker under test, with the result backend used with it."""

    kind: str
    broker_url: str
    backend_url: str


def env_for(kind: str) -> Env:
    """The URLs of ``kind``; fails (never skips) when the broker is down."""
    require_port("127.0.0.1", 6379, "Redis")
    backend = f"{REDIS_URL}/{RESULT_DB[kind]}"
    if kind == "redis":
        return Env(kind, f"{REDIS_URL}/{BROKER_DB}", backend)
    require_port("127.0.0.1", 5672, "RabbitMQ")
    return Env(kind, AMQP_URL, backend)


def make_tuiq_app(broker: str, backend: str, **settings) -> tuiq.App:
    """A tuiq client app with the test project's task names, not the current app."""
    settings.setdefault("result_expires", RESULT_EXPIRES)
    app = tuiq.App("compat", set_as_current=False, **settings)
    app.override_broker(broker)
    app.override_backend(backend)

    @app.task(name="testproj.add")
    def add(x, y):
        return x + y

    @app.task(name="testproj.echo")
    def echo(value):
        return value

    @app.task(name="testproj.fail")
    def fail(message="boom"):
        raise ValueError(message)

    return app


def delete_queues(env: Env, names: list[str]) -> None:
    """Delete the queues (and their same-named direct exchanges) a test run declared."""
    with Connection(env.broker_url) as connection:
        channel = connection.default_channel
        for name in names:
            exchange = Exchange(name, "direct")
            queue = Queue(name, exchange, routing_key=name)(channel)
            # Declaring first tells kombu's Redis channel the bindings it must remove.
            queue.declare()
            queue.delete()
            exchange(channel).delete()


@dataclass
class Node:
    """A running worker (either engine) and the queues it consumes."""

    name: str
    log: Callable[[], str]
    is_alive: Callable[[], bool]
    free_queues: list[str] = field(default_factory=list)

    def take_queue(self) -> str:
        """A queue this worker consumes that no other test has used."""
        if not self.free_queues:
            raise AssertionError("queue pool exhausted: raise QUEUE_POOL_SIZE in helpers.py")
        return self.free_queues.pop()


def get_result(result, *nodes: Node, timeout: float = RESULT_TIMEOUT, **options):
    """``result.get(timeout)`` that fails with the workers' logs instead of a bare timeout."""
    try:
        return result.get(timeout=timeout, **options)
    except (CeleryTimeoutError, TuiqTimeoutError) as exc:
        logs = "\n".join(f"--- {node.name} (alive={node.is_alive()}) ---\n{node.log()[-4000:]}"
                         for node in nodes)
        raise AssertionError(f"task {result.id} not ready after {timeout}s\n{logs}") from exc


class CeleryWorker:
    """A stock ``celery worker`` subprocess (prefork, 2 processes)."""

    def __init__(self, tmp_path: Path, env: Env, queues: list[str]) -> None:
        self.nodename = f"{unique('c')}@{socket.gethostname()}"
        self.logfile = tmp_path / "celery-worker.log"
        command = [sys.executable, "-m", "celery", "-A", "tests.compat.celeryproj", "worker",
                   "-P", "prefork", "-c", "2", "-Q", ",".join(queues), "-n", self.nodename,
                   "--without-mingle", "--without-gossip", "-l", "INFO"]
        child_env = dict(os.environ)
        child_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(ROOT), child_env.get("PYTHONPATH")]))
        child_env["COMPAT_CELERY_BROKER"] = env.broker_url
        child_env["COMPAT_CELERY_BACKEND"] = env.backend_url
        with open(self.logfile, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env=child_env, cwd=str(ROOT),
                                            start_new_session=True)

    def log(self) -> str:
        """Everything the worker logged so far."""
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def is_alive(self) -> bool:
        """Whether the main process still runs."""
        return self.process.poll() is None

    def wait_for_ping(self, capp: Celery, timeout: float = 30.0) -> None:
        """Poll Celery's own ``control.ping`` until this worker answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_alive():
                raise AssertionError(f"celery worker exited with {self.process.returncode}:\n"
                                     f"{self.log()[-4000:]}")
            replies = capp.control.ping(destination=[self.nodename], timeout=0.5)
            if any(self.nodename in reply for reply in replies):
                return
        self.stop()
        raise AssertionError(f"celery worker {self.nodename} did not answer ping in "
                             f"{timeout}s:\n{self.log()[-4000:]}")

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown (TERM); kill its process group if it hangs.

        A hang is Celery's own (its prefork pool now and then never finishes a
        warm shutdown), not what these tests check, so it is a warning.
        """
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            warnings.warn(f"celery worker {self.nodename} did not stop on TERM within "
                          f"{timeout}s; killed", stacklevel=2)


#: One value of each type kombu's JSON encodes as a ``{"__type__", "__value__"}`` marker.
MARKER_VALUES = {
    "aware": datetime(2024, 2, 29, 23, 59, 58, 123456,
                      tzinfo=timezone(timedelta(hours=5, minutes=30))),
    "utc": datetime(2030, 1, 1, 12, 0, tzinfo=UTC),
    "decimal": Decimal("12345678901234567890.000000000000000001"),
    "uuid": uuid.UUID("6f1d2c3e-8b4a-4f5e-9a7b-1c2d3e4f5a6b"),
    "bytes": b"\x00\x01\xfe\xff raw bytes",
}


def assert_same_markers(got, expected) -> None:
    """Equal values of exactly the same types (so a Decimal did not become a float)."""
    assert got == expected
    if isinstance(expected, dict):
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
        for key, value in expected.items():
            if isinstance(value, datetime):
                assert got[key].utcoffset() == value.utcoffset(), key
    else:
        assert type(got) is type(expected)
