"""``App``: settings, the task registry, and sending tasks to the broker."""

from __future__ import annotations

import fnmatch
import importlib
import os
import re
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kombu import Connection, Exchange, Producer, Queue
from kombu.clocks import LamportClock

from tuiq.config import Settings, settings_from_env, settings_from_object
from tuiq.exceptions import NotRegistered, QueueNotFound
from tuiq.protocol.task import build_task_message
from tuiq.task import Task, current_task

_default_app: App | None = None
_app_lock = threading.Lock()

#: Task options that ``@app.task(...)`` turns into class attributes.
TASK_OPTIONS = frozenset({
    "name", "max_retries", "default_retry_delay", "autoretry_for", "retry_kwargs",
    "retry_backoff", "retry_backoff_max", "retry_jitter", "rate_limit", "time_limit",
    "soft_time_limit", "ignore_result", "store_errors_even_if_ignored", "acks_late",
    "acks_on_failure_or_timeout", "reject_on_worker_lost", "track_started", "throws",
    "serializer", "queue", "priority", "expires", "typing", "shadow",
})


def current_app() -> App:
    """The default app: the last one created, or a fresh one."""
    global _default_app
    with _app_lock:
        if _default_app is None:
            _default_app = App("default")
        return _default_app


def _signature_dicts(value: Any) -> list[dict[str, Any]]:
    if not value:
        return []
    if isinstance(value, Mapping):
        value = [value]
    return [dict(item) for item in value]


def _check_transport(url: str) -> None:
    """Refuse a broker URL whose scheme kombu has no transport for."""
    from kombu.transport import resolve_transport

    from tuiq.broker import mask_url
    from tuiq.exceptions import ConfigurationError

    scheme = url.split("://", 1)[0] if "://" in url else url
    base = scheme.split("+", 1)[0]
    try:
        resolve_transport(base)
    except (KeyError, ImportError) as exc:
        raise ConfigurationError(f"unknown broker transport {base!r} in {mask_url(url)} "
                                 "(use redis://, rediss://, amqp:// or filesystem://)") from exc


class TaskRegistry(dict):
    """Task name to task instance."""

    def __missing__(self, key: str) -> Task:
        raise NotRegistered(key)

    def user_tasks(self) -> list[str]:
        """Names of tasks that are not built in, sorted."""
        return sorted(name for name in self if not name.startswith(("celery.", "tuiq.")))


class App:
    """A tuiq application: where tasks are registered and sent from.

    ``App("proj", broker="redis://...", backend="redis://...", config={...})``.
    With no broker configured, the embedded Valkey server is used for both
    broker and results.
    """

    def __init__(self, main: str | None = None, broker: str | None = None,
                 backend: str | None = None, config: Mapping[str, Any] | object | None = None,
                 include: Sequence[str] | None = None, set_as_current: bool = True,
                 **settings: Any) -> None:
        global _default_app
        self.main = main
        layers: list[Mapping[str, Any]] = []
        if config is not None:
            layers.append(settings_from_object(config) if not isinstance(config, Mapping)
                          else dict(config))
        layers.append(settings)
        if broker:
            layers.append({"broker_url": broker})
        if backend:
            layers.append({"result_backend": backend})
        if include:
            layers.append({"include": list(include)})
        self.conf = Settings(*layers)
        self.conf.update(settings_from_env())
        self.tasks = TaskRegistry()
        self._broker_override: str | None = None
        self._backend_override: str | None = None
        self._broker_url: str | None = None
        self._backend = None
        self._backend_lock = threading.Lock()
        self._control = None
        self._local = threading.local()
        after_fork = weakref.WeakMethod(self._after_fork)
        os.register_at_fork(after_in_child=lambda: (method := after_fork()) and method())
        self._oid = str(uuid.uuid4())
        self._imported = False
        #: The Lamport clock that orders this process's control replies and events.
        self.clock = LamportClock()
        from tuiq.canvas import register_builtin_tasks

        register_builtin_tasks(self)
        if set_as_current:
            with _app_lock:
                _default_app = self

    # settings -----------------------------------------------------------------
    def config_from_object(self, obj: object | str) -> None:
        """Load settings from an object or a module path (``"proj.config"``)."""
        self.conf.update(settings_from_object(obj))
        self.conf.update(settings_from_env())
        self._broker_url = None
        self._backend = None

    def config_from_envvar(self, variable: str) -> None:
        """Load settings from the module named by an environment variable."""
        self.config_from_object(os.environ[variable])

    def override_broker(self, url: str | None) -> None:
        """Use ``url`` as the broker, above every other setting (``--broker``)."""
        if url:
            self._broker_override = url
            self._broker_url = None
            self._drop_thread_connection()

    def override_backend(self, url: str | None) -> None:
        """Use ``url`` as the result backend (``--result-backend``)."""
        if url:
            self._backend_override = url
            self._backend = None

    @property
    def broker_url(self) -> str:
        """The broker URL after precedence: flag, ``TUIQ_BROKER_URL``, config, embedded."""
        if self._broker_url is None:
            from tuiq.broker import resolve_broker_url

            url = resolve_broker_url(self._broker_override, self.conf.broker_url)
            _check_transport(url)
            self._broker_url = url
        return self._broker_url

    @property
    def backend_url(self) -> str:
        """The result backend URL after precedence."""
        from tuiq.broker import resolve_backend_url

        return resolve_backend_url(self._backend_override, self.conf.result_backend,
                                   self.broker_url)

    @property
    def backend(self):
        """The result backend."""
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    from tuiq.backends import backend_from_url

                    self._backend = backend_from_url(self.backend_url, self)
        return self._backend

    # tasks --------------------------------------------------------------------
    def task(self, *args: Any, **options: Any) -> Any:
        """Register a function as a task: ``@app.task`` or ``@app.task(bind=True, ...)``."""
        if args and callable(args[0]) and not options:
            return self._create_task(args[0])

        def decorator(fun: Callable[..., Any]) -> Task:
            return self._create_task(fun, **options)

        return decorator

    def _create_task(self, fun: Callable[..., Any], bind: bool = False,
                     base: type[Task] | None = None, **options: Any) -> Task:
        unknown = set(options) - TASK_OPTIONS
        if unknown:
            raise TypeError(f"unknown task option(s): {', '.join(sorted(unknown))}")
        name = options.pop("name", None) or self.gen_task_name(fun.__name__, fun.__module__)
        options.setdefault("max_retries", self.conf.task_max_retries)
        options.setdefault("default_retry_delay", self.conf.task_default_retry_delay)
        if options.get("rate_limit") is not None:
            from tuiq.worker.ratelimit import parse_rate

            parse_rate(options["rate_limit"])  # a bad string fails here, not in the worker
        if "autoretry_for" in options:
            options["autoretry_for"] = tuple(options["autoretry_for"])
        if "throws" in options:
            options["throws"] = tuple(options["throws"])
        attrs = {
            "name": name,
            "app": self,
            "run": fun if bind else staticmethod(fun),
            "__doc__": fun.__doc__,
            "__module__": fun.__module__,
            "__qualname__": fun.__qualname__,
            "__wrapped__": fun,
            **options,
        }
        task_class = type(fun.__name__, (base or Task,), attrs)
        task = task_class()
        self.tasks[name] = task
        return task

    def register_task(self, task: Task | type[Task]) -> Task:
        """Register a class-based task."""
        if isinstance(task, type):
            task = task()
        if not task.name:
            task.name = self.gen_task_name(type(task).__name__, type(task).__module__)
        task.app = self
        self.tasks[task.name] = task
        return task

    def gen_task_name(self, name: str, module: str) -> str:
        """``module.name``, with ``__main__`` replaced by the app's main name."""
        if module == "__main__" and self.main:
            module = self.main
        return f"{module}.{name}"

    def import_modules(self) -> None:
        """Import the modules named in ``imports`` and ``include`` (registering tasks)."""
        if self._imported:
            return
        self._imported = True
        from tuiq.exceptions import ConfigurationError, describe_import_error

        for module in [*self.conf.imports, *self.conf.include]:
            try:
                importlib.import_module(module)
            except Exception as exc:  # noqa: BLE001 - reported as one line by the CLI
                raise ConfigurationError(f"cannot import {module!r} (from imports/include): "
                                         f"{describe_import_error(exc)}") from exc

    def unknown_task(self, name: str) -> str | None:
        """Why ``name`` cannot be sent as one of this app's tasks; None when it is one.

        The ``imports``/``include`` modules are imported first. The message offers
        the registered names closest to ``name``, for a typing slip.
        """
        import difflib

        self.import_modules()
        if name in self.tasks:
            return None
        known = sorted(task for task in self.tasks if not task.startswith("celery."))
        # Names share long prefixes (the module path): only near-identical ones are offered.
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.85)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"unknown task {name!r}: the app does not register it{hint}"

    @property
    def oid(self) -> str:
        """This app's reply address, sent as ``reply_to`` on every task (as Celery does)."""
        return self._oid

    # routing ------------------------------------------------------------------
    def queue_for(self, name: str) -> Queue:
        """The :class:`kombu.Queue` named ``name`` (declared ones, or created if allowed)."""
        queues = self.queues()
        if name in queues:
            return queues[name]
        if not self.conf.task_create_missing_queues:
            raise QueueNotFound(name)
        queue = Queue(name, Exchange(name, "direct"), routing_key=name,
                      max_priority=self.conf.task_queue_max_priority)
        queues[name] = queue
        return queue

    def queues(self) -> dict[str, Queue]:
        """The configured queues by name (the default queue when none are set)."""
        cached = getattr(self, "_queues", None)
        if cached is not None:
            return cached
        conf = self.conf
        default = conf.task_default_queue
        found: dict[str, Queue] = {}
        configured = conf.task_queues
        if configured:
            items = configured.values() if isinstance(configured, Mapping) else configured
            for queue in items:
                if isinstance(queue, Mapping):
                    queue = Queue.from_dict(queue.get("name"), **queue)
                found[queue.name] = queue
        else:
            exchange = Exchange(conf.task_default_exchange or default,
                                conf.task_default_exchange_type)
            found[default] = Queue(default, exchange,
                                   routing_key=conf.task_default_routing_key or default,
                                   max_priority=conf.task_queue_max_priority)
        self._queues = found
        return found

    def route_for(self, task_name: str, args: Sequence[Any] = (),
                  kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Routing options from ``task_routes`` (dicts with globs/regexes, lists, callables)."""
        routes = self.conf.task_routes
        if not routes:
            return {}
        if isinstance(routes, Mapping) or callable(routes):
            routes = [routes]
        for route in routes:
            if callable(route):
                found = route(task_name, args, kwargs or {}, {})
                if found:
                    return {"queue": found} if isinstance(found, str) else dict(found)
                continue
            for pattern, options in route.items():
                matched = (
                    pattern.match(task_name) if isinstance(pattern, re.Pattern)
                    else fnmatch.fnmatchcase(task_name, pattern)
                )
                if matched:
                    return {"queue": options} if isinstance(options, str) else dict(options)
        return {}

    # sending ------------------------------------------------------------------
    def connection(self, url: str | None = None, **options: Any) -> Connection:
        """A new (lazy) kombu connection to the broker."""
        conf = self.conf
        options.setdefault("transport_options", dict(conf.broker_transport_options or {}))
        options.setdefault("connect_timeout", conf.broker_connection_timeout)
        options.setdefault("heartbeat", conf.broker_heartbeat)
        url = url or self.broker_url
        connection = Connection(url, **options)
        if "transport" not in options:
            from tuiq.transport import transport_for

            transport = transport_for(url)
            if transport is not None:
                connection.transport_cls = transport
        return connection

    connection_for_write = connection

    def _producer_connection(self) -> Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self.connection()
            self._local.connection = connection
        return connection

    def send_task(self, name: str, args: Sequence[Any] | None = None,
                  kwargs: Mapping[str, Any] | None = None, *,
                  countdown: float | None = None, eta: Any = None, expires: Any = None,
                  task_id: str | None = None, queue: str | Queue | None = None,
                  routing_key: str | None = None, exchange: str | Exchange | None = None,
                  priority: int | None = None, serializer: str | None = None,
                  compression: str | None = None, headers: Mapping[str, Any] | None = None,
                  link: Any = None, link_error: Any = None, retry: bool | None = None,
                  retry_policy: Mapping[str, Any] | None = None,
                  ignore_result: bool | None = None, shadow: str | None = None,
                  time_limit: float | None = None, soft_time_limit: float | None = None,
                  timelimit: Sequence[float | None] | None = None,
                  parent_id: str | None = None, root_id: str | None = None,
                  group_id: str | None = None, group_index: int | None = None,
                  chain: list | None = None, chord: Any = None, retries: int = 0,
                  reply_to: str | None = None, producer: Any = None,
                  add_to_parent: bool = True, **extra: Any):
        """Send task ``name`` by name (it need not be registered here).

        Returns an :class:`~tuiq.result.AsyncResult`. Raises
        :class:`~tuiq.exceptions.BrokerUnavailable` when the broker cannot be reached.
        Sent from inside a running task, the new task is recorded in that task's
        ``children`` (stored with its result, as Celery does) unless ``add_to_parent``
        is false.
        """
        from tuiq.result import AsyncResult

        conf = self.conf
        task_id = task_id or str(uuid.uuid4())
        args = list(args or ())
        kwargs = dict(kwargs or {})
        parent = current_task()
        parent_request = None
        if parent is not None and not parent.request.called_directly:
            parent_request = parent.request
        if parent_request is not None and parent_id is None:
            parent_id = parent_request.id
            root_id = root_id or parent_request.root_id
        route = self.route_for(name, args, kwargs) if queue is None and routing_key is None \
            else {}
        queue = queue or route.get("queue")
        routing_key = routing_key or route.get("routing_key")
        exchange = exchange if exchange is not None else route.get("exchange")
        if priority is None:
            priority = route.get("priority", conf.task_default_priority)
        registered = self.tasks.get(name)
        if registered is not None:
            time_limit = time_limit if time_limit is not None else registered.time_limit
            soft_time_limit = (soft_time_limit if soft_time_limit is not None
                               else registered.soft_time_limit)
        if timelimit is None:
            timelimit = (time_limit, soft_time_limit)
        queue_obj = self._resolve_queue(queue)
        if exchange is None and routing_key is None:
            # Celery publishes to the default exchange with the queue as
            # routing key (PROTOCOL.md §1.1); do the same so both see one wire.
            exchange_name, routing_key = "", queue_obj.name
        else:
            exchange_name = exchange.name if isinstance(exchange, Exchange) else (
                exchange if exchange is not None else queue_obj.exchange.name)
            routing_key = routing_key or queue_obj.routing_key
        msg_headers, properties, body = build_task_message(
            name, task_id, args, kwargs,
            eta=eta, countdown=countdown, expires=expires, retries=retries,
            timelimit=(timelimit[0], timelimit[1]), root_id=root_id, parent_id=parent_id,
            group_id=group_id, group_index=group_index, shadow=shadow,
            callbacks=_signature_dicts(link), errbacks=_signature_dicts(link_error),
            chain=chain, chord=dict(chord) if chord else None,
            ignore_result=ignore_result, reply_to=reply_to or self.oid, extra_headers=headers,
            stamped_headers=extra.pop("stamped_headers", None),
            stamps=extra.pop("stamps", None),
        )
        # kombu takes ``expiration`` in seconds and writes the millisecond string
        # itself; handing it the wire string would multiply a str (a 120000-digit crash).
        expiration_ms = properties.pop("expiration", None)
        if expiration_ms is not None:
            properties["expiration"] = int(expiration_ms) / 1000
        publish_retry = conf.task_publish_retry if retry is None else retry
        policy = dict(retry_policy or conf.task_publish_retry_policy)
        publish_kwargs = {
            "exchange": exchange_name,
            "routing_key": routing_key,
            "serializer": serializer or conf.task_serializer,
            "compression": compression or conf.task_compression,
            "headers": msg_headers,
            "declare": [queue_obj],
            "delivery_mode": conf.task_default_delivery_mode,
            "retry": publish_retry,
            "retry_policy": policy,
            **properties,
        }
        if priority is not None:
            publish_kwargs["priority"] = priority
        sent_event = None
        if conf.task_send_sent_event:
            sent_event = {
                "uuid": task_id, "root_id": msg_headers.get("root_id"),
                "parent_id": msg_headers.get("parent_id"), "name": name,
                "args": msg_headers.get("argsrepr"), "kwargs": msg_headers.get("kwargsrepr"),
                "retries": retries, "eta": msg_headers.get("eta"),
                "expires": msg_headers.get("expires"), "queue": queue_obj.name,
                "exchange": exchange_name, "routing_key": routing_key,
            }
        self._publish(body, publish_kwargs, producer, sent_event)
        result = AsyncResult(task_id, app=self)
        if add_to_parent and parent_request is not None:
            parent_request.children.append(result.as_tuple())
        return result

    def _resolve_queue(self, queue: str | Queue | None) -> Queue:
        if isinstance(queue, Queue):
            return queue
        return self.queue_for(queue or self.conf.task_default_queue)

    def _publish(self, body: Any, publish_kwargs: dict[str, Any], producer: Any,
                 sent_event: dict[str, Any] | None = None) -> None:
        from kombu.exceptions import OperationalError

        from tuiq.broker import mask_url, short_reason
        from tuiq.exceptions import BrokerUnavailable

        try:
            if producer is not None:
                producer.publish(body, **publish_kwargs)
                if sent_event is not None:
                    self._send_sent_event(producer, sent_event, publish_kwargs)
                return
            producer = self._thread_producer()
            # kombu re-checks (and copies) every entity to declare on each publish;
            # a queue this connection already declared is skipped altogether.
            declared = self._local.__dict__.setdefault("declared", set())
            queue = publish_kwargs["declare"][0] if publish_kwargs.get("declare") else None
            if queue is not None and queue.name in declared:
                publish_kwargs["declare"] = []
            self._publish_once_then_retry(producer, body, publish_kwargs)
            if sent_event is not None:
                self._send_sent_event(producer, sent_event, publish_kwargs)
            if queue is not None:
                declared.add(queue.name)
        except (OperationalError, ConnectionError, OSError) as exc:
            if producer is None or producer is getattr(self._local, "producer", None):
                # The next send starts on a fresh connection, not on this broken one.
                self._drop_thread_connection()
            raise BrokerUnavailable(
                f"cannot reach broker {mask_url(self.broker_url)}: {short_reason(exc)}"
            ) from exc

    def _thread_producer(self) -> Producer:
        """This thread's producer, on this thread's connection (made on first use)."""
        producer = getattr(self._local, "producer", None)
        if producer is None:
            producer = Producer(self._producer_connection(), auto_declare=False)
            self._local.producer = producer
        return producer

    @staticmethod
    def _publish_once_then_retry(producer: Producer, body: Any,
                                 publish_kwargs: dict[str, Any]) -> None:
        """Publish; only after a connection error go through kombu's retrying path.

        ``Connection.ensure`` builds a wrapper on every call, a good part of a
        publish's cost, for a case (a lost connection) that is rare.
        """
        if not publish_kwargs["retry"]:
            producer.publish(body, **publish_kwargs)
            return
        connection = producer.connection
        first_try = dict(publish_kwargs, retry=False)
        try:
            producer.publish(body, **first_try)
        except (connection.recoverable_connection_errors
                + connection.recoverable_channel_errors):
            producer.publish(body, **publish_kwargs)

    def _send_sent_event(self, producer: Any, fields: dict[str, Any],
                         publish_kwargs: dict[str, Any]) -> None:
        """``task-sent`` after the task itself, on the same producer (as Celery's client)."""
        from tuiq.events.dispatcher import publish_task_sent

        publish_task_sent(producer, self, fields, retry=publish_kwargs["retry"],
                          retry_policy=publish_kwargs["retry_policy"])

    def signature(self, name: str, args: Sequence[Any] | None = None,
                  kwargs: Mapping[str, Any] | None = None, **options: Any):
        """A :class:`~tuiq.canvas.Signature` of task ``name``, bound to this app."""
        from tuiq.canvas import Signature

        return Signature(name, args, kwargs, options, app=self)

    # results and control ----------------------------------------------------------
    def AsyncResult(self, task_id: str):  # noqa: N802 - Celery's name
        """A result handle for ``task_id``."""
        from tuiq.result import AsyncResult

        return AsyncResult(task_id, app=self)

    def GroupResult(self, group_id: str | None, results: list):  # noqa: N802
        """A group result handle."""
        from tuiq.result import GroupResult

        return GroupResult(group_id, results, app=self)

    @property
    def control(self):
        """The remote-control client (broadcast commands to workers)."""
        if self._control is None:
            from tuiq.control.client import ControlClient

            self._control = ControlClient(self)
        return self._control

    @property
    def current_task(self) -> Task | None:
        """The task executing in this thread, if any."""
        return current_task()

    def _drop_thread_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close
                pass
            self._local.connection = None
        self._local.__dict__.pop("producer", None)
        self._local.__dict__.pop("declared", None)

    def _after_fork(self) -> None:
        # A child must not share its parent's sockets: start with none.
        self._local = threading.local()

    def close(self) -> None:
        """Release the broker connections (this thread's, remote control's) and the backend's."""
        self._drop_thread_connection()
        if self._control is not None:
            self._control.close()
        if self._backend is not None:
            self._backend.close()

    def __repr__(self) -> str:
        return f"<tuiq.App {self.main or '__main__'}>"


Celery = App
