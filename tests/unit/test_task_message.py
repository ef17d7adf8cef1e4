"""Building and parsing protocol-v2 task messages (and accepting v1/hybrid)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tuiq.exceptions import InvalidTaskError
from tuiq.protocol.task import build_task_message, parse_task_message


def test_build_has_celery_headers_and_body_shape():
    headers, properties, body = build_task_message(
        "proj.add", "id-1", (4, 5), {}, countdown=30, expires=120, timelimit=(10, 5),
        shadow="add-shadow", extra_headers={"x-custom": "v"},
    )
    assert set(headers) >= {
        "lang", "task", "id", "shadow", "eta", "expires", "group", "group_index", "retries",
        "timelimit", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin",
        "ignore_result", "replaced_task_nesting", "stamped_headers", "stamps",
    }
    assert headers["task"] == "proj.add"
    assert headers["root_id"] == "id-1"
    assert headers["timelimit"] == [10, 5]
    assert headers["argsrepr"] == "(4, 5)"
    assert headers["x-custom"] == "v"
    assert headers["origin"].startswith("gen")
    eta = datetime.fromisoformat(headers["eta"])
    assert eta.tzinfo is not None
    assert timedelta(seconds=29) < eta - datetime.now(timezone.utc) <= timedelta(seconds=30)
    assert properties["correlation_id"] == "id-1"
    assert 110000 < int(properties["expiration"]) <= 120000
    assert body == [[4, 5], {}, {"callbacks": None, "errbacks": None, "chain": None,
                                 "chord": None}]


def test_parse_round_trip():
    headers, properties, body = build_task_message("proj.add", "id-2", (1,), {"y": 2})
    message = parse_task_message(headers, body, properties, {"routing_key": "celery"})
    assert (message.name, message.id, message.args, message.kwargs) == (
        "proj.add", "id-2", [1], {"y": 2})
    assert message.eta is None and message.expires is None
    assert message.delivery_info["routing_key"] == "celery"


def test_minimal_headers_are_enough():
    message = parse_task_message({"task": "proj.add", "id": "x"}, [[1, 2], {}, {}])
    assert message.args == [1, 2]
    assert message.retries == 0
    assert message.timelimit == (None, None)


def test_v1_body_is_converted():
    body = {"task": "proj.add", "id": "v1", "args": [1, 2], "kwargs": {}, "retries": 1,
            "eta": None, "expires": None, "utc": True, "callbacks": None, "errbacks": None,
            "timelimit": [None, None], "taskset": "g1"}
    message = parse_task_message({}, body)
    assert (message.name, message.id, message.args) == ("proj.add", "v1", [1, 2])
    assert message.retries == 1
    assert message.headers["group"] == "g1"


@pytest.mark.parametrize("headers,body,reason", [
    ({"task": "a", "id": "1"}, {"x": 1}, "3-item list"),
    ({"task": "a", "id": "1"}, [[1], {}], "3-item list"),
    ({"task": "a", "id": "1"}, [[1], [2], {}], "kwargs must be a mapping"),
    ({"task": "a", "id": "1"}, ["notalist", {}, {}], "args must be a list"),
    ({}, [[1], {}, {}], "no task header"),
    ({"task": "a", "id": "1", "eta": "not-a-date"}, [[], {}, {}], "invalid ISO"),
    ({"task": "a", "id": "1", "expires": 12}, [[], {}, {}], "invalid expires"),
    ({"task": "", "id": "1"}, [[], {}, {}], "non-empty"),
    ({"task": "a"}, [[], {}, {}], "id header"),
])
def test_malformed_messages_raise_invalid_task(headers, body, reason):
    with pytest.raises(InvalidTaskError, match=reason):
        parse_task_message(headers, body)


def test_naive_eta_is_utc():
    message = parse_task_message({"task": "a", "id": "1", "eta": "2030-01-01T12:00:00"},
                                 [[], {}, {}])
    assert message.eta == datetime(2030, 1, 1, 12, tzinfo=timezone.utc)
