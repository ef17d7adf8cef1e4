"""Signatures and workflows: ``signature``, ``chain``, ``group``, ``chord``, map and chunks.

Signatures are dicts with Celery's keys (``task``, ``args``, ``kwargs``,
``options``, ``subtask_type``, ``immutable``) so they travel inside task
messages (``embed.callbacks``, ``embed.chain``) exactly as Celery's do.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any


class Signature(dict):
    """A task call that can be passed around: name, arguments and options."""

    def __init__(self, task: Any, args: Sequence[Any] | None = None,
                 kwargs: Mapping[str, Any] | None = None,
                 options: Mapping[str, Any] | None = None, subtask_type: str | None = None,
                 immutable: bool = False, app=None, **extra_options: Any) -> None:
        if isinstance(task, Mapping):
            data = dict(task)
            super().__init__(
                task=data["task"], args=list(data.get("args") or ()),
                kwargs=dict(data.get("kwargs") or {}), options=dict(data.get("options") or {}),
                subtask_type=data.get("subtask_type"), immutable=bool(data.get("immutable")),
            )
        else:
            name = getattr(task, "name", task)
            opts = dict(options or {})
            opts.update(extra_options)
            immutable = bool(opts.pop("immutable", immutable))
            super().__init__(task=name, args=list(args or ()), kwargs=dict(kwargs or {}),
                             options=opts, subtask_type=subtask_type, immutable=immutable)
        self._app = app

    @property
    def app(self):
        """The app this signature sends through."""
        if self._app is None:
            from tuiq.app import current_app

            return current_app()
        return self._app

    @property
    def name(self) -> str:
        """The task name."""
        return self["task"]

    task = name

    @property
    def args(self) -> list[Any]:
        """Positional arguments."""
        return self["args"]

    @property
    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments."""
        return self["kwargs"]

    @property
    def options(self) -> dict[str, Any]:
        """Sending options (queue, countdown, task_id...)."""
        return self["options"]

    @property
    def immutable(self) -> bool:
        """Whether the parent's result is not prepended to the arguments."""
        return self["immutable"]

    @property
    def id(self) -> str | None:
        """The pre-assigned task id, if any."""
        return self["options"].get("task_id")

    def clone(self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None,
              **options: Any) -> Signature:
        """A copy with ``args`` prepended (unless immutable) and options merged."""
        new_args = list(self.args)
        if args and not self.immutable:
            new_args = list(args) + new_args
        new_kwargs = {**self.kwargs, **(kwargs or {})}
        new_options = {**self.options, **options}
        return Signature(self.name, new_args, new_kwargs, new_options,
                         subtask_type=self["subtask_type"], immutable=self.immutable,
                         app=self._app)

    def set(self, immutable: bool | None = None, **options: Any) -> Signature:
        """Set sending options in place; returns self."""
        if immutable is not None:
            self["immutable"] = immutable
        self.options.update(options)
        return self

    def freeze(self, _id: str | None = None) -> str:
        """Assign (and return) the task id this signature will be sent with."""
        task_id = self.options.get("task_id") or _id or str(uuid.uuid4())
        self.options["task_id"] = task_id
        return task_id

    def link(self, callback: Signature) -> Signature:
        """Apply ``callback`` with this task's result when it succeeds."""
        self.options.setdefault("link", []).append(dict(callback))
        return callback

    def link_error(self, errback: Signature) -> Signature:
        """Apply ``errback`` when this task fails."""
        self.options.setdefault("link_error", []).append(dict(errback))
        return errback

    def apply_async(self, args: Sequence[Any] | None = None,
                    kwargs: Mapping[str, Any] | None = None, **options: Any):
        """Send the task: these arguments are prepended, options merged."""
        sig = self.clone(args, kwargs, **options)
        opts = dict(sig.options)
        task = self.app.tasks.get(sig.name)
        if task is not None:
            # A task known here sends with its own defaults, as Task.apply_async does.
            opts = {**task._default_options(), "ignore_result": task.ignore_result, **opts}
        return self.app.send_task(sig.name, sig.args, sig.kwargs, **opts)

    def delay(self, *args: Any, **kwargs: Any):
        """Send with these extra arguments."""
        return self.apply_async(args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task in this process."""
        task = self.app.tasks[self.name]
        return task(*(list(args) + self.args if not self.immutable else self.args),
                    **{**self.kwargs, **kwargs})

    def __or__(self, other: Any) -> chain:
        if isinstance(other, chain):
            return chain(self, *other.tasks, app=self._app)
        if isinstance(other, Signature):
            return chain(self, other, app=self._app)
        return NotImplemented

    def __repr__(self) -> str:
        args = ", ".join([*map(repr, self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())])
        return f"{self.name}({args})"


def signature(task: Any, args: Sequence[Any] | None = None,
              kwargs: Mapping[str, Any] | None = None, **options: Any) -> Signature:
    """Create a :class:`Signature` by task or task name."""
    if isinstance(task, Signature):
        return task
    return Signature(task, args, kwargs, options)


subtask = signature


def _as_signature(value: Any, app=None) -> Signature:
    if isinstance(value, Signature):
        return value
    return Signature(value, app=app)


def _app_of(app, tasks: Sequence[Signature]):
    """``app``, else the app the first task was bound to, else the current app.

    A workflow built from ``task.s()`` signatures must send through those tasks'
    app, not whichever app happens to be current (Celery's ``_chain.app``).
    """
    if app is None and tasks:
        app = tasks[0]._app
    if app is None:
        from tuiq.app import current_app

        return current_app()
    return app


class chain(Signature):  # noqa: N801 - Celery's name
    """Tasks run one after another, each receiving the previous result."""

    def __init__(self, *tasks: Any, app=None, **options: Any) -> None:
        if len(tasks) == 1 and not isinstance(tasks[0], Mapping) and isinstance(
                tasks[0], Iterable):
            tasks = tuple(tasks[0])
        steps: list[Signature] = []
        for task in tasks:
            task = _as_signature(task, app)
            steps.extend(task.tasks if isinstance(task, chain) else [task])
        super().__init__("celery.chain", (), {"tasks": [dict(t) for t in steps]}, options,
                         subtask_type="chain", app=app)
        self.tasks = steps

    @property
    def app(self):
        """The chain's app, else its first step's (as Celery), else the current app."""
        return _app_of(self._app, self.tasks)

    def apply_async(self, args: Sequence[Any] | None = None,
                    kwargs: Mapping[str, Any] | None = None, **options: Any):
        """Send the first step; the rest travel in its message (``embed.chain``)."""
        if not self.tasks:
            raise ValueError("an empty chain cannot be sent")
        steps = [t.clone() for t in self.tasks]
        root_id = options.pop("root_id", None)
        results = []
        parent = None
        for step in steps:
            step.freeze()
        from tuiq.result import AsyncResult

        for step in steps:
            parent = AsyncResult(step.id, app=self.app, parent=parent)
            results.append(parent)
        first, rest = steps[0], steps[1:]
        root_id = root_id or first.id
        remaining = [dict(step.set(root_id=root_id)) for step in reversed(rest)]
        first.apply_async(args, kwargs, chain=remaining or None, root_id=root_id, **options)
        return results[-1]

    def __call__(self, *args: Any, **kwargs: Any):
        """``chain(...)()`` sends the chain, as in Celery (it does not run it here)."""
        return self.apply_async(args, kwargs)

    def __or__(self, other: Any) -> chain:
        if isinstance(other, Signature):
            return chain(*self.tasks, other, app=self._app)
        return NotImplemented

    def __repr__(self) -> str:
        return " | ".join(repr(t) for t in self.tasks)


class group(Signature):  # noqa: N801 - Celery's name
    """Tasks run in parallel; the result is a :class:`~tuiq.result.GroupResult`."""

    def __init__(self, *tasks: Any, app=None, **options: Any) -> None:
        if len(tasks) == 1 and not isinstance(tasks[0], Mapping) and isinstance(
                tasks[0], Iterable):
            tasks = tuple(tasks[0])
        self.tasks = [_as_signature(t, app) for t in tasks]
        super().__init__("celery.group", (), {"tasks": [dict(t) for t in self.tasks]}, options,
                         subtask_type="group", app=app)

    @property
    def app(self):
        """The group's app, else its first member's (as Celery), else the current app."""
        return _app_of(self._app, self.tasks)

    def apply_async(self, args: Sequence[Any] | None = None,
                    kwargs: Mapping[str, Any] | None = None, **options: Any):
        """Send every member with a shared group id."""
        group_id = options.pop("group_id", None) or str(uuid.uuid4())
        results = []
        for index, task in enumerate(self.tasks):
            results.append(task.apply_async(args, kwargs, group_id=group_id,
                                            group_index=index, **options))
        return self.app.GroupResult(group_id, results)

    def __call__(self, *args: Any, **options: Any):
        """``group(...)()`` sends the group, as in Celery (it does not run it here)."""
        return self.apply_async(args, **options)

    def __repr__(self) -> str:
        return f"group({', '.join(repr(t) for t in self.tasks)})"


class chord(Signature):  # noqa: N801 - Celery's name
    """A group whose results, once all are in, are passed to a callback (the body).

    Needs the Redis result backend: the header tasks count themselves in, and
    the last one sends the body, exactly as Celery 5.7's Redis backend does.
    """

    def __init__(self, header: Any, body: Any = None, app=None, **options: Any) -> None:
        self.header = header if isinstance(header, group) else group(header, app=app)
        self.body = _as_signature(body, app) if body is not None else None
        super().__init__("celery.chord", (), {"header": dict(self.header),
                                              "body": dict(self.body or {})}, options,
                         subtask_type="chord", app=app)
        if app is None and self.header.tasks:
            self._app = self.header.tasks[0]._app

    def __call__(self, body: Any = None, **options: Any):
        """``chord(header)(body)`` sends the chord."""
        if body is not None:
            self.body = _as_signature(body, self._app)
        return self.apply_async(**options)

    def apply_async(self, args: Sequence[Any] | None = None,
                    kwargs: Mapping[str, Any] | None = None, **options: Any):
        """Send the header tasks; the body follows when the last one finishes."""
        if self.body is None:
            raise ValueError("a chord needs a body: chord(header)(body)")
        app = self.app
        chords = getattr(app.backend, "chords", None)
        if chords is None:
            raise NotImplementedError("chords need the Redis result backend")
        body = self.body.clone()
        body_id = body.freeze()
        group_id = options.pop("group_id", None) or str(uuid.uuid4())
        header = self.header.tasks
        body["chord_size"] = len(header)
        if not header:
            return body.apply_async(([],))
        chords.set_chord_size(group_id, len(header))
        body_dict = dict(body)
        for index, task in enumerate(header):
            task.apply_async(args, kwargs, group_id=group_id, group_index=index,
                             chord=body_dict, **options)
        from tuiq.result import AsyncResult

        return AsyncResult(body_id, app=app)


class xmap(Signature):  # noqa: N801 - Celery's name
    """One ``celery.map`` task applying a task to each item in the worker."""

    def __init__(self, task: Signature, it: Iterable[Any], app=None) -> None:
        super().__init__("celery.map", (), {"task": dict(task), "it": list(it)}, app=app,
                         subtask_type="xmap")


class xstarmap(Signature):  # noqa: N801 - Celery's name
    """One ``celery.starmap`` task applying a task to each argument tuple."""

    def __init__(self, task: Signature, it: Iterable[Any], app=None) -> None:
        super().__init__("celery.starmap", (), {"task": dict(task), "it": [list(a) for a in it]},
                         app=app, subtask_type="xstarmap")


class chunks(Signature):  # noqa: N801 - Celery's name
    """Split work into chunks of ``n`` argument tuples, each chunk one task."""

    def __init__(self, task: Signature, it: Iterable[Any], n: int, app=None) -> None:
        self.task_sig = task
        self.items = [list(a) for a in it]
        self.n = n
        super().__init__("celery.chunks", (), {"task": dict(task), "it": self.items, "n": n},
                         app=app, subtask_type="chunks")

    def group(self) -> group:
        """The chunks as a group of starmap tasks."""
        iterator = iter(self.items)
        parts = []
        while True:
            part = list(islice(iterator, self.n))
            if not part:
                break
            parts.append(xstarmap(self.task_sig, part, app=self._app))
        return group(parts, app=self._app)

    def apply_async(self, args=None, kwargs=None, **options: Any):
        """Send the chunks as a group."""
        return self.group().apply_async(args, kwargs, **options)


def signature_from_dict(data: Mapping[str, Any], app=None) -> Signature:
    """Rebuild a signature dict as sent on the wire, groups, chains and chords included."""
    if isinstance(data, Signature) and type(data) is not Signature:
        return data
    kind = data.get("subtask_type")
    kwargs = data.get("kwargs") or {}
    options = dict(data.get("options") or {})
    if kind == "group":
        built: Signature = group([signature_from_dict(t, app) for t in kwargs.get("tasks", [])],
                                 app=app)
    elif kind == "chain":
        built = chain(*[signature_from_dict(t, app) for t in kwargs.get("tasks", [])], app=app)
    elif kind == "chord":
        built = chord(signature_from_dict(kwargs["header"], app),
                      signature_from_dict(kwargs["body"], app), app=app)
    else:
        return Signature(data, app=app)
    built.options.update(options)
    return built


maybe_signature = signature_from_dict


def register_builtin_tasks(app) -> None:
    """Register Celery's built-in helper tasks (``celery.map`` and friends) on ``app``."""

    def _call(task_dict: Mapping[str, Any], args: Sequence[Any]) -> Any:
        sig = Signature(task_dict, app=app)
        return app.tasks[sig.name](*args, **sig.kwargs)

    @app.task(name="celery.map")
    def _map(task, it):
        return [_call(task, [item]) for item in it]

    @app.task(name="celery.starmap")
    def _starmap(task, it):
        return [_call(task, list(item)) for item in it]

    @app.task(name="celery.chunks")
    def _chunks(task, it, n):
        result = chunks(Signature(task, app=app), it, n, app=app).group().apply_async()
        return [r.id for r in result]

    @app.task(name="celery.backend_cleanup")
    def _backend_cleanup():
        return None
