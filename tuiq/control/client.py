"""The broadcast client: send a command to workers and collect their replies.

The request is the one Celery 5.7 sends (``celery.pidbox`` fanout, a reply
queue bound to ``reply.celery.pidbox``, a ticket, ``clock``/``expires``
headers), so tuiq and Celery workers both answer it.  Unlike Celery's client,
which waits until the replies have been silent for the whole timeout, this one
returns as soon as every expected node has answered:

* with ``destination``, the expected nodes are those named;
* with ``expected`` (e.g. the nodes seen in recent heartbeats), those;
* otherwise a ping goes out just before the command, and the nodes that answer
  it within a short settle window are the expected ones.

``timeout`` still bounds the wait for nodes that stay silent; they are reported
in :attr:`Replies.missing`.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kombu import Consumer, Producer, Queue
from kombu.clocks import LamportClock

from tuiq.control.node import make_mailbox
from tuiq.exceptions import BrokerUnavailable

#: After the last discovery ping reply, wait this long for more nodes before
#: deciding who is alive. Workers on one broker answer within a few ms of each
#: other; a slower network widens it to the first reply's round trip.
DISCOVERY_SETTLE = 0.025


class Replies(dict):
    """Replies by node name (``{node: reply}``), plus the nodes that stayed silent.

    It is the dict Celery's ``Inspect`` returns; ``as_list()`` gives the list of
    one-key dicts Celery's ``control.broadcast`` returns.
    """

    def __init__(self, replies: Iterable[tuple[str, Any]] = (), missing: Sequence[str] = (),
                 elapsed: float = 0.0, command: str = "") -> None:
        super().__init__(replies)
        self.missing: list[str] = sorted(missing)
        self.elapsed = elapsed
        self.command = command

    @property
    def replies(self) -> dict[str, Any]:
        """The replies as a plain dict."""
        return dict(self)

    def as_list(self) -> list[dict[str, Any]]:
        """Celery's shape: ``[{node: reply}, ...]`` in arrival order."""
        return [{node: reply} for node, reply in self.items()]

    def errors(self) -> dict[str, Any]:
        """The nodes whose reply is ``{"error": ...}``, with that error."""
        return {node: reply["error"] for node, reply in self.items()
                if isinstance(reply, dict) and set(reply) == {"error"}}

    def problem(self, timeout: float) -> str | None:
        """What went wrong, as the one line a CLI or shell shows; None when all is well."""
        if self.missing:
            return f"no reply from {', '.join(self.missing)}"
        if not self:
            return f"no node replied within {timeout:g}s"
        failed = self.errors()
        if failed:
            return f"{len(failed)} node(s) replied with an error"
        return None

    def __repr__(self) -> str:
        return f"Replies({dict(self)!r}, missing={self.missing!r})"


class _Collector:
    """What one broadcast waits for, fed by the session's reply consumer."""

    def __init__(self, expected: Iterable[str] | None, limit: int | None,
                 discovering: bool, settle: float, started: float) -> None:
        self.replies: dict[str, Any] = {}
        self.expected: set[str] = set(expected or ())
        self.limit = limit
        self.discovering = discovering
        self.settle = settle
        self.started = started
        self.last_seen: float | None = None
        #: How many nodes the broker delivered the command to, when it says (Redis).
        self.receivers: int | None = None

    def on_reply(self, body: Any) -> None:
        """A reply to the command itself."""
        for node, value in _node_replies(body):
            self.replies.setdefault(node, value)
            if self.discovering:
                self._seen(node)

    def on_ping(self, body: Any) -> None:
        """A reply to the discovery ping: one more node to wait for."""
        for node, _ in _node_replies(body):
            self._seen(node)

    def _seen(self, node: str) -> None:
        now = time.monotonic()
        if self.last_seen is None:
            # The first round trip sets the scale of "a little later".
            self.settle = max(self.settle, now - self.started)
        self.last_seen = now
        self.expected.add(node)

    def wake_at(self, deadline: float) -> float | None:
        """When to stop waiting, or None if every expected reply is in."""
        if self.limit is not None and len(self.replies) >= self.limit:
            return None
        waiting = not self.expected <= set(self.replies)
        if self.discovering:
            if self.receivers and len(self.replies) >= self.receivers:
                return None  # every node that got the command has answered it
            if self.last_seen is None:
                return deadline
            settled = self.last_seen + self.settle
            if not waiting:
                return None if time.monotonic() >= settled else min(settled, deadline)
            return deadline
        return deadline if waiting or not self.expected else None


def _node_replies(body: Any) -> list[tuple[str, Any]]:
    # A reply is a one-key dict {node: value}; anything else is not a reply.
    if not isinstance(body, dict):
        return []
    return [(str(node), value) for node, value in body.items()]


class _Session:
    """One broker connection, producer and reply queue, reused across broadcasts."""

    def __init__(self, connection, mailbox, clock: LamportClock, url: str) -> None:
        self.url = url
        self.pid = os.getpid()
        self.connection = connection
        self.mailbox = mailbox
        self.clock = clock
        self.channel = connection.channel()
        self.oid = str(uuid.uuid4())
        reply_exchange = mailbox.reply_exchange
        # kombu's Mailbox.get_reply_queue, with a fixed oid so one queue serves every call.
        self.reply_queue = Queue(
            f"{self.oid}.{reply_exchange.name}", exchange=reply_exchange, routing_key=self.oid,
            durable=mailbox.queue_durable, exclusive=mailbox.queue_exclusive,
            auto_delete=not mailbox.queue_durable, expires=mailbox.reply_queue_expires,
            message_ttl=mailbox.reply_queue_ttl,
        )
        self.handlers: dict[str, Callable[[Any], None]] = {}
        self.producer = Producer(self.channel, auto_declare=False)
        self.consumer = Consumer(self.channel, [self.reply_queue], accept=["json"], no_ack=True,
                                 callbacks=[self._on_message])
        self.consumer.consume()

    def _on_message(self, body: Any, message) -> None:
        headers = message.headers or {}
        self.clock.adjust(headers.get("clock") or 0)
        expires = headers.get("expires")
        if expires and time.time() > expires:
            return
        # Replies to a call that already returned carry its ticket: dropped here.
        handler = self.handlers.get(headers.get("ticket"))
        if handler is not None:
            handler(body)

    def publish(self, command: str, arguments: dict[str, Any], destination: list[str] | None,
                pattern: str | None, matcher: str | None, ticket: str | None,
                timeout: float) -> int | None:
        """Send one request, exactly as kombu's ``Mailbox._publish`` builds it.

        Returns how many nodes received it, when the broker says (Redis), else None.
        """
        message: dict[str, Any] = {"method": command, "arguments": arguments,
                                   "destination": destination, "pattern": pattern,
                                   "matcher": matcher}
        if ticket:
            message.update(ticket=ticket, reply_to={"exchange": self.mailbox.reply_exchange.name,
                                                    "routing_key": self.oid})
        exchange = self.mailbox.exchange
        self.channel.fanout_receivers = None
        self.producer.publish(
            message, exchange=exchange.name, declare=[exchange],
            headers={"clock": self.clock.forward(),
                     "expires": time.time() + timeout if timeout else 0},
            serializer=self.mailbox.serializer or "json", retry=True,
            retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
        )
        return getattr(self.channel, "fanout_receivers", None)

    def drain(self, collector: _Collector, deadline: float) -> None:
        """Read replies until ``collector`` has all it expects or ``deadline`` passes."""
        while True:
            wake = collector.wake_at(deadline)
            if wake is None:
                return
            remaining = wake - time.monotonic()
            if remaining <= 0:
                if wake >= deadline:
                    return
                continue
            try:
                self.connection.drain_events(timeout=remaining)
            except TimeoutError:
                if wake >= deadline:
                    return

    def close(self) -> None:
        """Delete the reply queue and close the connection without waiting."""
        channel = self.channel
        try:
            self.consumer.cancel()
            self.reply_queue(channel).delete()
        except Exception:  # noqa: BLE001, S110 - best effort: the queue expires on its own
            pass
        # kombu's Redis channel reads its pending BRPOP before closing, which
        # blocks for up to a second; dropping that socket ends it at once.
        if getattr(channel, "_in_poll", None):
            try:
                channel.client.connection.disconnect()
            except Exception:  # noqa: BLE001, S110
                pass
            channel._in_poll = None
        try:
            self.connection.release()
        except Exception:  # noqa: BLE001, S110
            pass


class ControlClient:
    """Broadcast remote-control commands over the app's broker.

    One connection and reply queue are kept open between calls (``close()``
    releases them); calls from several threads take turns.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.mailbox = make_mailbox(app)
        self.clock = LamportClock()
        self._session: _Session | None = None
        self._lock = threading.RLock()

    # -- the connection -----------------------------------------------------------
    def _connect(self) -> _Session:
        url = self.app.broker_url
        if self._session is not None:
            if self._session.pid != os.getpid():
                # A forked child must not touch its parent's sockets or reply queue.
                self._session = None
            elif self._session.url == url:
                return self._session
            else:
                # The app was pointed at another broker since.
                self._drop_session()
        # No AMQP heartbeats: nothing would service them between calls.
        connection = self.app.connection(heartbeat=0)
        try:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                         timeout=self.app.conf.broker_connection_timeout)
            self._session = _Session(connection, self.mailbox, self.clock, url)
        except Exception as exc:
            connection.release()
            raise _unavailable(url, exc) from exc
        return self._session

    def close(self) -> None:
        """Release the connection and delete the reply queue."""
        with self._lock:
            if self._session is not None:
                session, self._session = self._session, None
                session.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- broadcasting -------------------------------------------------------------
    def broadcast(self, command: str, arguments: dict[str, Any] | None = None,
                  destination: Sequence[str] | None = None, reply: bool = False,
                  timeout: float = 1.0, limit: int | None = None,
                  pattern: str | None = None, matcher: str | None = None,
                  expected: Iterable[str] | None = None,
                  settle: float = DISCOVERY_SETTLE) -> Replies | None:
        """Send ``command``; with ``reply``, return the :class:`Replies` collected.

        Returns once every expected node has replied (``destination``, else
        ``expected``, else the nodes answering a discovery ping within
        ``settle`` seconds of each other; on Redis, whose PUBLISH counts the
        nodes it reached, as soon as that many have replied), after ``limit``
        replies, or when ``timeout`` runs out. Without ``reply`` the command is a cast: sent,
        nothing awaited, None returned. Raises ``BrokerUnavailable`` when the
        broker cannot be reached and ``ValueError`` for a string destination.
        """
        if destination is not None and not isinstance(destination, list | tuple):
            raise ValueError("destination must be a list of node names")
        if timeout < 0:
            raise ValueError("timeout must not be negative")
        destination = list(destination) if destination else None
        arguments = dict(arguments or {})
        with self._lock:
            # A kept connection may have died since the last call (broker restart):
            # then one fresh attempt, and only its failure is reported.
            for attempt in range(2):
                reused = self._session is not None
                try:
                    return self._broadcast(command, arguments, destination, reply, timeout,
                                           limit, pattern, matcher, expected, settle)
                except BrokerUnavailable:
                    raise
                except Exception as exc:
                    if not _is_connection_error(exc, self._session):
                        raise
                    url = self.app.broker_url
                    self._drop_session()
                    if attempt or not reused:
                        raise _unavailable(url, exc) from exc
            raise AssertionError("unreachable")

    def _broadcast(self, command: str, arguments: dict[str, Any],
                   destination: list[str] | None, reply: bool, timeout: float,
                   limit: int | None, pattern: str | None, matcher: str | None,
                   expected: Iterable[str] | None, settle: float) -> Replies | None:
        session = self._connect()
        if not reply:
            session.publish(command, arguments, destination, pattern, matcher, None, timeout)
            return None
        started = time.monotonic()
        known = destination if destination is not None else \
            (list(expected) if expected is not None else None)
        collector = _Collector(known, limit, discovering=known is None, settle=settle,
                               started=started)
        ticket = str(uuid.uuid4())
        session.handlers[ticket] = collector.on_reply
        ping_ticket = None
        try:
            collector.receivers = session.publish(command, arguments, destination, pattern,
                                                  matcher, ticket, timeout)
            if known is None and command != "ping" and collector.receivers is None:
                # The broker did not say how many nodes got the command (RabbitMQ):
                # a ping finds the live ones, whose replies are then awaited.
                ping_ticket = str(uuid.uuid4())
                session.handlers[ping_ticket] = collector.on_ping
                session.publish("ping", {}, destination, pattern, matcher, ping_ticket, timeout)
            session.drain(collector, started + timeout)
        finally:
            session.handlers.pop(ticket, None)
            if ping_ticket:
                session.handlers.pop(ping_ticket, None)
        missing = collector.expected - set(collector.replies)
        if limit is not None and len(collector.replies) >= limit:
            missing = set()
        return Replies(collector.replies.items(), missing, time.monotonic() - started, command)

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception:  # noqa: BLE001, S110 - the connection is already broken
                pass

    # -- Celery-style helpers ----------------------------------------------------
    def inspect(self, destination: Sequence[str] | None = None, timeout: float = 1.0,
                limit: int | None = None, pattern: str | None = None,
                matcher: str | None = None, expected: Iterable[str] | None = None) -> Inspect:
        """An :class:`Inspect` bound to these options, like Celery's ``control.inspect()``."""
        return Inspect(self, destination=destination, timeout=timeout, limit=limit,
                       pattern=pattern, matcher=matcher, expected=expected)

    def call(self, command: str, *args: Any, destination: Sequence[str] | None = None,
             timeout: float = 1.0, reply: bool = True, **kwargs: Any) -> Replies | None:
        """Run ``command`` with positional arguments mapped by the registry's argument list."""
        arguments = map_positional(command, args, kwargs)
        return self.broadcast(command, arguments, destination=destination, reply=reply,
                              timeout=timeout)

    def ping(self, destination: Sequence[str] | None = None, timeout: float = 1.0,
             limit: int | None = None) -> list[dict[str, Any]]:
        """Ping workers; returns ``[{node: {"ok": "pong"}}, ...]`` (Celery's shape)."""
        replies = self.broadcast("ping", destination=destination, reply=True, timeout=timeout,
                                 limit=limit)
        return replies.as_list() if replies is not None else []

    def revoke(self, task_id: str | Sequence[str], destination: Sequence[str] | None = None,
               terminate: bool = False, signal: str = "SIGTERM", reply: bool = False,
               timeout: float = 1.0, **kwargs: Any) -> list[dict[str, Any]] | None:
        """Revoke task ids on every worker (or those in ``destination``).

        A cast by default, as in Celery; with ``reply`` the list of replies.
        """
        replies = self.broadcast("revoke", {"task_id": task_id, "terminate": terminate,
                                            "signal": signal, **kwargs},
                                 destination=destination, reply=reply, timeout=timeout)
        return replies.as_list() if replies is not None else None

    def terminate(self, task_id: str | Sequence[str], destination: Sequence[str] | None = None,
                  signal: str = "SIGTERM", **kwargs: Any) -> list[dict[str, Any]] | None:
        """Revoke and kill the processes running ``task_id``."""
        return self.revoke(task_id, destination=destination, terminate=True, signal=signal,
                           **kwargs)

    def shutdown(self, destination: Sequence[str] | None = None) -> None:
        """Ask workers to shut down (warm). A cast: workers never reply to it."""
        self.broadcast("shutdown", destination=destination)


class Inspect:
    """Read-only queries bound to a destination and timeout, as Celery's ``Inspect``.

    Any command is a method: ``inspect.stats()``, ``inspect.active(safe=True)``,
    ``inspect.query_task(id1, id2)``. Positional arguments follow the
    registry's argument list. Each returns :class:`Replies` (``{node: reply}``).
    """

    def __init__(self, client: ControlClient, destination: Sequence[str] | None = None,
                 timeout: float = 1.0, limit: int | None = None, pattern: str | None = None,
                 matcher: str | None = None, expected: Iterable[str] | None = None) -> None:
        self.client = client
        self.destination = list(destination) if destination else None
        self.timeout = timeout
        self.limit = limit
        self.pattern = pattern
        self.matcher = matcher
        self.expected = list(expected) if expected is not None else None

    def _request(self, command: str, **arguments: Any) -> Replies:
        """Broadcast ``command`` with these options and return the replies."""
        replies = self.client.broadcast(
            command, arguments, destination=self.destination, reply=True, timeout=self.timeout,
            limit=self.limit, pattern=self.pattern, matcher=self.matcher, expected=self.expected,
        )
        assert replies is not None
        return replies

    def __getattr__(self, name: str) -> Callable[..., Replies]:
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args: Any, **kwargs: Any) -> Replies:
            return self._request(name, **map_positional(name, args, kwargs))

        method.__name__ = name
        return method


def map_positional(command: str, args: Sequence[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Name positional ``args`` after the command's registered arguments.

    A variadic argument takes the rest as a list. Commands not in the local
    registry (a Celery worker's own) accept keyword arguments only.
    """
    from tuiq.control.registry import lookup

    arguments = dict(kwargs)
    if not args:
        return arguments
    spec = lookup(command)
    if spec is None:
        raise TypeError(f"{command}: unknown command, pass keyword arguments")
    rest = list(args)
    for arg in spec.args:
        if not rest:
            break
        if arg.variadic:
            arguments[arg.name], rest = rest, []
        else:
            arguments[arg.name] = rest.pop(0)
    if rest:
        raise TypeError(f"{command}: too many positional arguments")
    return arguments


def _is_connection_error(exc: BaseException, session: _Session | None) -> bool:
    from kombu.exceptions import OperationalError

    if isinstance(exc, ConnectionError | OSError | OperationalError):
        return True
    if session is None:
        return False
    errors = (*session.connection.connection_errors, *session.connection.channel_errors)
    return isinstance(exc, errors)


def _unavailable(url: str, exc: BaseException) -> BrokerUnavailable:
    from tuiq.broker import mask_url, short_reason

    return BrokerUnavailable(f"cannot reach broker {mask_url(url)}: {short_reason(exc)}")
