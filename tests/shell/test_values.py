"""Typed words to values: seconds, counts, times, node lists, a task's arguments; fuzzy ranks."""

from __future__ import annotations

from datetime import datetime

import pytest

from tuiq.control.arguments import CommandError
from tuiq.shell.fuzzy import fuzzy_filter, match_key
from tuiq.shell.values import (
    call_arguments,
    split_nodes,
    to_datetime,
    to_expires,
    to_int,
    to_seconds,
)


def test_call_arguments_are_json_or_text_with_keywords():
    args, kwargs = call_arguments(["2", "3.5", "hello", "[1, 2]", "null", "x=1", "y=two words"])
    assert args == [2, 3.5, "hello", [1, 2], None]
    assert kwargs == {"x": 1, "y": "two words"}


def test_call_arguments_with_json_options():
    args, kwargs = call_arguments(["3"], '[1, 2]', '{"a": true}')
    assert args == [1, 2, 3] and kwargs == {"a": True}


@pytest.mark.parametrize(("words", "args_json", "kwargs_json", "message"), [
    (["x=1", "2"], None, None, "call: positional argument '2' after keyword arguments"),
    (["x=1", "x=2"], None, None, "call: keyword argument x given twice"),
    ([], "[1,", None, "--args is not valid JSON: Expecting value (at column 4)"),
    ([], '{"a": 1}', None, "--args must be a JSON array"),
    ([], None, "[1]", "--kwargs must be a JSON object"),
])
def test_bad_call_arguments(words, args_json, kwargs_json, message):
    with pytest.raises(CommandError) as info:
        call_arguments(words, args_json, kwargs_json)
    assert str(info.value) == message


def test_numbers_and_times():
    assert to_seconds(None, 1.0, "-t") == 1.0
    assert to_seconds("2.5", 1.0, "-t") == 2.5
    for bad in ("soon", "-1", "nan", "inf"):
        with pytest.raises(CommandError, match="^-t must be a"):
            to_seconds(bad, 1.0, "-t")
    assert to_int("3", "--limit", 1) == 3
    with pytest.raises(CommandError, match=r"^--priority must be 0\.\.255, not 300$"):
        to_int("300", "--priority", 0, 255)
    with pytest.raises(CommandError, match="^--limit must be a whole number"):
        to_int("many", "--limit", 1)
    assert to_datetime("2030-01-02T03:04:05", "--eta") == datetime(2030, 1, 2, 3, 4, 5)
    with pytest.raises(CommandError, match="^--eta is not an ISO-8601 time"):
        to_datetime("tomorrow", "--eta")
    assert to_expires("60") == 60.0
    assert to_expires("2030-01-02T03:04:05") == datetime(2030, 1, 2, 3, 4, 5)
    with pytest.raises(CommandError, match="^--expires must be seconds or ISO-8601"):
        to_expires("later")


def test_split_nodes():
    assert split_nodes(["a@x", "b@x, c@x", "a@x", " , "]) == ["a@x", "b@x", "c@x"]


def test_fuzzy_ranking():
    assert match_key("", "anything") == (0, 0, 0)
    assert match_key("xyz", "rate_limit") is None
    # A prefix first; substrings at the same place keep their order.
    assert fuzzy_filter("lim", ["time_limit", "limit", "rate_limit", "pool"]) == \
        ["limit", "time_limit", "rate_limit"]
    assert fuzzy_filter("lim", ["unlimited", "rate_limit"]) == ["unlimited", "rate_limit"]
    # Scattered letters: the tightest span wins.
    assert fuzzy_filter("rl", ["revoked", "rate_limit", "pool_restart"])[0] == "rate_limit"
    assert fuzzy_filter("rl", ["rate_limit", "url"], scattered=False) == ["url"]
    # Ties keep the given order (task ids: most recent first).
    assert fuzzy_filter("", ["b", "a", "c"]) == ["b", "a", "c"]
