"""``ClusterState``: the console's model of the cluster, fed by decoded event dicts.

Plain Python (no broker, no UI): the receiver thread calls :meth:`ClusterState.event`,
screens read ``workers``, ``tasks``, the counters and :meth:`ClusterState.take_changes`.

* Workers and tasks live in ``OrderedDict`` LRUs: an event moves its key to the end, a
  new key past the cap evicts the oldest, both O(1) (Celery's ``LRUCache`` evicts with
  ``next(iter(dict))``, which gets slower as deleted slots pile up at the front).
* Task states follow Celery's monitor (PROTOCOL.md §4.4): an event that logically
  happened before the current state (by precedence) does not change the state; a late
  ``task-received`` still sets name/args/kwargs/ids/retries/eta/expires, other late
  events only fill fields still empty. RETRY is never "late", so a retried task that is
  received again goes back to RECEIVED. ``task-xyz`` gives state ``XYZ``.
* Liveness is Celery's rule (see :meth:`WorkerInfo.alive`): ``worker-*`` events are
  heartbeats, and a node's task events also count as a sign of life (as in Celery); only
  ``worker-online``/``worker-heartbeat`` bring back a node that sent ``worker-offline``.
* Event times: the local time of an event is its ``local_received`` (added by the
  receiver), else its ``timestamp``, else ``clock()``. Task timestamps and timelines use
  the sender's ``timestamp``; liveness and rates use the local time.
* Malformed input is counted in ``malformed`` and otherwise ignored; nothing raises.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any

from tuiq.events.coerce import (
    as_bool,
    as_float,
    as_float_list,
    as_int,
    as_signum,
    as_text,
    as_time,
)
from tuiq.events.models import (
    COUNTED_KINDS,
    TIMELINE_MAX,
    Changes,
    TaskInfo,
    TaskTypeStats,
    WorkerInfo,
)
from tuiq.events.polls import apply_reply, is_poll_command
from tuiq.events.rates import RateRing
from tuiq.states import (
    FAILURE,
    PENDING,
    RECEIVED,
    REJECTED,
    RETRY,
    REVOKED,
    STARTED,
    SUCCESS,
    precedence,
)

__all__ = ["ClusterState", "WorkerInfo", "TaskInfo", "TaskTypeStats", "Changes"]

Handler = Callable[[dict], None]
#: A task field spec: (event key = TaskInfo attribute, expected class, coercion).
FieldSpec = tuple[tuple[str, type, Callable[[Any], Any]], ...]

_MISSING = object()
_MAX_EPOCH = 1e11
#: Distinct unknown event types given a handler of their own; past this they are
#: handled (and counted) without caching, so garbage types cannot grow the table.
_MAX_CACHED_TYPES = 256
#: Evicted keys remembered between two ``take_changes()`` calls at least (see __init__).
_EVICTED_FLOOR = 1024

#: Known task-event kinds → state (PROTOCOL.md §4.4).
TASK_EVENT_STATES = {
    "sent": PENDING, "received": RECEIVED, "started": STARTED, "succeeded": SUCCESS,
    "failed": FAILURE, "retried": RETRY, "revoked": REVOKED, "rejected": REJECTED,
}

_RECEIVED_FIELDS: FieldSpec = (
    ("name", str, as_text), ("args", str, as_text), ("kwargs", str, as_text),
    ("root_id", str, as_text), ("parent_id", str, as_text), ("retries", int, as_int),
    ("eta", str, as_text), ("expires", str, as_text),
)
_ERROR_FIELDS: FieldSpec = (("exception", str, as_text), ("traceback", str, as_text))
TASK_FIELDS: dict[str, FieldSpec] = {
    "sent": _RECEIVED_FIELDS + (
        ("queue", str, as_text), ("exchange", str, as_text), ("routing_key", str, as_text)),
    "received": _RECEIVED_FIELDS,
    "started": (),
    "succeeded": (("result", str, as_text), ("runtime", float, as_float)),
    "failed": _ERROR_FIELDS,
    "retried": _ERROR_FIELDS,
    "revoked": (("terminated", bool, as_bool), ("signum", int, as_signum),
                ("expired", bool, as_bool)),
    "rejected": (("requeue", bool, as_bool),),
}
#: Precedence rank by state (lower is more final); a custom state ranks ``_CUSTOM_RANK``.
_RANKS = {state: precedence(state) for state in TASK_EVENT_STATES.values()}
_CUSTOM_RANK = precedence("")

#: A custom ``task-xyz`` event may carry any of the known fields.
_CUSTOM_FIELDS: FieldSpec = tuple({spec[0]: spec for specs in TASK_FIELDS.values()
                                   for spec in specs}.values())

#: Worker event key → (WorkerInfo attribute, coercion); None values are not stored.
WORKER_FIELDS: tuple[tuple[str, Callable[[Any], Any]], ...] = (
    ("pid", as_int), ("active", as_int), ("processed", as_int), ("loadavg", as_float_list),
    ("sw_ident", as_text), ("sw_ver", as_text), ("sw_sys", as_text), ("clock", as_int),
    ("utcoffset", as_float),
)


def _bump_received(worker: WorkerInfo) -> None:
    worker.received += 1


def _bump_started(worker: WorkerInfo) -> None:
    worker.started += 1


def _bump_succeeded(worker: WorkerInfo) -> None:
    worker.succeeded += 1


def _bump_failed(worker: WorkerInfo) -> None:
    worker.failed += 1


def _bump_retried(worker: WorkerInfo) -> None:
    worker.retried += 1


def _bump_revoked(worker: WorkerInfo) -> None:
    worker.revoked += 1


def _bump_rejected(worker: WorkerInfo) -> None:
    worker.rejected += 1


#: Per-node counter for each worker-side task event kind.
_WORKER_COUNTERS: dict[str, Callable[[WorkerInfo], None]] = {
    "received": _bump_received, "started": _bump_started, "succeeded": _bump_succeeded,
    "failed": _bump_failed, "retried": _bump_retried, "revoked": _bump_revoked,
    "rejected": _bump_rejected,
}


class ClusterState:
    """Workers, tasks and counters of one cluster, built from its events.

    ``max_workers``/``max_tasks`` cap the two LRUs (Celery's defaults). ``clock`` is the
    local time source (injectable for tests); ``rate_window`` is the span, in whole
    seconds, that :meth:`throughput` averages over; ``history`` is how many seconds of
    per-second counts are kept for :meth:`rate_history`.

    Not thread-safe by itself: one thread feeds it, and readers on another thread see
    plain attribute values (the console reads between batches).
    """

    def __init__(self, max_workers: int = 5000, max_tasks: int = 10000, *,
                 clock: Callable[[], float] = time.time, rate_window: float = 10.0,
                 history: int = 300, max_task_types: int = 1000) -> None:
        if max_workers < 1 or max_tasks < 1 or max_task_types < 1:
            raise ValueError("the caps must be at least 1")
        self.max_workers = max_workers
        self.max_tasks = max_tasks
        self.max_task_types = max_task_types
        self.clock = clock
        self.rate_window = max(1, round(rate_window))
        #: Nodes, least recently touched first.
        self.workers: OrderedDict[str, WorkerInfo] = OrderedDict()
        #: Tasks, least recently touched first.
        self.tasks: OrderedDict[str, TaskInfo] = OrderedDict()
        #: Task events seen per kind, cluster-wide (cumulative; custom kinds appear when seen).
        self.totals: dict[str, int] = dict.fromkeys(COUNTED_KINDS, 0)
        #: Stats per task name (only events whose task name is known count).
        self.task_types: dict[str, TaskTypeStats] = {}
        self.events_seen = 0
        #: Events that could not be read (not a dict, no type, no uuid/hostname...).
        self.malformed = 0
        #: Well-formed events of a group this model does not track (neither task nor worker).
        self.ignored = 0
        self.finished_rates = RateRing(max(history, self.rate_window) + 1)
        self._touched_workers: set[str] = set()
        self._touched_tasks: set[str] = set()
        self._evicted_workers: set[str] = set()
        self._evicted_tasks: set[str] = set()
        self._full_refresh = False
        # Past these, evicted keys are dropped for a full refresh (bounded memory when
        # nobody takes changes); the floor keeps small caps from forcing refreshes.
        self._max_evicted_tasks = max(max_tasks, _EVICTED_FLOOR)
        self._max_evicted_workers = max(max_workers, _EVICTED_FLOOR)
        self._handlers: dict[str, Handler] = {}
        for kind, state in TASK_EVENT_STATES.items():
            self._handlers[f"task-{kind}"] = self._task_handler(kind, state, TASK_FIELDS[kind])
        for kind in ("online", "heartbeat", "offline"):
            self._handlers[f"worker-{kind}"] = self._worker_handler(kind == "offline")

    # feeding ------------------------------------------------------------------------
    def event(self, event: dict) -> None:
        """Apply one decoded event dict; never raises (unreadable input counts as malformed)."""
        self.events_seen += 1
        try:
            try:
                handler = self._handlers[event["type"]]
            except KeyError:
                handler = self._handler_for(event)
            handler(event)
        except Exception:  # noqa: BLE001 - a monitor must survive any input
            self.malformed += 1

    def ingest(self, events: Iterable[dict]) -> None:
        """Apply many events in order."""
        apply = self.event
        for event in events:
            apply(event)

    def update_inspect(self, hostname: str, command: str, reply: Any,
                       now: float | None = None) -> None:
        """Store a node's reply to an inspect poll (``active``, ``stats``, ...).

        A node not seen before is created: it then exists only through polls and stays
        "offline" by the liveness rule until it sends a heartbeat. ``ping`` replies only
        set ``inspected_at``. Raises ValueError for a command it does not keep.
        """
        if not isinstance(hostname, str) or not hostname:
            raise ValueError(f"not a node name: {hostname!r}")
        if not is_poll_command(command):
            raise ValueError(f"no poll field for inspect command {command!r}")
        worker = self._touch_worker(hostname)
        apply_reply(worker, command, reply, self.clock() if now is None else now)

    # reading --------------------------------------------------------------------------
    def take_changes(self) -> Changes:
        """Keys touched or dropped since the previous call (then starts afresh)."""
        changes = Changes(self._touched_workers.copy(), self._touched_tasks.copy(),
                          self._evicted_tasks.copy(), self._evicted_workers.copy(),
                          self._full_refresh)
        self._touched_workers.clear()
        self._touched_tasks.clear()
        self._evicted_tasks.clear()
        self._evicted_workers.clear()
        self._full_refresh = False
        return changes

    def alive_workers(self, now: float | None = None) -> list[WorkerInfo]:
        """Workers alive at ``now`` (default ``clock()``) by Celery's rule."""
        now = self.clock() if now is None else now
        return [worker for worker in self.workers.values() if worker.alive(now)]

    def throughput(self, now: float | None = None) -> float:
        """Finished (succeeded + failed) tasks per second over the last ``rate_window``
        whole seconds before ``now`` (the current, partial second is not counted)."""
        now = self.clock() if now is None else now
        window = self.rate_window
        return self.finished_rates.total(int(now), window) / window

    def rate_history(self, seconds: int = 60, now: float | None = None) -> list[int]:
        """Finished tasks per whole second for the ``seconds`` seconds before ``now``,
        oldest first (for a sparkline; seconds beyond ``history`` read 0)."""
        now = self.clock() if now is None else now
        return self.finished_rates.history(int(now), seconds)

    def clear_tasks(self, ready_only: bool = False) -> None:
        """Forget tasks (all, or only those in a ready state); counters and rates stay."""
        if not ready_only:
            self.tasks.clear()
            self._touched_tasks.clear()
            self._evicted_tasks.clear()
            self._full_refresh = True
            return
        done = [uuid for uuid, task in self.tasks.items()
                if task.state in (SUCCESS, FAILURE, REVOKED)]
        for uuid in done:
            del self.tasks[uuid]
            self._note_evicted_task(uuid)

    # bookkeeping -------------------------------------------------------------------
    def _touch_worker(self, hostname: str) -> WorkerInfo:
        worker = self.workers.get(hostname)
        if worker is None:
            worker = self._new_worker(hostname)
        else:
            self.workers.move_to_end(hostname)
        self._touched_workers.add(hostname)
        return worker

    def _new_worker(self, hostname: str) -> WorkerInfo:
        workers = self.workers
        if len(workers) >= self.max_workers:
            oldest, _ = workers.popitem(last=False)
            self._touched_workers.discard(oldest)
            self._evicted_workers.add(oldest)
            if len(self._evicted_workers) > self._max_evicted_workers:
                self._evicted_workers.clear()
                self._full_refresh = True
        worker = workers[hostname] = WorkerInfo(hostname)
        self._evicted_workers.discard(hostname)
        return worker

    def _new_task(self, uuid: str) -> TaskInfo:
        tasks = self.tasks
        evicted = self._evicted_tasks
        if len(tasks) >= self.max_tasks:
            oldest = tasks.popitem(last=False)[0]
            self._touched_tasks.discard(oldest)
            evicted.add(oldest)
            if len(evicted) > self._max_evicted_tasks:
                # Nobody has been taking changes: a rebuild is cheaper than remembering more.
                evicted.clear()
                self._full_refresh = True
        task = tasks[uuid] = TaskInfo(uuid)
        evicted.discard(uuid)
        return task

    def _note_evicted_task(self, uuid: str) -> None:
        self._touched_tasks.discard(uuid)
        evicted = self._evicted_tasks
        evicted.add(uuid)
        if len(evicted) > self._max_evicted_tasks:
            evicted.clear()
            self._full_refresh = True

    def _new_task_type(self, name: str) -> TaskTypeStats:
        types = self.task_types
        if len(types) >= self.max_task_types:
            del types[next(iter(types))]
        stats = types[name] = TaskTypeStats(name)
        return stats

    def _local_time(self, event: dict) -> float:
        when = as_time(event.get("local_received"))
        if when is None:
            when = as_time(event.get("timestamp"))
        return self.clock() if when is None else when

    def _handler_for(self, event: dict) -> Handler:
        """The handler of an event type met for the first time (cached while few)."""
        kind_type = event.get("type")
        if kind_type.__class__ is not str:
            return self._reject
        group, _, subject = kind_type.partition("-")
        if group == "task" and subject:
            handler = self._task_handler(subject, subject.upper(), _CUSTOM_FIELDS)
        elif group == "worker" and subject:
            handler = self._worker_handler(False)  # any other worker event is a sign of life
        else:
            handler = self._ignore
        if len(self._handlers) < _MAX_CACHED_TYPES:
            self._handlers[kind_type] = handler
        return handler

    def _reject(self, event: Any) -> None:
        self.malformed += 1

    def _ignore(self, event: Any) -> None:
        self.ignored += 1

    # handlers -----------------------------------------------------------------------
    def _task_handler(self, kind: str, state: str, fields: FieldSpec) -> Handler:
        """Build the handler of ``task-<kind>`` events (state ``state``).

        Everything that does not depend on the event is bound here once, so the
        per-event path is lookups and stores on locals.
        """
        rank = precedence(state)
        forces_state = state == RETRY
        late_overrides = state == RECEIVED  # RECEIVED's fields win even when late
        time_attribute = kind if kind in TASK_EVENT_STATES else None
        from_client = kind == "sent"
        finishes = kind in ("succeeded", "failed")
        has_runtime = kind == "succeeded"
        bump = _WORKER_COUNTERS.get(kind)
        self.totals.setdefault(kind, 0)

        tasks = self.tasks
        get_task, touch_task = tasks.get, tasks.move_to_end
        workers = self.workers
        get_worker, touch_worker = workers.get, workers.move_to_end
        touched_tasks_add = self._touched_tasks.add
        touched_workers_add = self._touched_workers.add
        new_task, new_worker = self._new_task, self._new_worker
        local_time = self._local_time
        totals, task_types = self.totals, self.task_types
        get_type, new_type = task_types.get, self._new_task_type
        add_finished = self.finished_rates.add
        rank_of = _RANKS.get
        header = itemgetter("uuid", "local_received", "timestamp", "hostname")

        def handle(event: dict) -> None:
            get = event.get
            try:
                uuid, local, stamp, hostname = header(event)
            except KeyError:
                uuid, local = get("uuid"), get("local_received")
                stamp, hostname = get("timestamp"), get("hostname")
            if uuid.__class__ is not str or not uuid:
                self.malformed += 1
                return
            if local.__class__ is not float:
                local = local_time(event)
            if stamp.__class__ is not float or not 0.0 <= stamp < _MAX_EPOCH:
                stamp = as_time(stamp)
                if stamp is None:
                    stamp = local

            task = get_task(uuid)
            if task is None:
                task = new_task(uuid)
            else:
                touch_task(uuid)
            touched_tasks_add(uuid)

            if hostname.__class__ is str and hostname:
                if from_client:
                    task.client = hostname
                else:
                    task.hostname = hostname
                    worker = get_worker(hostname)
                    if worker is None:
                        worker = new_worker(hostname)
                    else:
                        touch_worker(hostname)
                    touched_workers_add(hostname)
                    if bump is not None:
                        bump(worker)
                    # As in Celery, a node's task events show it alive as heartbeats do.
                    last = worker.last_heartbeat
                    if last is None or local > last:
                        worker.last_heartbeat = local

            current = task.state
            if forces_state or current == RETRY or rank <= rank_of(current, _CUSTOM_RANK):
                task.state = state
                for key, expected, coerce in fields:
                    value = get(key, _MISSING)
                    if value is not _MISSING:
                        if value.__class__ is not expected and value is not None:
                            value = coerce(value)
                        setattr(task, key, value)
            else:
                # Logically earlier than the current state: keep the state, merge fields.
                for key, expected, coerce in fields:
                    value = get(key, _MISSING)
                    if value is _MISSING or value is None:
                        continue
                    if late_overrides or getattr(task, key) is None:
                        if value.__class__ is not expected:
                            value = coerce(value)
                        setattr(task, key, value)

            if time_attribute is not None:
                setattr(task, time_attribute, stamp)
            latest = task.timestamp
            if latest is None or stamp > latest:
                task.timestamp = stamp
            timeline = task.timeline
            timeline.append((state, stamp))
            if len(timeline) > TIMELINE_MAX:
                del timeline[0]

            totals[kind] += 1
            name = task.name
            if name is not None:
                stats = get_type(name)
                if stats is None:
                    stats = new_type(name)
                counts = stats.counts
                counts[kind] = counts.get(kind, 0) + 1
                if has_runtime:
                    runtime = get("runtime")
                    if runtime.__class__ is not float:
                        runtime = as_float(runtime)
                    if runtime is not None:
                        stats.runtime_total += runtime
                        stats.runtime_count += 1
                        if runtime > stats.runtime_max:
                            stats.runtime_max = runtime
            if finishes:
                add_finished(local)

        return handle

    def _worker_handler(self, goes_offline: bool) -> Handler:
        """Build the handler of a ``worker-*`` event; ``goes_offline`` for worker-offline."""
        touch = self._touch_worker
        local_time = self._local_time

        def handle(event: dict) -> None:
            get = event.get
            hostname = get("hostname")
            if hostname.__class__ is not str or not hostname:
                self.malformed += 1
                return
            local = get("local_received")
            if local.__class__ is not float:
                local = local_time(event)
            worker = touch(hostname)
            for key, coerce in WORKER_FIELDS:
                value = get(key)
                if value is not None:
                    value = coerce(value)
                    if value is not None:
                        setattr(worker, key, value)
            freq = as_float(get("freq"))
            if freq is not None and freq > 0:
                worker.freq = freq
            stamp = as_time(get("timestamp"))
            if stamp is not None:
                worker.drift = local - stamp
            last = worker.last_heartbeat
            if last is None or local > last:
                worker.last_heartbeat = local
            if goes_offline:
                worker.offline = True
            else:
                worker.offline = False
                worker.heartbeats.append(local)

        return handle
