"""The message that kills a Celery 5.7 worker is rejected by tuiq's (PROTOCOL.md §1.8, §7.3).

A v2 message with a valid ``task`` header but a body that is not ``[args, kwargs, embed]``
made a stock 5.7 prefork worker exit with "Unrecoverable error", and the restored message
then killed the next worker.  A tuiq worker must log it, reject it without requeue, store
nothing, and keep serving.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from kombu import Connection

from tests.compat.helpers import RESULT_EXPIRES, Node, delete_queues, get_result
from tests.support.brokers import unique
from tests.support.polling import wait_until
from tests.support.workers import start_worker


@pytest.fixture
def poison_node(env, tuiq_client, tmp_path) -> Iterator[tuple[Node, str]]:
    """A private tuiq worker: if the poison kills it, no other test is affected."""
    queue = unique("compat-poison")
    process = start_worker(tmp_path, env.broker_url, env.backend_url, name=unique("p"),
                           queues=[queue], extra=["-c", "1"], ping_app=tuiq_client,
                           env={"TUIQ_RESULT_EXPIRES": str(RESULT_EXPIRES)})
    yield Node(process.nodename, process.log, lambda: process.process.poll() is None), queue
    process.stop()
    delete_queues(env, [queue])


def _queue_depth(env, queue: str) -> int:
    if env.kind == "redis":
        # An empty kombu queue is a missing list (a passive declare would say NOT_FOUND).
        client = redis.Redis.from_url(env.broker_url)
        try:
            return sum(client.llen(key) for key in
                       [queue, *(f"{queue}\x06\x16{step}" for step in (3, 6, 9))])
        finally:
            client.close()
    with Connection(env.broker_url) as connection:
        _, count, _ = connection.default_channel.queue_declare(queue, passive=True)
        return count


def _unacked_mentions(env, task_id: str) -> bool:
    """Whether kombu's Redis ``unacked`` hash still holds a message of ``task_id``."""
    if env.kind != "redis":
        return False
    client = redis.Redis.from_url(env.broker_url)
    try:
        return any(task_id.encode() in raw for raw in client.hvals("unacked"))
    finally:
        client.close()


def test_malformed_v2_body_is_rejected_and_worker_keeps_serving(env, tuiq_client, poison_node):
    node, queue = poison_node
    poison_id = str(uuid.uuid4())
    with Connection(env.broker_url) as connection:
        connection.Producer().publish(
            {"x": 1}, exchange="", routing_key=queue, serializer="json", delivery_mode=2,
            headers={"lang": "py", "task": "testproj.add", "id": poison_id, "retries": 0,
                     "root_id": poison_id, "parent_id": None, "eta": None, "expires": None},
            retry=True)
    wait_until(lambda: "invalid task message" in node.log().lower(), 15,
               message="the rejection in the log")

    after = tuiq_client.send_task("testproj.add", (2, 3), queue=queue)
    assert get_result(after, node) == 5
    assert node.is_alive()
    log = node.log()
    assert log.lower().count("invalid task message") == 1, log[-3000:]
    # Rejected without requeue: gone from the queue and from the unacked set, nothing stored.
    wait_until(lambda: _queue_depth(env, queue) == 0, 10, message="an empty queue")
    assert not _unacked_mentions(env, poison_id)
    assert tuiq_client.AsyncResult(poison_id).state == "PENDING"
