"""The Redis result backend (also the embedded Valkey's), in Celery's format.

Keys are ``celery-task-meta-<id>``; each write is one ``SETEX`` plus a
``PUBLISH`` on the key's name, and a stored SUCCESS is never overwritten
(PROTOCOL.md §5.1). The check-and-write runs as one Lua script, so it is
atomic and costs a single round trip.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from kombu.serialization import dumps as kombu_dumps
from kombu.serialization import loads as kombu_loads
from kombu.serialization import prepare_accept_content, registry

from tuiq import states
from tuiq.backends.base import ResultBackend, build_meta
from tuiq.backends.redis_wait import ResultWaiter
from tuiq.backends.redis_write import ResultWriter
from tuiq.broker import mask_url, short_reason
from tuiq.exceptions import BrokerUnavailable, TimeoutError
from tuiq.transport.redis import lean_handshake

TASK_KEY_PREFIX = "celery-task-meta-"
GROUP_KEY_PREFIX = "celery-taskset-meta-"

# Write-once guard: a SUCCESS already stored wins over any later write
# (a duplicate delivery, or a lost worker's late report).
_STORE_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and decoded['status'] == 'SUCCESS' then
    return 0
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SETEX', KEYS[1], ARGV[2], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


#: What redis-py raises when the store cannot be reached in time: a refused or
#: dropped connection, or a connect or TLS handshake that times out.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


def redis_client_from_url(url: str, **options: Any) -> redis.Redis:
    """A redis-py client for ``redis://``, ``rediss://`` or ``redis+socket://`` URLs."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("redis+socket", "socket", "unix"):
        query = f"?{parts.query}" if parts.query else ""
        options = {**lean_handshake(), **options}
        options.pop("socket_connect_timeout", None)
        return redis.Redis.from_url(f"unix://{parts.path}{query}", **options)
    options = {**lean_handshake(), **options}
    if scheme in ("valkey", "valkeys"):
        url = urlunsplit((scheme.replace("valkey", "redis"), *parts[1:]))
    return redis.Redis.from_url(url, **options)


class RedisBackend(ResultBackend):
    """Stores results in Redis/Valkey, readable by Celery's RedisBackend."""

    def __init__(self, app, url: str) -> None:
        super().__init__(app)
        self.url = url
        self._client: redis.Redis | None = None
        self._pid = os.getpid()
        self._local = threading.local()
        conf = app.conf
        self.expires = conf.result_expires
        self.failure_expires = conf.result_failure_expires
        self.serializer = conf.result_serializer
        self.accept = prepare_accept_content(conf.result_accept_content or conf.accept_content)
        self.content_type = registry.name_to_type.get(self.serializer, self.serializer)
        self.extended = conf.result_extended
        prefix = (conf.result_backend_transport_options or {}).get("global_keyprefix", "")
        if prefix and prefix[-1] not in ":_-.":
            prefix += "_"
        self.keyprefix = prefix

    @property
    def client(self) -> redis.Redis:
        """The client of this process (a forked child makes its own)."""
        if self._client is None or self._pid != os.getpid():
            self._client = redis_client_from_url(
                self.url, socket_connect_timeout=5, health_check_interval=30
            )
            self._pid = os.getpid()
        return self._client

    def key_for(self, task_id: str) -> str:
        """The Redis key of a task's result."""
        return f"{self.keyprefix}{TASK_KEY_PREFIX}{task_id}"

    def encode(self, meta: dict[str, Any]) -> bytes | str:
        """Serialize a meta dict with the result serializer."""
        _, _, payload = kombu_dumps(meta, serializer=self.serializer)
        return payload

    def decode(self, payload: bytes | str) -> dict[str, Any]:
        """Deserialize a stored meta value (written with ``result_serializer``)."""
        return kombu_loads(payload, self.content_type, "utf-8", accept=self.accept)

    def _expiry_for(self, state: str) -> int:
        expires = self.expires
        if state == states.FAILURE and self.failure_expires is not None:
            expires = self.failure_expires
        if hasattr(expires, "total_seconds"):
            expires = expires.total_seconds()
        return int(expires or 0)

    def _unreachable(self, exc: BaseException) -> BrokerUnavailable:
        """The one-line error for a result store that cannot be reached."""
        return BrokerUnavailable(
            f"cannot reach result backend {mask_url(self.url)}: {short_reason(exc)}")

    def store_result(self, task_id, result, state, traceback=None, request=None):
        """Write the meta with SETEX and PUBLISH, unless SUCCESS is already stored."""
        meta = build_meta(task_id, state, result, traceback, request, self.extended)
        payload = self.encode(meta)
        try:
            self._writer().run(self.key_for(task_id), payload, self._expiry_for(state))
        except UNREACHABLE as exc:
            self._drop_kept("writer")
            raise self._unreachable(exc) from exc
        return meta

    def get_task_meta(self, task_id):
        """Read the meta; a missing key is PENDING."""
        try:
            payload = self.client.get(self.key_for(task_id))
        except UNREACHABLE as exc:
            raise self._unreachable(exc) from exc
        if payload is None:
            return {"status": states.PENDING, "result": None, "traceback": None,
                    "children": [], "date_done": None, "task_id": task_id}
        return self.decode(payload)

    def get_many_meta(self, task_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Read several metas in one MGET."""
        try:
            values = self.client.mget([self.key_for(t) for t in task_ids]) if task_ids else []
        except UNREACHABLE as exc:
            raise self._unreachable(exc) from exc
        found = {}
        for task_id, payload in zip(task_ids, values, strict=True):
            found[task_id] = (
                self.decode(payload) if payload is not None
                else {"status": states.PENDING, "result": None, "task_id": task_id}
            )
        return found

    def _pubsub(self):
        """This thread's subscriber connection, kept open between waits."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.pubsub = None
            local.pid = os.getpid()
        if local.pubsub is None:
            local.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        return local.pubsub

    def _drop_pubsub(self) -> None:
        pubsub = getattr(self._local, "pubsub", None)
        self._local.pubsub = None
        if pubsub is not None:
            try:
                pubsub.close()
            except redis.RedisError:
                pass

    def _writer(self) -> ResultWriter:
        writer = getattr(self._local, "writer", None)
        if writer is None or writer.pid != os.getpid():
            writer = self._local.writer = ResultWriter(self.client.connection_pool, _STORE_SCRIPT)
        return writer

    def _waiter(self) -> ResultWaiter:
        waiter = getattr(self._local, "waiter", None)
        if waiter is None or waiter.pid != os.getpid():
            waiter = self._local.waiter = ResultWaiter(self.client.connection_pool)
        return waiter

    def _drop_kept(self, name: str) -> None:
        """Close and forget this thread's kept ``writer`` or ``waiter`` (a forked one is left)."""
        kept = getattr(self._local, name, None)
        setattr(self._local, name, None)
        if kept is not None and kept.pid == os.getpid():
            kept.close()

    def wait_for(self, task_id, timeout=None, interval=0.5):
        """Wait for a ready state; subscribed before the first read, so nothing is missed."""
        waiter = self._waiter()
        if not waiter.resp3:
            return self._wait_with_pubsub(task_id, timeout, interval)
        try:
            meta = waiter.wait(
                self.key_for(task_id), self.decode,
                lambda meta: meta.get("status") in states.READY_STATES, timeout, interval)
        except UNREACHABLE as exc:
            self._drop_kept("waiter")
            raise self._unreachable(exc) from exc
        except BaseException:
            # Interrupted mid-reply (ctrl+c, a refused command): start clean next time.
            self._drop_kept("waiter")
            raise
        if meta is None:
            raise TimeoutError("The operation timed out.")
        return meta

    def _wait_with_pubsub(self, task_id, timeout, interval):
        """RESP2's way: a pub/sub connection, and the key read on another one."""
        key = self.key_for(task_id)
        channel = key.encode()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            pubsub = self._pubsub()
            pubsub.subscribe(key)
        except UNREACHABLE as exc:
            self._drop_pubsub()
            raise self._unreachable(exc) from exc
        try:
            while True:
                meta = self.get_task_meta(task_id)
                if meta["status"] in states.READY_STATES:
                    return meta
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("The operation timed out.")
                # The key is read again once per interval (covers a publish lost on
                # a reconnect), not after every (un)subscribe confirmation, which
                # ``get_message`` also answers with None.
                reread_at = time.monotonic() + (
                    interval if remaining is None else min(interval, remaining))
                while True:
                    wait = reread_at - time.monotonic()
                    if wait <= 0:
                        break
                    message = pubsub.get_message(timeout=max(wait, 0.001))
                    if message is None:
                        continue
                    # The connection is shared between waits: skip other keys' news.
                    if message.get("type") == "message" and message.get("channel") == channel:
                        meta = self.decode(message["data"])
                        if meta.get("status") in states.READY_STATES:
                            return meta
        except UNREACHABLE as exc:
            self._drop_pubsub()
            raise self._unreachable(exc) from exc
        finally:
            if self._local.pubsub is not None:
                try:
                    pubsub.unsubscribe(key)
                except redis.RedisError:
                    self._drop_pubsub()

    @property
    def chords(self):
        """Chord bookkeeping in Celery 5.7's key layout."""
        from tuiq.backends.chord import RedisChords

        return RedisChords(self)

    def forget(self, task_id):
        """Delete the stored result."""
        self.client.delete(self.key_for(task_id))

    def close(self):
        """Drop the connection pool."""
        self._drop_pubsub()
        self._drop_kept("waiter")
        self._drop_kept("writer")
        if self._client is not None:
            self._client.close()
            self._client = None
