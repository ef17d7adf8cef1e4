"""kombu serialization helpers, and that their JSON is Celery's JSON."""

from __future__ import annotations

import datetime
import json
import pickle
import uuid
from decimal import Decimal

import kombu.serialization
import pytest
from celery import Celery
from kombu.exceptions import ContentDisallowed, DecodeError, SerializerNotInstalled

from tuiq.protocol.serialization import DEFAULT_ACCEPT, dumps, loads

UTC = datetime.UTC
AWARE = datetime.datetime(2026, 11, 21, 12, 38, 23, 454777, tzinfo=UTC)
NAIVE = datetime.datetime(2026, 11, 21, 12, 38, 23, 454777)
PLUS_TWO = datetime.datetime(
    2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
)
DAY = datetime.date(2026, 11, 21)
CLOCK = datetime.time(12, 38, 23, 454777)
AMOUNT = Decimal("12.3400")
ID = uuid.UUID("03761ed5-4a4b-4f37-a34e-6f1f2f5e1a2b")

ROUND_TRIP = [AWARE, NAIVE, PLUS_TWO, DAY, CLOCK, AMOUNT, ID, b"utf8 bytes", b"\xff\xfe\x00binary"]


def rt(value: object) -> object:
    content_type, encoding, payload = dumps(value)
    return loads(payload, content_type, encoding, accept=["json"])


class TestDumps:
    def test_json_envelope(self) -> None:
        assert dumps({"a": [1, 2]}) == ("application/json", "utf-8", '{"a": [1, 2]}')

    def test_datetime_exact_wire_text(self) -> None:
        assert dumps(AWARE)[2] == (
            '{"__type__": "datetime", "__value__": "2026-11-21T12:38:23.454777+00:00"}'
        )
        assert dumps(NAIVE)[2] == (
            '{"__type__": "datetime", "__value__": "2026-11-21T12:38:23.454777"}'
        )

    @pytest.mark.parametrize(
        ("value", "wire"),
        [
            (DAY, '{"__type__": "date", "__value__": "2026-11-21"}'),
            (CLOCK, '{"__type__": "time", "__value__": "12:38:23.454777"}'),
            (AMOUNT, '{"__type__": "decimal", "__value__": "12.3400"}'),
            (ID, '{"__type__": "uuid", "__value__": {"hex": "03761ed54a4b4f37a34e6f1f2f5e1a2b"}}'),
            (b"hi", '{"__type__": "bytes", "__value__": "hi"}'),
            (b"\xff\x00", '{"__type__": "base64", "__value__": "/wA="}'),
        ],
    )
    def test_markers(self, value: object, wire: str) -> None:
        assert dumps(value)[2] == wire

    def test_pickle_serializer(self) -> None:
        content_type, encoding, payload = dumps({"a": 1}, serializer="pickle")
        assert (content_type, encoding) == ("application/x-python-serialize", "binary")
        assert pickle.loads(payload) == {"a": 1}

    def test_unknown_serializer(self) -> None:
        with pytest.raises(SerializerNotInstalled):
            dumps(1, serializer="nope")


class TestRoundTrip:
    @pytest.mark.parametrize("value", ROUND_TRIP, ids=repr)
    def test_value(self, value: object) -> None:
        back = rt(value)
        assert back == value
        assert type(back) is type(value)

    def test_aware_stays_aware_and_naive_stays_naive(self) -> None:
        aware, naive, plus_two = rt([AWARE, NAIVE, PLUS_TWO])  # type: ignore[misc]
        assert aware.tzinfo == UTC
        assert naive.tzinfo is None
        assert plus_two.utcoffset() == datetime.timedelta(hours=2)

    def test_nested_structure(self) -> None:
        value = {"when": AWARE, "ids": [ID], "money": {"total": AMOUNT}, "day": DAY}
        assert rt(value) == value

    def test_tuples_become_lists(self) -> None:
        assert rt((1, (2, 3))) == [1, [2, 3]]


class TestLoads:
    def test_default_accept_is_json_only(self) -> None:
        assert DEFAULT_ACCEPT == ("json",)
        content_type, encoding, payload = dumps({"a": 1}, serializer="pickle")
        with pytest.raises(ContentDisallowed):
            loads(payload, content_type, encoding)

    def test_disallowed_type(self) -> None:
        content_type, encoding, payload = dumps({"a": 1})
        with pytest.raises(ContentDisallowed):
            loads(payload, content_type, encoding, accept=["pickle"])

    def test_accept_by_content_type(self) -> None:
        content_type, encoding, payload = dumps({"a": 1}, serializer="pickle")
        assert loads(
            payload, content_type, encoding, accept=["application/x-python-serialize"]
        ) == {"a": 1}

    def test_accept_unknown_name(self) -> None:
        with pytest.raises(SerializerNotInstalled):
            loads("{}", "application/json", "utf-8", accept=["nope"])

    @pytest.mark.parametrize(
        "payload", ["{not json", b"\xff\xfe", '{"__type__": "nope", "__value__": 1}']
    )
    def test_undecodable(self, payload: str | bytes) -> None:
        with pytest.raises(DecodeError):
            loads(payload, "application/json", "utf-8")

    def test_bytes_payload(self) -> None:
        assert loads(b'{"a": 1}', "application/json", "utf-8") == {"a": 1}


class TestCeleryDecodesOurPayloads:
    VALUE = {
        "status": "SUCCESS",
        "result": [AWARE, NAIVE, DAY, CLOCK, AMOUNT, ID, b"bytes", b"\xff"],
        "date_done": AWARE,
    }

    def test_kombu_loads_identically(self) -> None:
        content_type, encoding, payload = dumps(self.VALUE)
        theirs = kombu.serialization.loads(payload, content_type, encoding, accept={content_type})
        assert theirs == loads(payload, content_type, encoding) == self.VALUE

    def test_celery_backend_decodes(self) -> None:
        backend = Celery("compat", backend="cache+memory://", set_as_current=False).backend
        _, _, payload = dumps(self.VALUE)
        assert backend.decode(payload) == self.VALUE
        # And Celery's encoder writes exactly the same text.
        assert backend.encode(self.VALUE) == payload

    def test_wire_text_is_plain_json(self) -> None:
        _, _, payload = dumps({"date_done": AWARE})
        assert json.loads(payload) == {
            "date_done": {"__type__": "datetime", "__value__": "2026-11-21T12:38:23.454777+00:00"}
        }
