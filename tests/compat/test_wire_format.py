"""The envelope tuiq LPUSHes on Redis has the shape of Celery's (PROTOCOL.md §0.3, §1.2-1.4).

Both clients publish the same call to a queue nobody consumes; the envelopes are read
back with redis-py and compared key by key.  Ids, times and the sender's name differ by
nature and are checked for form only.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis
from kombu import Connection, Exchange, Queue

import tuiq
from tests.compat.celeryproj import make_app as make_celery_app
from tests.compat.helpers import BROKER_DB, RESULT_ONLY_DB, env_for, make_tuiq_app
from tests.support.brokers import REDIS_URL
from tuiq.task import Context

#: Per-message values: compared for form, not equality.
VOLATILE_HEADERS = {"id", "root_id", "eta", "expires", "origin"}
VOLATILE_PROPERTIES = {"correlation_id", "reply_to", "delivery_tag", "expiration"}


@pytest.fixture(scope="module")
def clients() -> Iterator[tuple[object, tuiq.App]]:
    env_for("redis")  # fails loudly when Redis is down
    broker = f"{REDIS_URL}/{BROKER_DB}"
    backend = f"{REDIS_URL}/{RESULT_ONLY_DB}"
    capp = make_celery_app(broker, backend)
    tapp = make_tuiq_app(broker, backend)
    yield capp, tapp
    capp.close()
    tapp.close()


@pytest.fixture
def capture() -> Iterator[tuple[str, Callable[[], list[tuple[bytes, dict]]]]]:
    """A fresh queue nobody consumes, and a function popping everything pushed to it."""
    client = redis.Redis.from_url(f"{REDIS_URL}/{BROKER_DB}")
    queue = f"compat-wire-{uuid.uuid4().hex[:10]}"

    def take() -> list[tuple[bytes, dict]]:
        found = []
        # The queue list itself plus kombu's priority sub-queues ``Q\x06\x16<step>``.
        for key in sorted(client.keys(f"{queue}*")):
            if client.type(key) != b"list":
                continue
            # LPUSH puts the newest first: reverse to get publish order.
            found += [(key, json.loads(raw)) for raw in reversed(client.lrange(key, 0, -1))]
            client.delete(key)
        return found

    yield queue, take
    client.delete(*client.keys(f"{queue}*") or [f"{queue}-none"])
    client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


def _one(take) -> tuple[bytes, dict]:
    envelopes = take()
    assert len(envelopes) == 1, envelopes
    return envelopes[0]


def _body(envelope: dict) -> list:
    assert envelope["properties"]["body_encoding"] == "base64"
    return json.loads(base64.b64decode(envelope["body"]))


def _assert_volatile_forms(envelope: dict, queue: str) -> None:
    headers, properties = envelope["headers"], envelope["properties"]
    uuid.UUID(headers["id"])
    assert headers["root_id"] == headers["id"] == properties["correlation_id"]
    assert re.fullmatch(r"gen\d+@.+", headers["origin"])
    uuid.UUID(properties["reply_to"])
    uuid.UUID(properties["delivery_tag"])
    assert properties["delivery_info"] == {"exchange": "", "routing_key": queue}


def _compare(celery_env: tuple[bytes, dict], tuiq_env: tuple[bytes, dict], queue: str) -> None:
    (celery_key, celery), (tuiq_key, ours) = celery_env, tuiq_env
    assert tuiq_key == celery_key  # the same list (priority bucket) on Redis
    assert ours.keys() == celery.keys()
    for key in ("content-type", "content-encoding"):
        assert ours[key] == celery[key]
    assert ours["headers"].keys() == celery["headers"].keys()
    assert ours["properties"].keys() == celery["properties"].keys()
    for name, value in celery["headers"].items():
        if name not in VOLATILE_HEADERS:
            assert ours["headers"][name] == value, f"header {name!r}"
    for name, value in celery["properties"].items():
        if name not in VOLATILE_PROPERTIES:
            assert ours["properties"][name] == value, f"property {name!r}"
    for envelope in (celery, ours):
        _assert_volatile_forms(envelope, queue)
    for name in ("eta", "expires"):
        assert (ours["headers"][name] is None) == (celery["headers"][name] is None), name
    if "expiration" in celery["properties"]:
        assert abs(int(ours["properties"]["expiration"])
                   - int(celery["properties"]["expiration"])) < 1000


def test_countdown_expires_priority_headers(clients, capture):
    capp, tapp = clients
    queue, take = capture
    options = dict(countdown=30, expires=120, priority=5, headers={"x-custom": "v"}, queue=queue)
    capp.tasks["testproj.add"].apply_async((4, 5), **options)
    celery = _one(take)
    before = datetime.now(UTC)
    tapp.tasks["testproj.add"].apply_async((4, 5), **options)
    ours = _one(take)
    _compare(celery, ours, queue)
    headers = ours[1]["headers"]
    assert headers["x-custom"] == "v"
    assert headers["argsrepr"] == "(4, 5)"
    eta = datetime.fromisoformat(headers["eta"])
    expires = datetime.fromisoformat(headers["expires"])
    assert eta.utcoffset() is not None and expires.utcoffset() is not None
    assert 29 <= (eta - before).total_seconds() <= 31
    assert 119 <= (expires - before).total_seconds() <= 121
    assert ours[1]["properties"]["priority"] == 5
    assert 119000 <= int(ours[1]["properties"]["expiration"]) <= 120000
    assert _body(ours[1]) == _body(celery[1]) == [
        [4, 5], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]


def test_links_shadow_and_time_limits(clients, capture):
    capp, tapp = clients
    queue, take = capture
    for app in (capp, tapp):
        app.tasks["testproj.add"].apply_async(
            (4,), {"y": 5}, queue=queue, shadow="add-shadow", time_limit=10,
            soft_time_limit=5, link=app.tasks["testproj.add"].s(10),
            link_error=app.tasks["testproj.fail"].s())
    celery, ours = take()
    _compare(celery, ours, queue)
    assert ours[1]["headers"]["timelimit"] == [10, 5]
    assert ours[1]["headers"]["shadow"] == "add-shadow"
    body = _body(ours[1])
    assert body == _body(celery[1])
    assert body[2]["callbacks"] == [{"task": "testproj.add", "args": [10], "kwargs": {},
                                     "options": {}, "subtask_type": None,
                                     "immutable": False}]


def test_send_task_by_name(clients, capture):
    capp, tapp = clients
    queue, take = capture
    for app in (capp, tapp):
        app.send_task("testproj.add", (2, 3), queue=queue)
    celery, ours = take()
    _compare(celery, ours, queue)
    # Celery's send_task leaves ignore_result unset (null) so the worker's task decides.
    assert ours[1]["headers"]["ignore_result"] is None


def test_chain_first_message(clients, capture):
    capp, tapp = clients
    queue, take = capture
    from celery import chain as celery_chain

    for app, chain in ((capp, celery_chain), (tapp, tuiq.chain)):
        add = app.tasks["testproj.add"]
        chain(add.s(1, 2).set(queue=queue), add.s(3).set(queue=queue),
              add.s(4).set(queue=queue))()
    celery, ours = take()
    _compare(celery, ours, queue)
    celery_body, our_body = _body(celery[1]), _body(ours[1])
    assert our_body[:2] == celery_body[:2] == [[1, 2], {}]
    steps = our_body[2]["chain"]
    # The remaining steps travel reversed: the next one is last.
    assert [step["args"] for step in steps] == [[4], [3]]
    for ours_step, celery_step in zip(steps, celery_body[2]["chain"], strict=True):
        assert ours_step.keys() == celery_step.keys()
        assert {k: v for k, v in ours_step.items() if k != "options"} == {
            k: v for k, v in celery_step.items() if k != "options"}
        assert ours_step["options"]["queue"] == queue
        uuid.UUID(ours_step["options"]["task_id"])


def test_task_sent_from_a_running_task(clients, capture):
    # What a task body's send_task publishes, and how its sender records it (Celery's
    # add_to_parent): parent_id/root_id headers, and the sender's request.children.
    _, tapp = clients
    queue, take = capture
    sender = tapp.tasks["testproj.add"]
    parent_id, root_id = str(uuid.uuid4()), str(uuid.uuid4())
    request = Context(id=parent_id, root_id=root_id, called_directly=False)
    sender.push_request(request)
    try:
        child = tapp.send_task("testproj.echo", ("hi",), queue=queue)
        untracked = tapp.send_task("testproj.echo", ("no",), queue=queue, add_to_parent=False)
    finally:
        sender.pop_request()
    (_, sent), (_, other) = take()
    assert sent["headers"]["id"] == child.id
    assert sent["headers"]["parent_id"] == other["headers"]["parent_id"] == parent_id
    assert sent["headers"]["root_id"] == other["headers"]["root_id"] == root_id
    assert request.children == [[[child.id, None], None]]
    assert untracked.id not in str(request.children)


def test_amqp_message_matches():
    # On RabbitMQ the same call gives the same application headers and basic properties
    # (PROTOCOL.md §0.2); both clients also declare the queue with identical flags, or the
    # second declaration would fail with 406 PRECONDITION_FAILED.
    env = env_for("rabbitmq")
    capp = make_celery_app(env.broker_url, f"{REDIS_URL}/{RESULT_ONLY_DB}")
    tapp = make_tuiq_app(env.broker_url, f"{REDIS_URL}/{RESULT_ONLY_DB}")
    queue_name = f"compat-wire-{uuid.uuid4().hex[:10]}"
    options = dict(countdown=30, expires=120, priority=5, headers={"x-custom": "v"},
                   queue=queue_name)
    try:
        for app in (capp, tapp):
            app.tasks["testproj.add"].apply_async((4, 5), **options)
        with Connection(env.broker_url) as connection:
            queue = Queue(queue_name, Exchange(queue_name, "direct"),
                          routing_key=queue_name)(connection.default_channel)
            try:
                celery, ours = queue.get(no_ack=True), queue.get(no_ack=True)
            finally:
                queue.delete()
    finally:
        capp.close()
        tapp.close()
    assert celery is not None and ours is not None
    assert ours.properties.keys() == celery.properties.keys()
    ours_headers, celery_headers = ours.headers, celery.headers
    assert ours_headers.keys() == celery_headers.keys()
    for name, value in celery_headers.items():
        if name not in VOLATILE_HEADERS:
            assert ours_headers[name] == value, f"header {name!r}"
    for name, value in celery.properties.items():
        if name not in VOLATILE_PROPERTIES | {"application_headers"}:
            assert ours.properties[name] == value, f"property {name!r}"
    assert ours.properties["correlation_id"] == ours_headers["id"]
    uuid.UUID(ours.properties["reply_to"])
    assert abs(int(ours.properties["expiration"]) - int(celery.properties["expiration"])) < 1000
    for message in (celery, ours):
        assert message.delivery_info["exchange"] == ""
        assert message.delivery_info["routing_key"] == queue_name
    assert ours.decode() == celery.decode()
