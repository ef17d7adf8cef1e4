"""A canned, deterministic ClusterState for the console's snapshots and pilot tests.

Built the way the console builds its state: synthetic events (as workers send them,
PROTOCOL.md §4) fed through ``ClusterState.event`` and inspect replies (§2.6) stored with
``update_inspect``, all at fixed times. Five nodes: two healthy tuiq nodes, a stock Celery
node (``sw_ident`` py-celery), a tuiq node whose heartbeat is late, and one that went
offline. Tasks in every state, a steady flow of finished tasks over the last minute (for
the rate sparkline), a FAILURE with a real multi-line traceback, a chain with root and
parent ids, a retry, a terminated revoke, a rejection, an ETA task and a task only sent.
"""

from __future__ import annotations

import uuid

from tuiq.events.cluster import ClusterState

#: The canned "now": 2027-01-15 08:00:00 UTC.
NOW = 1_800_000_000.0

ALPHA = "alpha@web-01"
BETA = "beta@web-02"
LEGACY = "celery@legacy-01"
GAMMA = "gamma@batch-01"
DELTA = "delta@batch-02"

_NAMESPACE = uuid.UUID("7f1d2a3c-0b5e-4c4a-9f00-3d6c1e2b4a55")

#: Finished tasks in each of the last 60 seconds (oldest first): a ramp with a dip.
FLOW = [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1,
        1, 2, 2, 3, 4, 5, 6, 6, 5, 4, 3, 3, 2, 2, 2, 3, 3, 4, 4, 3,
        3, 2, 2, 2, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1, 1, 1, 2, 1, 1]

TRACEBACK = """\
Traceback (most recent call last):
  File "/srv/shop/venv/lib/python3.11/site-packages/tuiq/worker/trace.py", line 141, in run
    result = task(*args, **kwargs)
             ^^^^^^^^^^^^^^^^^^^^^
  File "/srv/shop/shop/billing.py", line 58, in charge_card
    receipt = gateway.charge(order.card_token, order.total_cents, idempotency_key=order_id)
              ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/srv/shop/shop/gateway.py", line 112, in charge
    raise PaymentDeclined(response["code"], response["message"])
shop.errors.PaymentDeclined: ('card_declined', 'Your card was declined (order 1042).')
"""

RETRY_TRACEBACK = """\
Traceback (most recent call last):
  File "/srv/shop/shop/mail.py", line 27, in send_receipt
    smtp.send_message(message)
  File "/usr/lib/python3.11/smtplib.py", line 986, in send_message
    return self.sendmail(from_addr, to_addrs, flatmsg, mail_options, rcpt_options)
ConnectionRefusedError: [Errno 111] Connection refused
"""


def task_id(label: str) -> str:
    """A stable task id for ``label``."""
    return str(uuid.uuid5(_NAMESPACE, label))


# Ids the tests refer to.
FAILED_ID = task_id("charge-1042")
RETRY_ID = task_id("receipt-1042")
RUNNING_ID = task_id("report-q4")
RUNNING_LEGACY_ID = task_id("legacy-sync")
RESERVED_ID = task_id("thumb-77")
ETA_ID = task_id("reminder-9")
REVOKED_ID = task_id("export-all")
REJECTED_ID = task_id("import-bad")
PENDING_ID = task_id("sent-only")
CHAIN_ROOT_ID = task_id("chain-root")
CHAIN_CHILD_ID = task_id("chain-child")


def canned_cluster() -> tuple[ClusterState, float]:
    """A rich, deterministic cluster state and the time it describes."""
    cluster = ClusterState(clock=lambda: NOW)
    feed = _Feed(cluster)
    _nodes(feed)
    _flow(feed)
    _stories(feed)
    _heartbeats(feed)
    _polls(cluster)
    cluster.take_changes()
    return cluster, NOW


class _Feed:
    """Sends events with a sender's common fields and a local receive time."""

    PIDS = {ALPHA: 4101, BETA: 4202, LEGACY: 7858, GAMMA: 5303, DELTA: 5404}

    def __init__(self, cluster: ClusterState) -> None:
        self.cluster = cluster
        self.clocks: dict[str, int] = {}

    def send(self, kind: str, hostname: str, at: float, **fields: object) -> None:
        clock = self.clocks[hostname] = self.clocks.get(hostname, 0) + 1
        event = {"type": kind, "hostname": hostname, "timestamp": at, "local_received": at,
                 "utcoffset": 0.0, "pid": self.PIDS.get(hostname, 999), "clock": clock}
        event.update(fields)
        self.cluster.event(event)

    def worker(self, kind: str, hostname: str, at: float, *, active: int = 0,
               processed: int = 0, loadavg: tuple[float, ...] = (0.1, 0.1, 0.1)) -> None:
        celery = hostname == LEGACY
        self.send(kind, hostname, at, freq=2.0, active=active, processed=processed,
                  loadavg=list(loadavg), sw_ident="py-celery" if celery else "py-tuiq",
                  sw_ver="5.7.0" if celery else "0.1.0", sw_sys="Linux")

    def received(self, label: str, name: str, hostname: str, at: float, args: str = "()",
                 kwargs: str = "{}", **extra: object) -> str:
        uid = task_id(label)
        fields = {"root_id": uid, "parent_id": None, "retries": 0, "eta": None,
                  "expires": None}
        fields.update(extra)
        self.send("task-received", hostname, at, uuid=uid, name=name, args=args,
                  kwargs=kwargs, **fields)
        return uid

    def task(self, kind: str, uid: str, hostname: str, at: float, **fields: object) -> None:
        self.send(kind, hostname, at, uuid=uid, **fields)


def _nodes(feed: _Feed) -> None:
    start = NOW - 3600
    for hostname in (ALPHA, BETA, LEGACY, GAMMA, DELTA):
        feed.worker("worker-online", hostname, start)
    feed.worker("worker-offline", DELTA, NOW - 95, processed=311, loadavg=(0.02, 0.1, 0.2))


def _flow(feed: _Feed) -> None:
    """A minute of quick tasks over the three healthy nodes (the rate history)."""
    nodes = (ALPHA, BETA, LEGACY)
    names = ("shop.cart.add_item", "shop.search.index_product", "proj.add")
    serial = 0
    for second, finished in enumerate(FLOW):
        at = NOW - 60 + second
        for n in range(finished):
            serial += 1
            hostname = nodes[serial % 3]
            name = names[serial % 3]
            when = at + n / (finished + 1)
            uid = feed.received(f"flow-{serial}", name, hostname, when - 0.02,
                                args=f"({serial}, {serial % 7})")
            feed.task("task-started", uid, hostname, when - 0.015)
            runtime = 0.004 + (serial % 11) * 0.0013
            feed.task("task-succeeded", uid, hostname, when, result=str(serial + serial % 7),
                      runtime=runtime)


def _stories(feed: _Feed) -> None:
    """Tasks worth opening, all in the last quarter minute so they sort on top."""
    # A failure with a real traceback.
    uid = feed.received("charge-1042", "shop.billing.charge_card", ALPHA, NOW - 12.2,
                        args="(1042,)", kwargs="{'currency': 'EUR', 'retry': False}")
    feed.task("task-started", uid, ALPHA, NOW - 12.1)
    feed.task("task-failed", uid, ALPHA, NOW - 11.4, traceback=TRACEBACK,
              exception="PaymentDeclined('card_declined', 'Your card was declined (order "
                        "1042).')")

    # A retry: failed once, waiting for its next attempt.
    uid = feed.received("receipt-1042", "shop.mail.send_receipt", BETA, NOW - 11.0,
                        args="(1042, 'ada@example.com')", expires="2027-01-15T09:00:00+00:00")
    feed.task("task-started", uid, BETA, NOW - 10.9)
    feed.task("task-retried", uid, BETA, NOW - 10.5, traceback=RETRY_TRACEBACK,
              exception="Retry in 60s: ConnectionRefusedError(111, 'Connection refused')")

    # A chain: the root succeeded and its child is queued on the same node.
    root = feed.received("chain-root", "shop.reports.collect", BETA, NOW - 14.0,
                         args="('2026-Q4',)")
    feed.task("task-started", root, BETA, NOW - 13.9)
    feed.task("task-succeeded", root, BETA, NOW - 13.2, result="{'rows': 48213}",
              runtime=0.701)
    feed.received("chain-child", "shop.reports.render_pdf", BETA, NOW - 13.1,
                  args="({'rows': 48213},)", root_id=root, parent_id=root)

    # A terminated revoke (SIGTERM while running).
    uid = feed.received("export-all", "shop.exports.export_everything", ALPHA, NOW - 9.5,
                        kwargs="{'format': 'csv'}")
    feed.task("task-started", uid, ALPHA, NOW - 9.4)
    feed.task("task-revoked", uid, ALPHA, NOW - 9.0, terminated=True, signum=15,
              expired=False)

    # A rejection: retried once, then it raised Reject without requeue.
    uid = feed.received("import-bad", "shop.imports.load_feed", LEGACY, NOW - 8.0,
                        args="('https://feeds.example.com/broken.xml',)")
    feed.task("task-started", uid, LEGACY, NOW - 7.9)
    feed.task("task-retried", uid, LEGACY, NOW - 7.85, traceback=None,
              exception="Retry in 0s: XMLSyntaxError('not well-formed')")
    feed.task("task-rejected", uid, LEGACY, NOW - 7.8, requeue=False)

    # Tasks running now: a long report on alpha, a sync on the Celery node.
    uid = feed.received("report-q4", "shop.reports.quarterly", ALPHA, NOW - 65.0,
                        args="('2026-Q4',)", kwargs="{'email': True}")
    feed.task("task-started", uid, ALPHA, NOW - 64.5)
    uid = feed.received("legacy-sync", "legacy.sync_inventory", LEGACY, NOW - 6.0,
                        args="([17, 18, 19],)")
    feed.task("task-started", uid, LEGACY, NOW - 5.2)

    # Reserved (prefetched, not started) and an ETA task.
    feed.received("thumb-77", "shop.media.make_thumbnail", ALPHA, NOW - 2.5,
                  args="('sku-77.png', 256)")
    feed.received("reminder-9", "shop.mail.cart_reminder", BETA, NOW - 4.0,
                  args="(9,)", eta="2027-01-15T08:30:00+00:00")

    # A task sent by a client that no worker has received yet.
    feed.send("task-sent", "gen3117@shop-api", NOW - 1.0, uuid=PENDING_ID,
              name="shop.search.reindex", args="()", kwargs="{'full': True}", retries=0,
              eta=None, expires=None, queue="search", exchange="", routing_key="search",
              root_id=PENDING_ID, parent_id=None)


def _heartbeats(feed: _Feed) -> None:
    feed.worker("worker-heartbeat", ALPHA, NOW - 0.6, active=2, processed=10482,
                loadavg=(1.42, 1.18, 0.97))
    feed.worker("worker-heartbeat", BETA, NOW - 1.1, active=0, processed=9876,
                loadavg=(0.61, 0.72, 0.80))
    feed.worker("worker-heartbeat", LEGACY, NOW - 0.3, active=1, processed=2210,
                loadavg=(0.35, 0.29, 0.22))
    # Late: 3.4 s since the last heartbeat with a 2 s interval (offline at 4 s).
    feed.worker("worker-heartbeat", GAMMA, NOW - 3.4, active=0, processed=57,
                loadavg=(3.9, 3.1, 2.4))


def _task_info(uid: str, name: str, hostname: str, args: list, kwargs: dict,
               time_start: float | None, pid: int | None, routing_key: str = "celery") -> dict:
    """A TASK_INFO dict as ``active``/``reserved`` replies carry it (PROTOCOL.md §2.6)."""
    return {"id": uid, "name": name, "args": args, "kwargs": kwargs, "type": name,
            "hostname": hostname, "time_start": time_start,
            "acknowledged": time_start is not None,
            "delivery_info": {"exchange": "", "routing_key": routing_key, "priority": 0,
                              "redelivered": False},
            "worker_pid": pid}


def _queue(name: str, routing_key: str | None = None) -> dict:
    """One ``active_queues`` entry: kombu's ``Queue.as_dict(recurse=True)``."""
    return {"name": name,
            "exchange": {"name": name, "type": "direct", "arguments": None, "durable": True,
                         "passive": False, "auto_delete": False, "delivery_mode": None,
                         "no_declare": False},
            "routing_key": routing_key or name, "queue_arguments": None,
            "binding_arguments": None, "consumer_arguments": None, "durable": True,
            "exclusive": False, "auto_delete": False, "no_ack": False, "alias": None,
            "bindings": [], "no_declare": None, "expires": None, "message_ttl": None,
            "max_length": None, "max_length_bytes": None, "max_priority": None}


def _stats(pid: int, *, implementation: str, concurrency: int, processes: list[int],
           uptime: int, total: dict[str, int], utime: float, stime: float, maxrss: int,
           prefetch: int, clock: int, extra_pool: dict | None = None) -> dict:
    """A ``stats`` reply as PROTOCOL.md §2.6 captured it, with every rusage field."""
    pool = {"implementation": implementation, "max-concurrency": concurrency,
            "processes": processes, "max-tasks-per-child": "N/A",
            "put-guarded-by-semaphore": False, "timeouts": [0, 0], "writes": "N/A"}
    pool.update(extra_pool or {})
    return {
        "total": total, "pid": pid, "clock": str(clock), "uptime": uptime, "pool": pool,
        "broker": {"hostname": "127.0.0.1", "userid": None, "virtual_host": "0",
                   "port": 6379, "insist": False, "ssl": False, "transport": "redis",
                   "connect_timeout": 4, "transport_options": {}, "login_method": None,
                   "uri_prefix": None, "heartbeat": 120.0, "failover_strategy": "round-robin",
                   "alternates": [], "credential_provider": None},
        "prefetch_count": prefetch,
        "rusage": {"utime": utime, "stime": stime, "maxrss": maxrss, "ixrss": 0, "idrss": 0,
                   "isrss": 0, "minflt": 22340 + pid, "majflt": 9, "nswap": 0,
                   "inblock": 21864, "oublock": 776, "msgsnd": 0, "msgrcv": 0,
                   "nsignals": 0, "nvcsw": 632 + pid // 10, "nivcsw": 157},
    }


REGISTERED_SHOP = [
    "shop.billing.charge_card [rate_limit=10/s]",
    "shop.cart.add_item",
    "shop.exports.export_everything",
    "shop.mail.cart_reminder",
    "shop.mail.send_receipt [rate_limit=100/m]",
    "shop.media.make_thumbnail",
    "shop.reports.collect",
    "shop.reports.quarterly",
    "shop.reports.render_pdf",
    "shop.search.index_product",
]


def _polls(cluster: ClusterState) -> None:
    """Inspect replies as each node sent them at the last poll (two seconds ago)."""
    polled = NOW - 2.0
    update = cluster.update_inspect

    def poll(hostname: str, replies: dict) -> None:
        for command, reply in replies.items():
            update(hostname, command, reply, now=polled)

    poll(ALPHA, {
        "stats": _stats(4101, implementation="tuiq.worker.pool:PreforkPool", concurrency=4,
                        processes=[4110, 4111, 4112, 4113], uptime=3598,
                        total={"shop.billing.charge_card": 412, "shop.cart.add_item": 9822,
                               "shop.reports.quarterly": 3, "shop.media.make_thumbnail": 245},
                        utime=812.4, stime=97.25, maxrss=187_392, prefetch=16, clock=20981),
        "active": [
            _task_info(RUNNING_ID, "shop.reports.quarterly", ALPHA, ["2026-Q4"],
                       {"email": True}, NOW - 64.5, 4112),
        ],
        "reserved": [
            _task_info(RESERVED_ID, "shop.media.make_thumbnail", ALPHA, ["sku-77.png", 256],
                       {}, None, None, routing_key="media"),
        ],
        "scheduled": [],
        "revoked": [REVOKED_ID, task_id("old-revoke-1"), task_id("old-revoke-2")],
        "registered": REGISTERED_SHOP,
        "active_queues": [_queue("celery"), _queue("media"), _queue("billing")],
        "conf": {"broker_url": "redis://:********@127.0.0.1:6379/0",
                 "result_backend": "redis://:********@127.0.0.1:6379/1",
                 "worker_concurrency": 4, "worker_prefetch_multiplier": 4,
                 "task_acks_late": True, "worker_send_task_events": True,
                 "include": ["shop.billing", "shop.cart", "shop.mail", "shop.reports"]},
    })
    poll(BETA, {
        "stats": _stats(4202, implementation="tuiq.worker.pool:ThreadsPool", concurrency=8,
                        processes=[], uptime=3597,
                        total={"shop.search.index_product": 9701, "shop.mail.send_receipt": 175},
                        utime=401.9, stime=55.0, maxrss=98_816, prefetch=32, clock=19877),
        "active": [],
        "reserved": [
            _task_info(CHAIN_CHILD_ID, "shop.reports.render_pdf", BETA, [{"rows": 48213}],
                       {}, None, None),
        ],
        "scheduled": [
            {"eta": "2027-01-15T08:30:00+00:00", "priority": 6,
             "request": _task_info(ETA_ID, "shop.mail.cart_reminder", BETA, [9], {}, None,
                                   None, routing_key="mail")},
            {"eta": "2027-01-15T08:01:00+00:00", "priority": 6,
             "request": _task_info(RETRY_ID, "shop.mail.send_receipt", BETA,
                                   [1042, "ada@example.com"], {}, None, None,
                                   routing_key="mail")},
        ],
        "revoked": [],
        "registered": REGISTERED_SHOP,
        "active_queues": [_queue("celery"), _queue("mail"), _queue("search")],
        "conf": {"broker_url": "redis://:********@127.0.0.1:6379/0",
                 "worker_concurrency": 8, "worker_pool": "threads"},
    })
    poll(LEGACY, {
        "stats": _stats(7858, implementation="celery.concurrency.prefork:TaskPool",
                        concurrency=2, processes=[7899, 7900], uptime=3601,
                        total={"legacy.sync_inventory": 14, "proj.add": 2196,
                               "shop.imports.load_feed": 1},
                        utime=0.600012, stime=0.151083, maxrss=60_464, prefetch=9, clock=54,
                        extra_pool={"max-tasks-per-child": 100,
                                    "writes": {"total": 5, "avg": "0.50", "all": "0.60, 0.40",
                                               "raw": "3, 2", "strategy": "fair",
                                               "inqueues": {"total": 2, "active": 0}}}),
        "active": [
            _task_info(RUNNING_LEGACY_ID, "legacy.sync_inventory", LEGACY, [[17, 18, 19]], {},
                       NOW - 5.2, 7899),
        ],
        "reserved": [],
        "scheduled": [],
        "revoked": [],
        "registered": ["legacy.sync_inventory", "proj.add [rate_limit=50/s]", "proj.mul"],
        "active_queues": [_queue("celery")],
        "conf": {"broker_url": "redis://127.0.0.1:6379/0", "worker_concurrency": 2,
                 "worker_max_tasks_per_child": 100},
    })
    poll(GAMMA, {
        "stats": _stats(5303, implementation="tuiq.worker.pool:SoloPool", concurrency=1,
                        processes=[], uptime=3595, total={"shop.exports.export_everything": 57},
                        utime=5123.0, stime=320.5, maxrss=1_843_200, prefetch=4, clock=731),
        "active": [],
        "reserved": [],
        "registered": REGISTERED_SHOP,
        "active_queues": [_queue("exports")],
    })
    # delta went offline before it was ever polled: its figures stay unknown.
