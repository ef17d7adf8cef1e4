"""Fixtures shared by every test folder: brokers (never skipped) and worker processes."""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import pytest

from tests.support.brokers import BROKERS, broker_urls, unique
from tests.support.workers import client_app, start_worker


def pytest_sessionstart(session):
    """Prepare the subprocesses the tests start: SIGINT deliverable, bytecode compiled.

    A shell that runs the tests in the background without job control makes them
    ignore SIGINT, and every subprocess would inherit that: the ctrl+c tests need
    it to arrive. The tests start hundreds of worker and CLI subprocesses; with
    ``PYTHONDONTWRITEBYTECODE`` set each of them would otherwise compile every
    module it imports again.
    """
    import compileall

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)

    root = Path(__file__).resolve().parents[1]
    for folder in ("tuiq", "tests"):
        compileall.compile_dir(str(root / folder), quiet=2)


@pytest.fixture(scope="session")
def embedded_url():
    """A private embedded Valkey server for the test session (short socket path)."""
    from tuiq.broker import EmbeddedServer

    home = Path(tempfile.mkdtemp(prefix="tq-"))
    previous = os.environ.get("TUIQ_HOME")
    os.environ["TUIQ_HOME"] = str(home)
    server = EmbeddedServer(home)
    url = server.ensure_running()
    yield url
    server.stop()
    if previous is None:
        os.environ.pop("TUIQ_HOME", None)
    else:
        os.environ["TUIQ_HOME"] = previous


@pytest.fixture(params=BROKERS)
def broker(request, embedded_url):
    """``(kind, broker_url, backend_url)`` for each of the three brokers."""
    broker_url, backend_url = broker_urls(request.param, embedded_url)
    return request.param, broker_url, backend_url


@pytest.fixture
def queue_name():
    """A queue no other test consumes."""
    return unique("q")


@pytest.fixture
def app(broker):
    """The test project's app, pointed at the broker under test."""
    _, broker_url, backend_url = broker
    application = client_app(broker_url, backend_url)
    yield application
    application.close()


@pytest.fixture
def worker(tmp_path, broker, queue_name):
    """A running ``tuiq worker`` (prefork, 2 processes) on a private queue."""
    _, broker_url, backend_url = broker
    process = start_worker(tmp_path, broker_url, backend_url, name=unique("w"),
                           queues=[queue_name], extra=["-c", "2"])
    yield process
    process.stop()
