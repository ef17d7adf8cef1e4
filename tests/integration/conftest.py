"""Fixtures of the integration tests: one long-lived worker per broker, shared by many tests.

Starting a worker costs a few seconds, so the tests that do not disturb the
worker (calling, results, most behaviour checks) share one prefork worker
per broker. It consumes two private queues: ``main`` and ``alt``. Tests
that kill, signal or reconfigure a worker start their own.
"""

from __future__ import annotations

import pytest

from tests.support.brokers import BROKERS, broker_urls, unique
from tests.support.workers import client_app, start_worker


class Shared:
    """The broker, queues and worker shared by the tests of one broker."""

    def __init__(self, kind: str, broker_url: str, backend_url: str) -> None:
        self.kind = kind
        self.broker_url = broker_url
        self.backend_url = backend_url
        self.queue = unique("main")
        self.alt_queue = unique("alt")
        self.worker = None


@pytest.fixture(scope="session", params=BROKERS)
def shared(request, embedded_url, tmp_path_factory):
    """A running ``-c 2`` prefork worker per broker, consuming two private queues."""
    broker_url, backend_url = broker_urls(request.param, embedded_url)
    state = Shared(request.param, broker_url, backend_url)
    state.worker = start_worker(tmp_path_factory.mktemp(f"shared-{request.param}"),
                                broker_url, backend_url, name=unique("shared"),
                                queues=[state.queue, state.alt_queue], extra=["-c", "2"])
    yield state
    assert state.worker.process.poll() is None, \
        f"the shared worker died during the session:\n{state.worker.log()[-3000:]}"
    assert state.worker.stop() == 0


@pytest.fixture
def sapp(shared):
    """The test project's app pointed at the shared worker's broker."""
    application = client_app(shared.broker_url, shared.backend_url)
    yield application
    application.close()
