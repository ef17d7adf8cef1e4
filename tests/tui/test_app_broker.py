"""The console and its broker: a broker that is down or goes away, confirmations that
stop a worker or empty a queue, RabbitMQ, and Celery workers in the same cluster."""

from __future__ import annotations

import time

import pytest
import redis
from kombu import Queue

from tests.compat.cluster import CeleryNode
from tests.compat.helpers import Env
from tests.support.brokers import AMQP_URL, REDIS_URL, require_port, unique
from tests.support.redis_server import RedisServer, free_port
from tests.tui.app_pilot import (
    SIZE,
    pilot_test,
    redis_urls,
    screen_text,
    select_node,
    start_cluster,
    tuiq_app,
    until,
    worker_until,
)
from tuiq.tui.app import TopApp
from tuiq.tui.screens.confirm import ConfirmScreen
from tuiq.tui.views.nodes import NodesView


# -- the broker goes away -----------------------------------------------------------------
@pilot_test
async def test_an_unreachable_broker_shows_disconnected(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    app = TopApp(tuiq_app(url, url), refresh=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: "Reconnecting" in screen_text(app),
                    message=lambda: screen_text(app))
        assert not app.connected
        line = next(line for line in screen_text(app).splitlines() if "Reconnecting" in line)
        assert line.strip() == (f"DISCONNECTED from {url}: Connection refused. "
                                "Reconnecting; nothing to show yet.")
        # Still usable: keys work, and a command says in one line that it cannot be sent.
        await pilot.press("2", "1", "colon", *"ping", "enter")
        await until(pilot, lambda: app.last_outcome is not None)
        assert app.last_outcome.error == f"cannot reach broker {url}: Connection refused"


@pilot_test
async def test_the_console_reconnects_when_the_broker_comes_back(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    try:
        app = TopApp(tuiq_app(server.url(), server.url()), refresh=0.5)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.connected and "DISCONNECTED" not in screen_text(app),
                        message="never connected")
            server.kill()
            await until(pilot, lambda: "Reconnecting" in screen_text(app),
                        message=lambda: screen_text(app))
            assert "the last known state is shown" in screen_text(app)
            server.start()
            await until(pilot, lambda: app.connected, timeout=30,
                        message="did not reconnect")
            await until(pilot, lambda: "DISCONNECTED" not in screen_text(app))
    finally:
        server.stop()


# -- confirmations ----------------------------------------------------------------------------
@pilot_test
async def test_shutdown_asks_first_and_sends_only_when_confirmed(tmp_path):
    broker, backend = redis_urls()
    cluster = start_cluster(tmp_path, broker, backend)
    try:
        app = TopApp(cluster.app, refresh=0.5)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await select_node(pilot, app.query_one(NodesView), cluster.node)
            await pilot.press("X")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n")
            await pilot.pause(1.0)
            assert cluster.ask("ping") == {"ok": "pong"}
            assert app.last_outcome is None

            await pilot.press("X")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: app.last_outcome is not None)
            assert app.last_outcome.cast and app.last_outcome.replies == {cluster.node: None}
            assert cluster.worker.wait(30) == 0
            await until(pilot, lambda: app.cluster.workers[cluster.node].status(time.time())
                        == "offline", message="no worker-offline event")
            await until(pilot, lambda: f"{cluster.node}: sent" in screen_text(app))
    finally:
        cluster.close()


def waiting(broker: str, queue: str) -> int:
    """Messages waiting in ``queue``, asked of the broker directly."""
    if broker.startswith("redis"):
        return redis.Redis.from_url(broker).llen(queue)
    app = tuiq_app(broker, broker)
    with app.connection() as connection:
        return connection.default_channel.queue_declare(queue, passive=True).message_count


@pytest.mark.parametrize("kind", ["redis", "rabbitmq"])
@pilot_test
async def test_purge_asks_first_and_empties_the_queue(kind, tmp_path):
    broker = f"{REDIS_URL}/14" if kind == "redis" else AMQP_URL
    require_port("127.0.0.1", 6379 if kind == "redis" else 5672, kind)
    queue = unique("purgeq")
    app_for_sending = tuiq_app(broker, broker)
    with app_for_sending.connection() as connection:
        producer = connection.Producer()
        for n in range(3):
            producer.publish({"n": n}, routing_key=queue, declare=[Queue(queue)])
    assert waiting(broker, queue) == 3
    try:
        app = TopApp(tuiq_app(broker, broker), refresh=0.5)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.press("colon", *f"purge {queue}", "enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert f"Delete every message waiting in {queue}?" in screen_text(app)
            await pilot.press("escape")
            await pilot.pause(0.5)
            assert waiting(broker, queue) == 3

            await pilot.press("colon", *f"purge {queue}", "enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: app.last_outcome is not None)
            assert app.last_outcome.lines == [f"{queue}: 3 messages deleted"]
        assert waiting(broker, queue) == 0
    finally:
        with app_for_sending.connection() as connection:
            Queue(queue)(connection.default_channel).delete()
        app_for_sending.close()


# -- RabbitMQ, and Celery workers ---------------------------------------------------------------
@pilot_test
async def test_live_feed_and_keys_on_rabbitmq(tmp_path):
    require_port("127.0.0.1", 5672, "RabbitMQ")
    _, backend = redis_urls()
    cluster = start_cluster(tmp_path, AMQP_URL, backend)
    try:
        processes = len(cluster.ask("stats")["pool"]["processes"])
        app = TopApp(cluster.app, refresh=0.5)
        async with app.run_test(size=SIZE) as pilot:
            await select_node(pilot, app.query_one(NodesView), cluster.node)
            task_id = cluster.send("testproj.add", 40, 2)
            await until(pilot, lambda: getattr(app.cluster.tasks.get(task_id), "state", None)
                        == "SUCCESS", message="no task events from RabbitMQ")
            assert app.cluster.tasks[task_id].result == "42"
            await until(pilot, lambda: (app.queue_depths or {}).get(cluster.queue) == 0,
                        message=lambda: f"queue depths: {app.queue_depths}")
            await pilot.press("plus")
            await until(pilot, lambda: app.last_outcome is not None)
            worker_until(lambda: len(cluster.ask("stats")["pool"]["processes"])
                         == processes + 1, message="the pool did not grow")
    finally:
        cluster.close()


@pilot_test
async def test_celery_and_tuiq_workers_side_by_side(tmp_path):
    broker, backend = redis_urls()
    tuiq_cluster = start_cluster(tmp_path, broker, backend)
    celery_queue = unique("celq")
    celery = CeleryNode(tmp_path, Env("redis", broker, backend), [celery_queue])
    try:
        worker_until(lambda: celery.nodename in (tuiq_cluster.client.broadcast(
            "ping", reply=True, timeout=0.5) or {}), timeout=30,
            message=lambda: f"celery worker did not answer:\n{celery.log()[-3000:]}")
        app = TopApp(tuiq_cluster.app, refresh=0.5)
        async with app.run_test(size=SIZE) as pilot:
            view = app.query_one(NodesView)

            def software() -> dict[str, str | None]:
                workers = app.cluster.workers
                return {node: getattr(workers.get(node), "sw_ident", None)
                        for node in (tuiq_cluster.node, celery.nodename)}

            await until(pilot, lambda: all(software().values()),
                        message=lambda: f"no heartbeats from both: {software()}")
            assert software() == {tuiq_cluster.node: "py-tuiq", celery.nodename: "py-celery"}
            # The stock Celery worker runs without -E: turn its task events on from here.
            await select_node(pilot, view, celery.nodename)
            await pilot.press("e")
            await until(pilot, lambda: app.last_outcome is not None)
            assert app.last_outcome.replies == {celery.nodename: {"ok": "task events enabled"}}
            celery_task = tuiq_cluster.send("testproj.add", 1, 2, queue=celery_queue)
            tuiq_task = tuiq_cluster.send("testproj.add", 3, 4)
            await until(pilot, lambda: all(
                getattr(app.cluster.tasks.get(t), "state", None) == "SUCCESS"
                for t in (celery_task, tuiq_task)), message="tasks of both never finished")
            assert app.cluster.tasks[celery_task].hostname == celery.nodename
            assert app.cluster.tasks[tuiq_task].hostname == tuiq_cluster.node
            await pilot.press("2")
            await until(pilot, lambda: celery_task in screen_text(app)
                        and tuiq_task in screen_text(app))
    finally:
        celery.stop()
        tuiq_cluster.close()
