"""The records a :class:`~tuiq.events.cluster.ClusterState` keeps: workers, tasks, task types.

Plain slotted objects with no behaviour beyond reading themselves (liveness, averages),
so thousands of them stay small and the console can read them without locks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tuiq.states import PENDING

#: Celery's expire window: a worker is alive until ``last_heartbeat + EXPIRE_FACTOR * freq``.
EXPIRE_FACTOR = 2.0
#: A worker is "late" once ``LATE_FACTOR * freq`` has passed without a heartbeat: the next
#: one is overdue by half an interval, which ordinary jitter does not reach.
LATE_FACTOR = 1.5
#: Heartbeat receive times kept per worker (as Celery).
HEARTBEATS_KEPT = 4
#: Timeline entries kept per task; a task retried forever keeps only its latest events.
TIMELINE_MAX = 32
#: The heartbeat interval assumed for a worker that never said (Celery's worker default).
DEFAULT_FREQ = 2.0

#: Task-event kinds with a per-node and a cluster-wide counter, in lifecycle order.
COUNTED_KINDS = ("sent", "received", "started", "succeeded", "failed", "retried", "revoked",
                 "rejected")


class WorkerInfo:
    """What the cluster knows about one node, from its events and from poll replies.

    ``last_heartbeat`` is the local receive time of the node's latest ``worker-*`` event.
    :meth:`alive` is Celery's rule; :meth:`status` refines it for display.
    """

    __slots__ = (
        "hostname", "pid", "freq", "active", "processed", "loadavg", "sw_ident", "sw_ver",
        "sw_sys", "clock", "utcoffset", "last_heartbeat", "heartbeats", "offline", "drift",
        "received", "started", "succeeded", "failed", "retried", "revoked", "rejected",
        "stats", "active_tasks", "reserved_tasks", "scheduled_tasks", "revoked_ids",
        "registered", "queues", "conf", "inspected_at", "inspect_errors",
    )

    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self.pid: int | None = None
        self.freq: float = DEFAULT_FREQ
        self.active = 0
        self.processed = 0
        self.loadavg: list[float] = []
        self.sw_ident: str | None = None
        self.sw_ver: str | None = None
        self.sw_sys: str | None = None
        self.clock = 0
        self.utcoffset: float | None = None
        self.last_heartbeat: float | None = None
        self.heartbeats: deque[float] = deque(maxlen=HEARTBEATS_KEPT)
        self.offline = False
        #: ``local receive time - sender timestamp`` of the latest worker event: a large
        #: value means the clocks disagree (Celery warns past 16 s).
        self.drift: float | None = None
        self.received = 0
        self.started = 0
        self.succeeded = 0
        self.failed = 0
        self.retried = 0
        self.revoked = 0
        self.rejected = 0
        self.stats: dict | None = None
        self.active_tasks: list[dict] | None = None
        self.reserved_tasks: list[dict] | None = None
        self.scheduled_tasks: list[dict] | None = None
        self.revoked_ids: list[str] | None = None
        self.registered: list | None = None
        self.queues: list[dict] | None = None
        self.conf: dict | None = None
        self.inspected_at: float | None = None
        #: The latest error a poll answered with, by command (cleared by a good reply).
        self.inspect_errors: dict[str, str] = {}

    def expires_at(self) -> float | None:
        """When the node stops counting as alive without a new heartbeat (None: never seen)."""
        if self.last_heartbeat is None:
            return None
        return self.last_heartbeat + EXPIRE_FACTOR * self.freq

    def alive(self, now: float) -> bool:
        """Celery's rule: ``now < last_heartbeat + 2 * freq`` and no ``worker-offline`` since."""
        last = self.last_heartbeat
        return not self.offline and last is not None and now < last + EXPIRE_FACTOR * self.freq

    def status(self, now: float) -> str:
        """``"online"``, ``"late"`` or ``"offline"``.

        Offline when not :meth:`alive`. Late when alive but more than ``1.5 × freq`` has
        passed since the last heartbeat (one is overdue by half an interval): the node
        turns offline at ``2 × freq`` unless a heartbeat arrives. Online otherwise.
        """
        if not self.alive(now):
            return "offline"
        if now >= self.last_heartbeat + LATE_FACTOR * self.freq:  # type: ignore[operator]
            return "late"
        return "online"

    def __repr__(self) -> str:
        return f"<WorkerInfo {self.hostname} pid={self.pid} offline={self.offline}>"


class TaskInfo:
    """One task as its events describe it; times are the senders' event timestamps."""

    __slots__ = (
        "uuid", "name", "state", "hostname", "client", "args", "kwargs", "result",
        "exception", "traceback", "retries", "eta", "expires", "root_id", "parent_id",
        "queue", "exchange", "routing_key", "sent", "received", "started", "succeeded",
        "failed", "retried", "revoked", "rejected", "timestamp", "runtime", "terminated",
        "signum", "expired", "requeue", "timeline",
    )

    def __init__(self, uuid: str) -> None:
        self.uuid = uuid
        self.name: str | None = None
        self.state: str = PENDING
        #: The worker that sent the latest worker-side event.
        self.hostname: str | None = None
        #: The client that sent ``task-sent``.
        self.client: str | None = None
        self.args: str | None = None
        self.kwargs: str | None = None
        self.result: str | None = None
        self.exception: str | None = None
        self.traceback: str | None = None
        self.retries: int | None = None
        self.eta: str | None = None
        self.expires: str | None = None
        self.root_id: str | None = None
        self.parent_id: str | None = None
        self.queue: str | None = None
        self.exchange: str | None = None
        self.routing_key: str | None = None
        self.sent: float | None = None
        self.received: float | None = None
        self.started: float | None = None
        self.succeeded: float | None = None
        self.failed: float | None = None
        self.retried: float | None = None
        self.revoked: float | None = None
        self.rejected: float | None = None
        self.timestamp: float | None = None
        self.runtime: float | None = None
        self.terminated: bool | None = None
        self.signum: int | str | None = None
        self.expired: bool | None = None
        self.requeue: bool | None = None
        self.timeline: list[tuple[str, float]] = []

    def info(self) -> dict[str, Any]:
        """The fields that are set, by name (for detail views and debugging)."""
        values = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if value is not None and value != []:
                values[name] = value
        return values

    def __repr__(self) -> str:
        return f"<TaskInfo {self.name}({self.uuid}) {self.state}>"


class TaskTypeStats:
    """Event counts and run times for one task name, cumulative (eviction does not undo)."""

    __slots__ = ("name", "counts", "runtime_total", "runtime_max", "runtime_count")

    def __init__(self, name: str) -> None:
        self.name = name
        #: Events seen per kind: ``"received"``, ``"succeeded"``, ... (custom kinds appear
        #: when first seen).
        self.counts: dict[str, int] = dict.fromkeys(COUNTED_KINDS, 0)
        self.runtime_total = 0.0
        self.runtime_max = 0.0
        self.runtime_count = 0

    @property
    def runtime_avg(self) -> float | None:
        """Mean run time of the successes that reported one, or None."""
        return self.runtime_total / self.runtime_count if self.runtime_count else None

    def __repr__(self) -> str:
        return f"<TaskTypeStats {self.name} {self.counts}>"


@dataclass
class Changes:
    """What changed since the previous ``take_changes()``: keys of rows to redraw or drop.

    ``workers``/``tasks`` are the keys touched and still present; ``evicted_*`` are keys
    dropped (by the caps or by clearing) and not re-added since. ``full_refresh`` means
    too much changed to list (or the tasks were cleared): rebuild every row.
    """

    workers: set[str] = field(default_factory=set)
    tasks: set[str] = field(default_factory=set)
    evicted_tasks: set[str] = field(default_factory=set)
    evicted_workers: set[str] = field(default_factory=set)
    full_refresh: bool = False

    def __bool__(self) -> bool:
        return bool(self.workers or self.tasks or self.evicted_tasks or self.evicted_workers
                    or self.full_refresh)
