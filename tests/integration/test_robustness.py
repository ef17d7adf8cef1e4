"""Inputs that must not take a worker down or lose work: bad broadcasts, bad queue
entries, duplicate task ids, and workflow signatures nested in callbacks."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Exchange, Producer

from tests.integration.helpers import (
    is_redis_kind,
    publish_raw,
    redis_client,
    unacked_for_queue,
    wait_until,
)
from tuiq import Signature, group


@pytest.mark.parametrize("body", [
    ["not", "a", "dict"],
    {"method": "ping", "arguments": {}, "destination": None, "ticket": "t1",
     "reply_to": "not-a-mapping"},
    {"method": "ping", "arguments": "not-a-mapping", "destination": None},
    {"method": "no_such_command", "arguments": {}, "destination": None},
])
def test_malformed_broadcasts_do_not_stop_the_worker(shared, sapp, body):
    with Connection(shared.broker_url) as connection:
        exchange = Exchange("celery.pidbox", "fanout", durable=False, delivery_mode="transient")
        Producer(connection.default_channel).publish(body, exchange=exchange, routing_key="",
                                                     serializer="json")
    replies = sapp.control.ping(destination=[shared.worker.nodename], timeout=5)
    assert replies == [{shared.worker.nodename: {"ok": "pong"}}]
    assert shared.worker.process.poll() is None


def test_garbage_in_the_queue_is_dropped_alone(shared, sapp):
    # On Redis the garbage is a list entry that is not even a kombu envelope;
    # on RabbitMQ, a message whose JSON body cannot be decoded.
    if is_redis_kind(shared.kind):
        client = redis_client(shared.broker_url)
        client.lpush(shared.queue, b"not-json{")
        client.close()
        logged = "not a kombu envelope"
    else:
        publish_raw(shared.broker_url, shared.queue, b"not-json{",
                    headers={"task": "testproj.add", "id": str(uuid.uuid4())})
        logged = "Can't decode message body"
    results = [sapp.send_task("testproj.add", (i, 1), queue=shared.queue) for i in range(5)]
    assert [r.get(timeout=15) for r in results] == [1, 2, 3, 4, 5]
    wait_until(lambda: logged in shared.worker.log(), timeout=10)


def test_two_messages_with_one_task_id_both_settle(shared, sapp):
    task_id = str(uuid.uuid4())
    first = sapp.send_task("testproj.add", (1, 1), queue=shared.queue, task_id=task_id,
                           countdown=0.3)
    sapp.send_task("testproj.add", (1, 1), queue=shared.queue, task_id=task_id, countdown=0.3)
    assert first.get(timeout=15) == 2
    wait_until(lambda: shared.worker.log().count(f"[{task_id}] succeeded") == 2, timeout=15)
    if is_redis_kind(shared.kind):
        client = redis_client(shared.broker_url)
        try:
            wait_until(lambda: not [e for e in unacked_for_queue(client, shared.queue)
                                    if e["headers"]["id"] == task_id], timeout=10)
        finally:
            client.close()


def test_a_group_as_callback_runs_its_members(shared, sapp):
    members = [Signature("testproj.add", (10,), app=sapp).set(queue=shared.queue),
               Signature("testproj.add", (20,), app=sapp).set(queue=shared.queue)]
    ids = [member.freeze() for member in members]
    parent = sapp.send_task("testproj.add", (1, 2), queue=shared.queue,
                            link=group(members, app=sapp))
    assert parent.get(timeout=15) == 3
    assert [sapp.AsyncResult(i).get(timeout=15) for i in ids] == [13, 23]
