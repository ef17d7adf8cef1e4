"""Rendering control replies: each reply shape, silent nodes, JSON in Celery's shapes."""

from __future__ import annotations

import json

from rich.console import Console

from tuiq.control.client import Replies
from tuiq.control.render import flatten, print_replies, to_json

TASK = {"id": "c70f-1", "name": "proj.slow", "args": [6], "kwargs": {}, "type": "proj.slow",
        "hostname": "w1@vm", "time_start": 1000.0, "acknowledged": True,
        "delivery_info": {"routing_key": "celery"}, "worker_pid": 7899}


def _show(command, replies, missing=()):
    console = Console(width=200, record=True, color_system=None)
    print_replies(console, command, replies, list(missing))
    return console.export_text()


def test_status_replies_are_one_table_with_errors_kept():
    text = _show("rate_limit", {"w1@h": {"ok": "new rate limit set successfully"},
                                "w2@h": {"error": "unknown task"}})
    assert "w1@h" in text and "new rate limit set successfully" in text
    assert "w2@h" in text and "error" in text and "unknown task" in text


def test_silent_nodes_are_listed():
    assert "No reply from: w3@h" in _show("ping", {"w1@h": {"ok": "pong"}}, ["w3@h"])


def test_task_lists_show_id_name_args_and_pid():
    text = _show("active", {"w1@vm": [TASK]})
    assert "w1@vm: active (1)" in text
    for cell in ("c70f-1", "proj.slow", "[6]", "7899"):
        assert cell in text


def test_scheduled_shows_eta_and_request():
    text = _show("scheduled", {"w1@vm": [{"eta": "2030-01-01T00:00:00", "priority": 6,
                                          "request": TASK}]})
    assert "2030-01-01T00:00:00" in text and "c70f-1" in text


def test_stats_are_flattened_key_values():
    text = _show("stats", {"w1@vm": {"pid": 1, "pool": {"max-concurrency": 2},
                                     "total": {"proj.add": 3}}})
    assert "pool.max-concurrency" in text and "total.proj.add" in text


def test_queues_registered_and_query_task():
    queue = {"name": "celery", "exchange": {"name": "celery", "type": "direct"},
             "routing_key": "celery"}
    assert "direct" in _show("active_queues", {"w": [queue]})
    registered = "proj.add [rate_limit=10/s]"
    assert registered in _show("registered", {"w": [registered]})
    assert "reserved" in _show("query_task", {"w": {"c70f-1": ["reserved", TASK]}})


def test_null_and_empty_replies_do_not_break():
    assert "w1@h" in _show("heartbeat", {"w1@h": None})
    assert "w1@h: revoked (0)" in _show("revoked", {"w1@h": []})


def test_flatten_keeps_empty_dicts_and_lists_as_values():
    assert flatten({"a": {"b": 1, "c": {}}, "d": [1, 2]}) == \
        [("a.b", 1), ("a.c", {}), ("d", [1, 2])]


def test_json_shapes_match_celery():
    replies = Replies([("w1@h", {"ok": "pong"}), ("w2@h", {"ok": "pong"})], missing=["w3@h"])
    assert json.loads(to_json(replies)) == {"w1@h": {"ok": "pong"}, "w2@h": {"ok": "pong"}}
    assert json.loads(to_json(replies, as_list=True)) == [{"w1@h": {"ok": "pong"}},
                                                          {"w2@h": {"ok": "pong"}}]
    assert replies.as_list() == [{"w1@h": {"ok": "pong"}}, {"w2@h": {"ok": "pong"}}]
    assert replies.missing == ["w3@h"]
    assert Replies([("a", {"error": "boom"}), ("b", {"ok": 1})]).errors() == {"a": "boom"}


def test_replies_say_what_went_wrong_in_one_line():
    from tuiq.control.client import Replies

    assert Replies([("a@h", {"ok": "pong"})]).problem(1.0) is None
    assert Replies().problem(2.5) == "no node replied within 2.5s"
    assert Replies([("a@h", {"ok": "pong"})], missing=["b@h"]).problem(1.0) == \
        "no reply from b@h"
    # Nodes named with -d that all stayed silent are named too.
    assert Replies(missing=["b@h", "c@h"]).problem(1.0) == "no reply from b@h, c@h"
    assert Replies([("a@h", {"error": "nope"}), ("b@h", {"ok": 1})]).problem(1.0) == \
        "1 node(s) replied with an error"


def test_tables_written_to_a_pipe_wrap_no_cell(capsys):
    from tuiq.control.render import output_console, print_replies

    task_id = "83d66699-a236-4ae3-bb62-6cc3c52af6f9"
    reply = [{"id": task_id, "name": "proj.tasks.a_rather_long_task_name_for_one_cell",
              "args": [1, 2, "an argument long enough to push the row past 80 columns"],
              "kwargs": {}, "hostname": "w1@host", "time_start": None,
              "acknowledged": True, "delivery_info": {}, "worker_pid": 7}]
    print_replies(output_console(), "active", {"w1@host": reply})
    lines = capsys.readouterr().out.splitlines()
    row = next(line for line in lines if task_id in line)
    assert "proj.tasks.a_rather_long_task_name_for_one_cell" in row
    assert len(row) > 80


def test_stats_floats_are_shown_rounded():
    from tuiq.control.render import flatten, kv_table

    table = kv_table("w1@host: stats", {"rusage": {"utime": 0.44407599999999997, "nvcsw": 12},
                                        "time": 1733616000.123456})
    assert flatten({"rusage": {"utime": 1.5}}) == [("rusage.utime", 1.5)]
    values = [str(cell) for cell in table.columns[1]._cells]
    assert values == ["0.444076", "12", "1733616000.123456"]


def test_an_empty_conf_reply_says_how_to_see_the_defaults():
    from rich.console import Console

    from tuiq.control.render import print_replies

    console = Console(width=120, record=True)
    print_replies(console, "conf", {"w1@host": {}})
    assert console.export_text().splitlines()[:2] == [
        "w1@host: conf (0)", "every setting has its default value (conf true lists them all)"]
