"""Names read out of replies and events, and the store that swaps snapshots."""

from __future__ import annotations

import threading

from tests.support.polling import wait_until
from tuiq.shell.names import (
    MAX_TASK_IDS,
    Fetched,
    NameRefresher,
    NameStore,
    fetch_names,
    queue_names,
    task_ids,
    task_names,
)

TASK_INFO = {"id": "a1", "name": "proj.add", "args": [1, 2], "kwargs": {}, "hostname": "w1@x",
             "time_start": 1.0, "acknowledged": True, "delivery_info": {}, "worker_pid": 42}


def test_task_names_from_registered_replies_of_both_engines():
    replies = {"w1@x": ["proj.add", "proj.limited [rate_limit=5/s]"],
               "celery@y": ["proj.mul [exchange=None routing_key=None rate_limit=None]"],
               "odd@z": {"error": "nope"}}
    assert task_names(replies) == {"proj.add", "proj.limited", "proj.mul"}


def test_queue_names_from_active_queues():
    replies = {"w1@x": [{"name": "celery", "exchange": {"name": "celery"}}, {"name": "q2"}],
               "w2@x": [{"routing_key": "nameless"}], "w3@x": None}
    assert queue_names(replies) == {"celery", "q2"}


def test_task_ids_from_every_reply_shape():
    assert task_ids("active", {"w1@x": [TASK_INFO]}) == [("a1", "proj.add")]
    scheduled = [{"eta": "2030-01-01T00:00:00", "priority": 6,
                  "request": {**TASK_INFO, "id": "s1", "name": "proj.mul"}}]
    assert task_ids("scheduled", {"w1@x": scheduled}) == [("s1", "proj.mul")]
    query = {"w1@x": {"q1": ["active", {**TASK_INFO, "id": "q1"}], "q2": ["reserved"]}}
    assert task_ids("query_task", query) == [("q1", "proj.add"), ("q2", None)]
    assert task_ids("revoked", {"w1@x": ["r1", "r2"]}) == [("r1", None), ("r2", None)]


def test_recent_ids_most_recent_first_without_repeats_and_capped():
    store = NameStore()
    store.remember_ids([("a", "proj.add")], "call")
    store.remember_ids([("b", None)], "reply")
    store.remember_ids([("a", None)], "event")
    seen = store.snapshot.task_ids
    assert [(s.task_id, s.name, s.source) for s in seen] == \
        [("a", "proj.add", "event"), ("b", None, "reply")]
    store.remember_ids([(f"id{n}", None) for n in range(MAX_TASK_IDS + 10)], "reply")
    assert len(store.snapshot.task_ids) == MAX_TASK_IDS


def test_ping_marks_nodes_online_and_silent_ones_offline():
    store = NameStore()
    store.note_ping({"w1@x": {"ok": "pong"}, "w2@x": {"ok": "pong"}})
    assert store.snapshot.online() == ["w1@x", "w2@x"]
    store.note_ping({"w1@x": {"ok": "pong"}})
    assert store.snapshot.online() == ["w1@x"]
    assert not store.snapshot.nodes["w2@x"].online
    # A partial answer (replies to one command) never marks others offline.
    store.note_replies("stats", {"w2@x": {}})
    assert store.snapshot.online() == ["w1@x", "w2@x"]
    store.note_replies("stats", {}, missing=["w1@x", "ghost@x"])
    assert store.snapshot.online() == ["w2@x"] and "ghost@x" not in store.snapshot.nodes


def test_replies_to_commands_teach_task_ids_and_names():
    store = NameStore()
    store.note_replies("active", {"w1@x": [TASK_INFO]})
    store.note_replies("registered", {"w1@x": ["proj.new [rate_limit=1/s]"]})
    assert [s.task_id for s in store.snapshot.task_ids] == ["a1"]
    assert "proj.new" in store.snapshot.tasks


def test_events_bring_task_ids_and_nodes():
    store = NameStore()
    store.note_event({"type": "task-received", "uuid": "e1", "name": "proj.add",
                      "hostname": "w1@x"})
    store.note_event({"type": "task-succeeded", "uuid": "e1", "hostname": "w1@x"})
    store.note_event({"type": "worker-heartbeat", "hostname": "w9@x", "timestamp": 5.0})
    (entry,) = store.snapshot.task_ids
    assert (entry.task_id, entry.name, entry.source) == ("e1", "proj.add", "event")
    assert store.snapshot.nodes["w9@x"].online
    store.note_event({"type": "worker-offline", "hostname": "w9@x", "timestamp": 6.0})
    assert not store.snapshot.nodes["w9@x"].online


def test_a_refresh_is_one_swap_and_keeps_the_apps_own_names():
    store = NameStore(tasks=["local.task"], queues=["local-q"])
    changes = []
    store.on_change = lambda: changes.append(store.snapshot)
    store.apply(Fetched(pings={"w1@x": {"ok": "pong"}}, tasks={"remote.task"},
                        queues={"remote-q"}, task_ids=[("t1", "remote.task")]))
    assert len(changes) == 1
    names = changes[0]
    assert names.tasks == ("local.task", "remote.task")
    assert names.queues == ("local-q", "remote-q")
    assert names.online() == ["w1@x"]
    assert [s.task_id for s in names.task_ids] == ["t1"]
    assert names.refreshed is not None and names.error is None
    # A later refresh drops what the cluster no longer has, but never the app's own names.
    store.apply(Fetched())
    assert store.snapshot.tasks == ("local.task",) and store.snapshot.online() == []


def test_concurrent_writers_lose_nothing():
    store = NameStore()

    def writer(prefix: str) -> None:
        for n in range(50):
            store.remember_ids([(f"{prefix}{n}", None)], "event")
            store.add_tasks([f"{prefix}.task{n}"])

    threads = [threading.Thread(target=writer, args=(p,)) for p in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.snapshot.task_ids) == MAX_TASK_IDS
    assert len(store.snapshot.tasks) == 200


class CannedCluster:
    """Answers broadcasts from a table of replies (a stand-in for the network, not for kombu)."""

    def __init__(self, replies: dict[str, dict]) -> None:
        self.replies = replies
        self.calls: list[tuple[str, object]] = []
        self.fail_with: Exception | None = None
        self.closed = False
        self.asked = threading.Event()

    def broadcast(self, command: str, reply: bool = False, timeout: float = 1.0,
                  expected=None, **_: object):
        self.calls.append((command, expected))
        if command == "scheduled":
            self.asked.set()
        if self.fail_with is not None:
            self.asked.set()
            raise self.fail_with
        return self.replies.get(command, {})

    def close(self) -> None:
        self.closed = True


CANNED = {
    "ping": {"w1@x": {"ok": "pong"}},
    "registered": {"w1@x": ["proj.add [rate_limit=1/s]"]},
    "active_queues": {"w1@x": [{"name": "celery"}]},
    "active": {"w1@x": [TASK_INFO]},
}


def test_fetch_names_waits_only_for_the_nodes_that_answered_ping():
    cluster = CannedCluster(CANNED)
    fetched = fetch_names(cluster)
    assert fetched.tasks == {"proj.add"} and fetched.queues == {"celery"}
    assert fetched.task_ids == [("a1", "proj.add")]
    assert cluster.calls == [("ping", None), ("registered", ["w1@x"]),
                             ("active_queues", ["w1@x"]), ("active", ["w1@x"]),
                             ("reserved", ["w1@x"]), ("scheduled", ["w1@x"])]
    silent = CannedCluster({})
    assert fetch_names(silent) == Fetched() and silent.calls == [("ping", None)]


def test_refresher_fills_the_store_in_the_background_and_records_failures():
    cluster = CannedCluster(CANNED)
    store = NameStore()
    refresher = NameRefresher(store, lambda: cluster, interval=60)
    refresher.start()
    try:
        wait_until(lambda: store.snapshot.refreshed, timeout=5)
        assert store.snapshot.online() == ["w1@x"] and store.snapshot.tasks == ("proj.add",)
        cluster.asked.clear()
        cluster.fail_with = ConnectionError("cannot reach broker redis://x:1/0: refused")
        refresher.refresh_soon()  # not after the 60 s interval: now
        wait_until(lambda: store.snapshot.error, timeout=5)
        assert store.snapshot.error == "cannot reach broker redis://x:1/0: refused"
        # The names found before stay until a refresh succeeds.
        assert store.snapshot.tasks == ("proj.add",)
    finally:
        refresher.stop()
    assert cluster.closed
