"""Fixtures for the Celery compatibility tests: both engines, real brokers, real workers.

Each broker kind gets one ``tuiq worker`` and one ``celery worker`` for the whole session.
Each worker consumes a pool of unique queues and every test takes a queue of its own from
the pool, so no two tests (and no other test folder) ever share a queue.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery

import tuiq
from tests.compat.celeryproj import make_app as make_celery_app
from tests.compat.helpers import (
    COMPAT_BROKERS,
    QUEUE_POOL_SIZE,
    RESULT_EXPIRES,
    CeleryWorker,
    Env,
    Node,
    delete_queues,
    env_for,
    make_tuiq_app,
)
from tests.support.brokers import unique
from tests.support.workers import start_worker


# brokers and clients ----------------------------------------------------------------------
@pytest.fixture(scope="session", params=COMPAT_BROKERS)
def env(request) -> Env:
    """Each broker kind the compatibility tests run on."""
    return env_for(request.param)


@pytest.fixture(scope="session")
def celery_client(env) -> Iterator[Celery]:
    """A stock Celery client app on the broker under test."""
    capp = make_celery_app(env.broker_url, env.backend_url)
    yield capp
    capp.close()


@pytest.fixture(scope="session")
def tuiq_client(env) -> Iterator[tuiq.App]:
    """A tuiq client app on the broker under test."""
    app = make_tuiq_app(env.broker_url, env.backend_url)
    yield app
    app.close()


# workers ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tuiq_node(env, tuiq_client, tmp_path_factory) -> Iterator[Node]:
    """A real ``tuiq worker`` (prefork, 2 processes) consuming a pool of queues."""
    queues = [unique("compat-t") for _ in range(QUEUE_POOL_SIZE)]
    process = start_worker(tmp_path_factory.mktemp("tuiq-worker"), env.broker_url,
                           env.backend_url, name=unique("t"), queues=queues,
                           extra=["-c", "2"], ping_app=tuiq_client,
                           env={"TUIQ_RESULT_EXPIRES": str(RESULT_EXPIRES)})
    yield Node(process.nodename, process.log, lambda: process.process.poll() is None,
               list(queues))
    process.stop()
    delete_queues(env, queues)


@pytest.fixture
def tuiq_queue(tuiq_node) -> str:
    """A queue of its own for this test, consumed by the tuiq worker."""
    return tuiq_node.take_queue()


@pytest.fixture(scope="session")
def celery_node(env, celery_client, tmp_path_factory) -> Iterator[Node]:
    """A real ``celery worker`` consuming a pool of queues."""
    queues = [unique("compat-c") for _ in range(QUEUE_POOL_SIZE)]
    worker = CeleryWorker(tmp_path_factory.mktemp("celery-worker"), env, queues)
    worker.wait_for_ping(celery_client)
    yield Node(worker.nodename, worker.log, worker.is_alive, list(queues))
    worker.stop()
    delete_queues(env, queues)


@pytest.fixture
def celery_queue(celery_node) -> str:
    """A queue of its own for this test, consumed by the Celery worker."""
    return celery_node.take_queue()


@pytest.fixture
def routed_tuiq_app(env, celery_queue) -> Iterator[tuiq.App]:
    """A tuiq client whose ``task_routes`` send every test task to ``celery_queue``."""
    app = make_tuiq_app(env.broker_url, env.backend_url,
                        task_routes={"testproj.*": {"queue": celery_queue}})
    yield app
    app.close()

