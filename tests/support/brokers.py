"""The three brokers tests run against: embedded Valkey, Redis and RabbitMQ.

A broker that is not running makes the test fail loudly: never skip.
"""

from __future__ import annotations

import os
import socket
import uuid

REDIS_URL = os.environ.get("TUIQ_TEST_REDIS", "redis://127.0.0.1:6379")
AMQP_URL = os.environ.get("TUIQ_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
BROKERS = ("embedded", "redis", "rabbitmq")


def require_port(host: str, port: int, what: str) -> None:
    """Fail (not skip) when a broker does not answer."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        raise AssertionError(f"{what} is not reachable at {host}:{port}: {exc}") from exc


def broker_urls(kind: str, embedded_url: str, db: int = 9) -> tuple[str, str]:
    """``(broker_url, result_backend_url)`` for a broker kind."""
    if kind == "embedded":
        return embedded_url, embedded_url
    if kind == "redis":
        require_port("127.0.0.1", 6379, "Redis")
        return f"{REDIS_URL}/{db}", f"{REDIS_URL}/{db + 1}"
    if kind == "rabbitmq":
        require_port("127.0.0.1", 5672, "RabbitMQ")
        return AMQP_URL, f"{REDIS_URL}/{db + 1}"
    raise ValueError(kind)


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
