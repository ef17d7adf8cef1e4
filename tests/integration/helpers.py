"""Polling, log, broker and process helpers for the integration tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kombu import Connection, Exchange, Producer, Queue

from tests.support.polling import wait_until  # noqa: F401  (re-exported)
from tests.support.workers import ROOT


def is_redis_kind(kind: str) -> bool:
    """Whether the broker is served by kombu's redis transport (embedded or Redis)."""
    return kind in ("embedded", "redis")


def redis_client(url: str):
    """A redis-py client for a broker or backend URL (TCP or unix socket)."""
    from tuiq.backends.redis import redis_client_from_url

    return redis_client_from_url(url, socket_connect_timeout=5)


def unacked_for_queue(client, queue: str) -> list[dict[str, Any]]:
    """Envelopes in kombu's ``unacked`` hash that were delivered from ``queue``."""
    found = []
    for raw in client.hvals("unacked"):
        try:
            envelope, _exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            continue
        if routing_key == queue:
            found.append(envelope)
    return found


def queue_depth(kind: str, broker_url: str, queue: str) -> int:
    """Messages ready in ``queue`` (not counting ones delivered and unacked)."""
    if is_redis_kind(kind):
        client = redis_client(broker_url)
        try:
            # Priority sub-queues are separate lists (PROTOCOL.md §0.3).
            names = [queue] + [f"{queue}\x06\x16{p}" for p in (1, 2, 3, 4, 5, 6, 7, 8, 9)]
            return sum(client.llen(name) for name in names)
        finally:
            client.close()
    with Connection(broker_url) as conn:
        channel = conn.channel()
        try:
            _, count, _ = channel.queue_declare(queue=queue, passive=True)
        finally:
            channel.close()
        return count


def publish_raw(broker_url: str, queue: str, body: Any, *, headers: dict[str, Any] | None,
                content_type: str = "application/json", content_encoding: str = "utf-8",
                serializer: str | None = None, properties: dict[str, Any] | None = None) -> None:
    """Publish an arbitrary message to ``queue`` via the default exchange, bypassing tuiq."""
    with Connection(broker_url) as conn:
        producer = Producer(conn.default_channel)
        q = Queue(queue, Exchange(queue, "direct"), routing_key=queue)
        kwargs: dict[str, Any] = {"headers": headers or {}, "exchange": "",
                                  "routing_key": queue, "declare": [q],
                                  "delivery_mode": 2, **(properties or {})}
        if serializer is not None:
            kwargs["serializer"] = serializer
        else:
            kwargs["content_type"] = content_type
            kwargs["content_encoding"] = content_encoding
        producer.publish(body, **kwargs)


def children_of(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def tuiq_cli(args: Sequence[str], timeout: float = 60, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m tuiq ARGS`` and capture its output."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                           full_env.get("PYTHONPATH")]))
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "tuiq", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=str(cwd or ROOT))


def read_marker(path: Path) -> list[str]:
    """Lines a task wrote to a marker file (empty when it does not exist yet)."""
    return path.read_text().splitlines() if path.exists() else []


class OwnWorker:
    """A worker started by one test, with a client app on the same broker.

    Use as a context manager: the worker is stopped (TERM, then killed if it
    hangs) and the app's connections are closed on exit.
    """

    def __init__(self, tmp_path: Path, kind: str, embedded_url: str, *, name: str,
                 queues: Sequence[str], extra: Sequence[str] = (), wait: bool = True,
                 env: dict[str, str] | None = None) -> None:
        from tests.support.brokers import broker_urls
        from tests.support.workers import client_app, start_worker

        self.kind = kind
        self.broker_url, self.backend_url = broker_urls(kind, embedded_url)
        self.queues = list(queues)
        self.app = client_app(self.broker_url, self.backend_url)
        self.worker = start_worker(tmp_path, self.broker_url, self.backend_url, name=name,
                                   queues=self.queues, extra=list(extra), wait=wait,
                                   env=env)

    def __enter__(self) -> OwnWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.worker.process.poll() is None:
                self.worker.stop()
        finally:
            self.app.close()


def wait_logged(worker, text: str, count: int = 1, timeout: float = 10.0) -> None:
    """Wait until ``text`` occurs at least ``count`` times in the worker's log."""
    wait_until(lambda: worker.log().count(text) >= count, timeout=timeout,
               message=lambda: f"{text!r} not logged {count}x:\n{worker.log()[-3000:]}")
