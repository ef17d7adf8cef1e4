"""Decoding a received task message's body, with a fast path for JSON.

kombu's ``Message.decode()`` builds a new ``json.JSONDecoder`` and enters an
error-translating context manager for every message. JSON bodies (the
default) are decoded here with one decoder kept for the process and kombu's
own object hook, so the ``__type__`` markers (datetime, Decimal, UUID, bytes)
come out exactly as kombu returns them; anything else goes through kombu.
"""

from __future__ import annotations

import json
from typing import Any

from kombu.exceptions import DecodeError
from kombu.serialization import registry
from kombu.utils import json as kombu_json

JSON_CONTENT_TYPE = "application/json"

_decoder = json.JSONDecoder(object_hook=kombu_json.object_hook)


def decode_body(message: Any) -> Any:
    """The decoded body of a kombu message; raises kombu's ``DecodeError`` as it would."""
    body = message.body
    # A decoder registered in kombu for JSON in place of its own is used as is.
    if message.content_type != JSON_CONTENT_TYPE or not body or \
            registry._decoders.get(JSON_CONTENT_TYPE) is not kombu_json.loads:
        return message.decode()
    try:
        if not isinstance(body, str):
            # kombu's JSON decoder reads bytes as UTF-8 whatever content_encoding says.
            body = bytes(body).decode("utf-8")
        return _decoder.decode(body)
    except Exception as exc:  # noqa: BLE001 - kombu turns every decoding error into this
        raise DecodeError(exc) from exc
