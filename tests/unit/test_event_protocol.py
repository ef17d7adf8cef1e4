"""Monitoring events on the wire: envelopes, routing keys, UTC offsets, receiver queues,
and what the receiver makes of a message (no broker involved)."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import pytest
from kombu import Message
from kombu.serialization import prepare_accept_content

from tuiq import App
from tuiq.config import DEFAULTS
from tuiq.events.receiver import EventReceiver
from tuiq.protocol.events import (
    BUFFER_LIMIT,
    amqp_queue_arguments,
    event_exchange,
    event_headers,
    group_from,
    load_average,
    localize_timestamp,
    make_event,
    receiver_queue,
    routing_key_for,
    software_info,
    utcoffset,
)


# envelopes -----------------------------------------------------------------------------
def test_event_has_common_fields_in_celery_order():
    event = make_event("worker-heartbeat", "w1@vm", 7858, 3,
                       {"freq": 2.0, "active": 0, "processed": 0},
                       timestamp=1795264688.798806, offset=0.0)
    assert list(event) == ["hostname", "utcoffset", "pid", "clock", "freq", "active",
                           "processed", "timestamp", "type"]
    assert event == {"hostname": "w1@vm", "utcoffset": 0.0, "pid": 7858, "clock": 3,
                     "freq": 2.0, "active": 0, "processed": 0,
                     "timestamp": 1795264688.798806, "type": "worker-heartbeat"}


def test_event_defaults_timestamp_and_offset_to_now():
    before = time.time()
    event = make_event("task-started", "w@h", 1, 9, {"uuid": "id-1"})
    assert before <= event["timestamp"] <= time.time()
    assert event["utcoffset"] == utcoffset()
    assert isinstance(event["utcoffset"], float)
    assert event["uuid"] == "id-1"


def test_headers_name_the_sender():
    assert event_headers("w1@vm") == {"hostname": "w1@vm"}


# routing keys --------------------------------------------------------------------------
@pytest.mark.parametrize(("event_type", "key"), [
    ("worker-heartbeat", "worker.heartbeat"),
    ("task-succeeded", "task.succeeded"),
    ("task-sent", "task.sent"),
    ("worker-elect-ack", "worker.elect.ack"),
])
def test_routing_key_is_type_with_dots(event_type, key):
    assert routing_key_for(event_type) == key
    assert routing_key_for({"type": event_type}) == key


def test_a_batch_goes_as_group_multi():
    batch = [{"type": "task-received"}, {"type": "task-started"}]
    assert routing_key_for(batch) == "task.multi"
    assert routing_key_for([{"type": "worker-heartbeat"}]) == "worker.multi"
    with pytest.raises(ValueError):
        routing_key_for([])


def test_group_is_the_part_before_the_first_dash():
    assert group_from("task-sent") == "task"
    assert group_from("worker-elect-ack") == "worker"
    assert group_from("custom") == "custom"


def test_buffer_limit_is_celerys():
    assert BUFFER_LIMIT == 24


# time ------------------------------------------------------------------------------------
def _localtime(dst: bool):
    return lambda: SimpleNamespace(tm_isdst=int(dst))


def test_utcoffset_is_hours_west_of_utc():
    # UTC+2 in summer (altzone -7200 s), UTC+1 in winter (timezone -3600 s).
    assert utcoffset(_localtime(True), timezone=-3600, altzone=-7200) == -2.0
    assert utcoffset(_localtime(False), timezone=-3600, altzone=-7200) == -1.0
    # West of UTC is positive.
    assert utcoffset(_localtime(False), timezone=18000, altzone=14400) == 5.0


def test_utcoffset_keeps_fractional_hours():
    # India, UTC+5:30: Celery 5.7 divides truly (older releases floored to -6).
    offset = utcoffset(_localtime(False), timezone=-19800, altzone=-19800)
    assert offset == -5.5
    assert isinstance(offset, float)


def test_localize_moves_a_senders_timestamp_into_the_receivers_zone():
    # Sender at UTC+2 (-2.0), receiver at UTC (0.0): two hours earlier.
    assert localize_timestamp(10_000.0, -2.0, 0.0) == 10_000.0 + 2 * 3600
    assert localize_timestamp(10_000.0, 1.0, 1.0) == 10_000.0


# exchange and queue ----------------------------------------------------------------------
def test_exchange_is_topic_on_amqp_and_fanout_on_redis():
    amqp = event_exchange("amqp")
    redis = event_exchange("redis")
    assert (amqp.name, amqp.type) == ("celeryev", "topic")
    assert (redis.name, redis.type) == ("celeryev", "fanout")
    assert event_exchange("gcpubsub").type == "fanout"
    for exchange in (amqp, redis):
        assert exchange.durable is True
        assert exchange.auto_delete is False
    assert event_exchange("amqp", "myev").name == "myev"


def test_receiver_queue_has_celerys_arguments():
    queue = receiver_queue(event_exchange("amqp"), "abc")
    assert queue.name == "celeryev.abc"
    assert queue.routing_key == "#"
    assert queue.auto_delete is True
    assert queue.durable is False
    assert queue.exclusive is True
    assert queue.exchange.name == "celeryev"
    assert amqp_queue_arguments(queue) == {"x-message-ttl": 5000, "x-expires": 60000}


def test_receiver_queue_settings_are_honoured():
    queue = receiver_queue(event_exchange("amqp"), "n1", prefix="mon", routing_key="worker.#",
                           ttl=2.5, expires=None, durable=True, exclusive=False)
    assert queue.name == "mon.n1"
    assert queue.routing_key == "worker.#"
    assert queue.auto_delete is False and queue.durable is True
    assert amqp_queue_arguments(queue) == {"x-message-ttl": 2500}


def test_exclusive_and_durable_together_are_refused():
    with pytest.raises(ValueError, match="exclusive and durable"):
        receiver_queue(event_exchange("amqp"), "x", durable=True, exclusive=True)


def test_event_settings_default_to_celerys():
    assert DEFAULTS["event_exchange"] == "celeryev"
    assert DEFAULTS["event_serializer"] == "json"
    assert DEFAULTS["event_queue_prefix"] == "celeryev"
    assert DEFAULTS["event_queue_ttl"] == 5.0
    assert DEFAULTS["event_queue_expires"] == 60.0
    assert DEFAULTS["event_queue_durable"] is False
    assert DEFAULTS["event_queue_exclusive"] is True
    assert DEFAULTS["worker_send_task_events"] is False
    assert DEFAULTS["task_send_sent_event"] is False
    assert DEFAULTS["worker_heartbeat_interval"] == 2.0


def test_celerys_old_event_setting_names_are_read():
    from tuiq.config import settings_from_object

    old = SimpleNamespace(CELERY_SEND_EVENTS=True, CELERY_SEND_TASK_SENT_EVENT=True,
                          CELERY_EVENT_SERIALIZER="json")
    assert settings_from_object(old) == {"worker_send_task_events": True,
                                         "task_send_sent_event": True,
                                         "event_serializer": "json"}


# worker facts ----------------------------------------------------------------------------
def test_software_info_names_tuiq():
    import platform

    import tuiq

    assert software_info() == {"sw_ident": "py-tuiq", "sw_ver": tuiq.__version__,
                               "sw_sys": platform.system()}


def test_load_average_is_three_rounded_numbers():
    loads = load_average()
    assert len(loads) == 3
    assert all(round(value, 2) == value for value in loads)


# the receiver's handling of one message ---------------------------------------------------
def _message(body: bytes, content_type: str = "application/json",
             headers: dict | None = None) -> Message:
    message = Message(body=body, content_type=content_type, content_encoding="utf-8",
                      headers=headers or {})
    # What kombu's Consumer sets on every message it hands over.
    message.accept = prepare_accept_content({"json"})
    return message


@pytest.fixture
def collected():
    app = App("events-unit", set_as_current=False)
    events: list[dict] = []
    receiver = EventReceiver(app, events.append)
    return app, receiver, events


def _encode(value) -> bytes:
    import json

    return json.dumps(value).encode()


def test_a_list_body_is_split_into_events(collected):
    app, receiver, events = collected
    batch = [make_event("task-received", "w@h", 1, 10, {"uuid": "a"}),
             make_event("task-started", "w@h", 1, 11, {"uuid": "a"})]
    before = time.time()
    receiver._on_message(_message(_encode(batch)))
    assert [e["type"] for e in events] == ["task-received", "task-started"]
    assert all(before <= e["local_received"] <= time.time() for e in events)
    assert app.clock.value > 11


def test_task_sent_clock_is_rewritten(collected):
    app, receiver, events = collected
    app.clock.adjust(40)
    receiver._on_message(_message(_encode(make_event("task-sent", "gen1@h", 1, 9999,
                                                     {"uuid": "a"}))))
    # Celery's receiver: local clock - 1, whatever the client sent.
    assert events[0]["clock"] == 40
    assert app.clock.value < 9999


def test_an_event_without_clock_gets_one(collected):
    app, receiver, events = collected
    receiver._on_message(_message(_encode({"type": "worker-heartbeat", "hostname": "w@h"})))
    assert isinstance(events[0]["clock"], int)


def test_timestamps_of_another_zone_are_localized(collected):
    _, receiver, events = collected
    here = utcoffset()
    receiver._on_message(_message(_encode(make_event(
        "worker-heartbeat", "w@h", 1, 1, timestamp=50_000.0, offset=here - 3.0))))
    assert events[0]["timestamp"] == pytest.approx(50_000.0 + 3 * 3600)


def test_kombu_json_markers_are_decoded(collected):
    _, receiver, events = collected
    body = (b'{"type": "custom-x", "hostname": "w@h", "clock": 1, '
            b'"when": {"__type__": "datetime", "__value__": "2024-01-01T00:00:00+00:00"}}')
    receiver._on_message(_message(body))
    assert events[0]["when"].year == 2024


def test_malformed_messages_are_dropped(collected):
    _, receiver, events = collected
    receiver._on_message(_message(b"\xff{not json"))
    receiver._on_message(_message(_encode("a string")))
    receiver._on_message(_message(_encode([{"no": "type"}, make_event("task-started", "w@h",
                                                                      1, 2, {"uuid": "b"})])))
    receiver._on_message(_message(b"\x80\x04K\x01.", content_type="application/x-python-serialize"))
    assert [e["type"] for e in events] == ["task-started"]
    assert receiver.dropped == 4


def test_a_failing_callback_does_not_stop_the_stream():
    app = App("events-unit", set_as_current=False)
    seen: list[str] = []

    def on_event(event: dict) -> None:
        seen.append(event["uuid"])
        if event["uuid"] == "a":
            raise RuntimeError("consumer bug")

    receiver = EventReceiver(app, on_event)
    receiver._on_message(_message(_encode([
        make_event("task-started", "w@h", 1, 1, {"uuid": "a"}),
        make_event("task-started", "w@h", 1, 2, {"uuid": "b"})])))
    assert seen == ["a", "b"]


# the dispatcher's batching, on kombu's in-memory transport --------------------------------
class MemoryBroker:
    """A kombu ``memory://`` connection with a receiver queue bound to the event exchange."""

    def __init__(self) -> None:
        from kombu import Connection, Consumer

        self.connection = Connection("memory://")
        # A fresh name: kombu's memory broker outlives the test, and an id() can repeat.
        queue = receiver_queue(event_exchange("memory"), f"unit-{uuid.uuid4().hex}")
        self.messages: list[tuple[str, object, dict]] = []
        self.consumer = Consumer(self.connection.channel(), [queue], no_ack=True,
                                 accept=["json"], callbacks=[self._on_message])
        self.consumer.consume()
        #: What the dispatcher asked the loop's timer for: (delay, callback).
        self.timers: list[tuple[float, object]] = []

    def _on_message(self, body, message) -> None:
        self.messages.append((message.delivery_info["routing_key"], body,
                              message.properties.get("delivery_mode")))

    def call_later(self, delay: float, callback) -> None:
        self.timers.append((delay, callback))

    def read(self) -> list[tuple[str, object, dict]]:
        while True:
            try:
                self.connection.drain_events(timeout=0.01)
            except TimeoutError:
                return self.messages


@pytest.fixture
def memory():
    broker = MemoryBroker()
    yield broker
    broker.connection.release()


def _dispatcher(memory: MemoryBroker, **options):
    from tuiq.events.dispatcher import EventDispatcher

    dispatcher = EventDispatcher(App("unit", set_as_current=False), "w1@h", **options)
    dispatcher.attach(memory.connection, memory.call_later)
    return dispatcher


def test_task_events_wait_for_the_timer_then_go_as_one_list(memory):
    dispatcher = _dispatcher(memory, task_events=True, flush_delay=0.0)
    dispatcher.send_task_event("task-received", "a", name="proj.add")
    dispatcher.send_task_event("task-started", "a")
    assert memory.read() == []
    assert len(memory.timers) == 1  # one timer per batch, not per event
    delay, fire = memory.timers[0]
    assert delay == 0.0
    fire()
    [(routing_key, body, delivery_mode)] = memory.read()
    assert routing_key == "task.multi"
    assert delivery_mode == 1
    assert [e["type"] for e in body] == ["task-received", "task-started"]
    assert list(body[0])[:5] == ["hostname", "utcoffset", "pid", "clock", "uuid"]
    assert list(body[0])[-2:] == ["timestamp", "type"]
    assert body[0]["clock"] < body[1]["clock"]


def test_a_full_batch_goes_at_once(memory):
    dispatcher = _dispatcher(memory, task_events=True)
    for index in range(BUFFER_LIMIT):
        dispatcher.send_task_event("task-started", str(index))
    [(routing_key, body, _)] = memory.read()
    assert routing_key == "task.multi" and len(body) == BUFFER_LIMIT
    assert dispatcher.buffer == []
    assert (dispatcher.messages_sent, dispatcher.events_sent) == (1, BUFFER_LIMIT)


def test_worker_events_are_single_and_go_after_waiting_task_events(memory):
    dispatcher = _dispatcher(memory, task_events=True)
    dispatcher.send_task_event("task-started", "a")
    dispatcher.send_worker_event("worker-heartbeat", freq=2.0, active=1, processed=1)
    messages = memory.read()
    assert [m[0] for m in messages] == ["task.multi", "worker.heartbeat"]
    assert messages[1][1]["type"] == "worker-heartbeat"
    assert messages[1][1]["freq"] == 2.0


def test_nothing_is_buffered_without_task_events(memory):
    dispatcher = _dispatcher(memory, task_events=False)
    dispatcher.task_started(SimpleNamespace(id="a"))
    dispatcher.send_task_event("task-started", "a")
    assert dispatcher.buffer == [] and memory.timers == []
    dispatcher.send_worker_event("worker-online")
    assert [m[0] for m in memory.read()] == ["worker.online"]


def test_without_worker_events_only_task_events_go(memory):
    dispatcher = _dispatcher(memory, task_events=True, worker_events=False)
    dispatcher.send_worker_event("worker-heartbeat")
    dispatcher.send_task_event("task-started", "a")
    dispatcher.flush()
    assert [m[0] for m in memory.read()] == ["task.multi"]


def test_task_events_wait_for_a_connection(memory):
    from tuiq.events.dispatcher import EventDispatcher

    dispatcher = EventDispatcher(App("unit", set_as_current=False), "w1@h", task_events=True)
    dispatcher.send_task_event("task-started", "a")
    dispatcher.flush()
    assert dispatcher.buffer  # kept: nothing to publish on yet
    dispatcher.attach(memory.connection, memory.call_later)
    memory.timers[0][1]()
    assert [m[0] for m in memory.read()] == ["task.multi"]


def test_unregistered_task_event_has_no_traceback(memory):
    dispatcher = _dispatcher(memory, task_events=True)
    dispatcher.task_unknown(SimpleNamespace(id="a", name="proj.nope"))
    dispatcher.flush()
    [(_, [event], _)] = memory.read()
    assert event["exception"] == "NotRegistered('proj.nope')"
    assert "traceback" not in event


def test_heart_sends_online_beats_and_offline(memory):
    from tuiq.worker.heartbeat import Heart

    dispatcher = _dispatcher(memory)
    hub = SimpleNamespace(call_repeatedly=lambda interval, fn: (memory.timers.append(
        (interval, fn)), SimpleNamespace(cancel=lambda: None))[1])
    heart = Heart(dispatcher, lambda: {"active": 1, "processed": 7}, 0.5)
    heart.start(hub)
    interval, beat = memory.timers[-1]
    assert interval == 0.5
    beat()
    heart.stop()
    heart.stop()  # a second stop says nothing more
    events = [body for _, body, _ in memory.read()]
    assert [e["type"] for e in events] == ["worker-online", "worker-heartbeat",
                                           "worker-offline"]
    for event in events:
        assert (event["freq"], event["active"], event["processed"]) == (0.5, 1, 7)
        assert event["sw_ident"] == "py-tuiq" and len(event["loadavg"]) == 3
