"""The JSON fast path decodes task bodies exactly as kombu's ``Message.decode()`` does."""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest
from kombu.exceptions import DecodeError
from kombu.message import Message
from kombu.utils.json import dumps

from tuiq.protocol.body import decode_body

BODY = [[1, "two", {"three": 3.0}],
        {"when": datetime.datetime(2026, 11, 21, 12, 30, tzinfo=datetime.UTC),
         "amount": decimal.Decimal("1.10"), "ref": uuid.UUID(int=7), "raw": b"\x00\xff",
         "text": "zürich ✓"},
        {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]


def _message(body, content_type="application/json"):
    return Message(body=body, content_type=content_type, content_encoding="utf-8")


@pytest.mark.parametrize("as_bytes", [True, False])
def test_json_bodies_decode_as_kombu_decodes_them(as_bytes):
    text = dumps(BODY)
    body = text.encode() if as_bytes else text
    assert decode_body(_message(body)) == _message(body).decode() == BODY


def test_other_content_types_go_through_kombu():
    body = dumps(BODY).encode()
    raw = _message(body, "application/octet-stream")
    assert decode_body(raw) == _message(body, "application/octet-stream").decode()
    assert decode_body(raw) != BODY


@pytest.mark.parametrize("body", [b"[1, 2", b"\xff\xfe not utf-8",
                                  b'{"__type__": "nope", "__value__": 1}'])
def test_undecodable_bodies_raise_kombus_decode_error(body):
    with pytest.raises(DecodeError):
        _message(body).decode()
    with pytest.raises(DecodeError):
        decode_body(_message(body))


def test_a_json_decoder_registered_in_kombu_is_used():
    from kombu.serialization import register, register_json

    register("json", dumps, lambda data: {"decoded by": "mine"},
             content_type="application/json", content_encoding="utf-8")
    try:
        assert decode_body(_message(dumps(BODY))) == {"decoded by": "mine"}
    finally:
        register_json()
    assert decode_body(_message(dumps(BODY))) == BODY
