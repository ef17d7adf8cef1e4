"""Shaping ``tuiq inspect|control`` command lines into pidbox arguments, and their errors."""

from __future__ import annotations

import pytest

from tuiq.cli.common import CliError
from tuiq.cli.purge import queue_names
from tuiq.cli.remote import parse_destination
from tuiq.control.arguments import CommandError, shape_arguments, validate_signal
from tuiq.control.client import map_positional
from tuiq.control.registry import Argument, Command


def _command(name: str, *args: Argument) -> Command:
    return Command(name=name, handler=lambda state, **kw: None, kind="control", args=args)


REVOKE = _command("revoke", Argument("task_id", required=True, variadic=True),
                  Argument("terminate", type=bool, default=False), Argument("signal"))
TERMINATE = _command("terminate", Argument("signal", required=True),
                     Argument("task_id", required=True, variadic=True))
RATE = _command("rate_limit", Argument("task_name", required=True),
                Argument("rate_limit", required=True))
GROW = _command("pool_grow", Argument("n", type=int, default=1))


def test_variadic_takes_the_rest_as_a_list():
    assert shape_arguments(REVOKE, ["a1", "b2"]) == {"task_id": ["a1", "b2"]}


def test_options_fill_arguments_after_a_variadic_one():
    assert shape_arguments(REVOKE, ["a1"], {"terminate": True, "signal": "KILL"}) == \
        {"task_id": ["a1"], "terminate": True, "signal": "KILL"}


def test_positional_order_follows_the_registry():
    assert shape_arguments(TERMINATE, ["KILL", "x", "y"]) == {"signal": "KILL",
                                                               "task_id": ["x", "y"]}


def test_only_given_arguments_are_sent():
    assert shape_arguments(GROW, []) == {}
    assert shape_arguments(GROW, ["3"]) == {"n": 3}


def test_bool_words_are_parsed_not_truthy():
    flag = _command("active", Argument("safe", type=bool, default=False))
    assert shape_arguments(flag, ["false"]) == {"safe": False}
    assert shape_arguments(flag, ["yes"]) == {"safe": True}


@pytest.mark.parametrize(("command", "words", "options", "message"), [
    (REVOKE, [], {}, "revoke: missing argument task_id"),
    (REVOKE, ["bad id"], {}, "malformed task id: 'bad id'"),
    (REVOKE, [" "], {}, "malformed task id"),
    (REVOKE, ["ok-id"], {"signal": "NOPE"}, "unknown signal: 'NOPE'"),
    (RATE, ["proj.add", "10/x"], {}, "malformed rate limit: '10/x'"),
    (RATE, ["proj.add", "-5"], {}, "malformed rate limit"),
    (RATE, ["proj.add"], {}, "missing argument rate_limit"),
    (GROW, ["many"], {}, "pool_grow: invalid n: 'many' (expected a whole number)"),
    (GROW, ["1", "2"], {}, "pool_grow takes at most 1 argument(s), got extra: 2"),
    (GROW, ["1"], {"n": "2"}, "n given twice"),
])
def test_bad_command_lines_are_one_line_errors(command, words, options, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        shape_arguments(command, words, options)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("rate", ["10/s", "100/m", "1000/h", "5", "0"])
def test_valid_rate_limits_pass(rate):
    assert shape_arguments(RATE, ["proj.add", rate]) == {"task_name": "proj.add",
                                                          "rate_limit": rate}


@pytest.mark.parametrize("name", ["TERM", "SIGKILL", "kill", "9"])
def test_signal_names_and_numbers(name):
    assert validate_signal(name) == name


def test_destinations_repeat_or_comma_separate():
    assert parse_destination(("a@h,b@h", "c@h", "a@h")) == ["a@h", "b@h", "c@h"]
    assert parse_destination(()) is None
    with pytest.raises(CliError, match="at least one node"):
        parse_destination((" , ",))


def test_purge_queue_names():
    class FakeApp:
        def queues(self):
            return {"celery": None, "other": None}

    assert queue_names(("a,b", "a"), FakeApp()) == ["a", "b"]
    assert queue_names((), FakeApp()) == ["celery", "other"]
    with pytest.raises(CliError):
        queue_names((",",), FakeApp())


def test_python_api_maps_positionals_by_the_registry():
    assert map_positional("revoke", ("id1", "id2"), {"terminate": True}) == \
        {"task_id": ["id1", "id2"], "terminate": True}
    assert map_positional("stats", (), {}) == {}
    with pytest.raises(TypeError, match="unknown command"):
        map_positional("not_registered_anywhere", ("x",), {})


def test_a_discovering_collector_stops_once_every_receiver_replied():
    from tuiq.control.client import _Collector

    collector = _Collector(None, None, discovering=True, settle=30.0, started=0.0)
    collector.receivers = 2
    collector.on_reply({"a@h": {"ok": "pong"}})
    assert collector.wake_at(deadline=1e12) is not None
    collector.on_reply({"b@h": {"ok": "pong"}})
    assert collector.wake_at(deadline=1e12) is None


def test_a_discovering_collector_without_a_count_waits_for_the_settle():
    import time

    from tuiq.control.client import _Collector

    collector = _Collector(None, None, discovering=True, settle=30.0,
                           started=time.monotonic())
    collector.on_reply({"a@h": {"ok": "pong"}})
    assert collector.wake_at(deadline=1e12) is not None
