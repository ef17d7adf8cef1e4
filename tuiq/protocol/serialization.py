"""Encoding and decoding message bodies and results through kombu's serializer registry.

Using kombu's registry (not our own json) is what makes payloads byte-identical with
Celery's: both sides share kombu's JSON markers for datetime, Decimal, UUID, bytes...
"""

from __future__ import annotations

from collections.abc import Iterable

from kombu.exceptions import ContentDisallowed, DecodeError
from kombu.serialization import dumps as _kombu_dumps
from kombu.serialization import loads as _kombu_loads
from kombu.serialization import prepare_accept_content

# The kombu errors are re-exported so callers can catch them without importing kombu.
__all__ = ["DEFAULT_ACCEPT", "ContentDisallowed", "DecodeError", "dumps", "loads"]

#: What is accepted when the caller does not say: Celery's ``accept_content`` default.
DEFAULT_ACCEPT: tuple[str, ...] = ("json",)


def dumps(obj: object, serializer: str = "json") -> tuple[str, str, bytes | str]:
    """Serialize ``obj``; return ``(content_type, content_encoding, payload)``.

    Raises:
        kombu.exceptions.SerializerNotInstalled: ``serializer`` is unknown.
        kombu.exceptions.EncodeError: ``obj`` cannot be serialized.
    """
    return _kombu_dumps(obj, serializer=serializer)


def loads(
    data: bytes | str,
    content_type: str | None,
    content_encoding: str | None,
    accept: Iterable[str] | None = None,
) -> object:
    """Deserialize ``data``, refusing content types outside ``accept``.

    ``accept`` holds serializer names (``"json"``) or content types
    (``"application/json"``); ``None`` means :data:`DEFAULT_ACCEPT`, so pickle is never
    accepted by accident.

    Raises:
        kombu.exceptions.ContentDisallowed: the content type is not accepted.
        kombu.exceptions.DecodeError: the payload cannot be decoded.
        kombu.exceptions.SerializerNotInstalled: ``accept`` names an unknown serializer.
    """
    allowed = prepare_accept_content(DEFAULT_ACCEPT if accept is None else accept)
    return _kombu_loads(data, content_type, content_encoding, accept=allowed)
