"""Waiting for one result on a RESP3 connection: SUBSCRIBE and GET in a single write.

With RESP3 (redis-py's default, Redis 6+, Valkey) a subscribed connection can
still run commands, and one connection's commands run in order. So
``SUBSCRIBE key`` followed by ``GET key`` in the same write leaves no gap in
which a result could be published unseen, costs one round trip instead of
two connections' worth, and needs no separate client for the read.

The connection is kept for the thread's next waits. Replies that arrive after
a wait has ended (a GET answered after the PUBLISH that ended it, an
UNSUBSCRIBE confirmation, a later state of a task no longer awaited) are told
apart and skipped by the next wait.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from redis.exceptions import ConnectionError, ResponseError

from tuiq.transport.resp import pack_commands

#: Push messages that carry a published value.
_MESSAGE = (b"message", "message")


class ResultWaiter:
    """One process's, one thread's subscriber connection, used for one wait at a time."""

    def __init__(self, pool: Any) -> None:
        self.pid = os.getpid()
        self.connection = pool.make_connection()
        #: RESP3 is redis-py's default from version 8 (and a URL can ask for it).
        self.resp3 = str(getattr(self.connection, "protocol", 2)) == "3"
        #: Keys of the GETs whose replies have not been read yet (replies come in order).
        self._unread_gets: deque[bytes] = deque()

    def close(self) -> None:
        """Drop the connection."""
        self.connection.disconnect()

    def wait(self, key: str, decode: Callable[[bytes], dict[str, Any]],
             is_ready: Callable[[dict[str, Any]], bool], timeout: float | None,
             interval: float) -> dict[str, Any] | None:
        """The first ready meta stored at ``key``; None if ``timeout`` passes first.

        The key is read again every ``interval`` seconds, for a value stored by a
        writer that did not PUBLISH it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            return self._wait(key, decode, is_ready, deadline, interval)
        except ConnectionError:
            # The kept connection may have died while idle (a server restart):
            # start again once on a new one. Subscribing again and reading the key
            # again means nothing published in between is missed.
            self._unread_gets.clear()
            self.connection.disconnect()
            return self._wait(key, decode, is_ready, deadline, interval)

    def _wait(self, key: str, decode: Callable[[bytes], dict[str, Any]],
              is_ready: Callable[[dict[str, Any]], bool], deadline: float | None,
              interval: float) -> dict[str, Any] | None:
        connection = self.connection
        channel = key.encode()
        self._send(("SUBSCRIBE", key), ("GET", key))
        try:
            reread_at = time.monotonic() + interval
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    return None
                if now >= reread_at:
                    self._send(("GET", key))
                    reread_at = now + interval
                wake = reread_at if deadline is None else min(reread_at, deadline)
                if not connection.can_read(timeout=max(wake - now, 0.0)):
                    continue
                value = self._read()
                if value is None or value[0] != channel:
                    continue
                meta = decode(value[1])
                if is_ready(meta):
                    return meta
        finally:
            # Its confirmation is read, and skipped, by a later wait.
            try:
                self._send(("UNSUBSCRIBE", key))
            except ConnectionError:
                pass  # the next wait starts on a new connection anyway

    def _send(self, *commands: tuple[Any, ...]) -> None:
        self._unread_gets.extend(command[1].encode() for command in commands
                                 if command[0] == "GET")
        # No health check: its PING reply could be taken for a pending GET's.
        self.connection.send_packed_command([pack_commands(commands)], check_health=False)

    def _read(self) -> tuple[bytes, bytes] | None:
        """The next reply as ``(channel or GET key, value)``; None for one to skip."""
        try:
            reply = self.connection.read_response(push_request=True)
        except ResponseError:
            self._unread_gets.popleft()  # a GET refused (say, a key of another type)
            raise
        if isinstance(reply, list):  # a push: (un)subscribe confirmation or message
            if len(reply) == 3 and reply[0] in _MESSAGE:
                return reply[1], reply[2]
            return None
        key = self._unread_gets.popleft()
        return None if reply is None else (key, reply)
