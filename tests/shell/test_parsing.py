"""Reading shell lines: shell-style words, command resolution, options, and what is completed."""

from __future__ import annotations

import pytest

from tuiq.control.arguments import CommandError
from tuiq.shell.parsing import (
    analyze,
    check_positionals,
    parse,
    split_line,
    tokenize,
)
from tuiq.shell.specs import Kind


# -- words ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("line", "words"), [
    ("inspect ping", ["inspect", "ping"]),
    ("  call   proj.add  2 3 ", ["call", "proj.add", "2", "3"]),
    ("call proj.echo 'two words'", ["call", "proj.echo", "two words"]),
    ('call proj.echo "say \\"hi\\""', ["call", "proj.echo", 'say "hi"']),
    ("call proj.echo it\\'s", ["call", "proj.echo", "it's"]),
    ("call proj.echo 'a \\ b'", ["call", "proj.echo", "a \\ b"]),
    ('call proj.echo ""', ["call", "proj.echo", ""]),
    ("call proj.echo pre'fix suf'fix", ["call", "proj.echo", "prefix suffix"]),
    ("call proj.echo two\\ words", ["call", "proj.echo", "two words"]),
    ('call proj.echo \'{"x": 1}\'', ["call", "proj.echo", '{"x": 1}']),
])
def test_split_line_as_a_shell_does(line, words):
    assert split_line(line) == words


@pytest.mark.parametrize("line", ["call proj.echo 'open", 'call proj.echo "open'])
def test_unclosed_quote_is_one_line_error(line):
    with pytest.raises(CommandError) as info:
        split_line(line)
    assert str(info.value) in ("unclosed ' quote", 'unclosed " quote')


def test_tokenize_reports_the_word_being_typed():
    tokens, current = tokenize("call 'proj.se")
    assert [t.value for t in tokens] == ["call"]
    assert current is not None
    assert (current.value, current.start, current.quote) == ("proj.se", 5, "'")
    tokens, current = tokenize("call ")
    assert [t.value for t in tokens] == ["call"] and current is None


# -- commands and options -----------------------------------------------------------------------
def test_group_and_bare_names_reach_the_same_command(table):
    grouped = parse(table, "control revoke abc --terminate --signal KILL")
    bare = parse(table, "revoke abc --terminate --signal=KILL")
    for parsed in (grouped, bare):
        assert parsed.spec.name == "revoke" and parsed.spec.kind == "control"
        assert parsed.positionals == ["abc"]
        assert parsed.options == {"terminate": True, "signal": "KILL"}


def test_aliases_resolve(table):
    assert parse(table, "inspect dump_active").spec.name == "active"
    assert parse(table, "quit").spec.name == "exit"


def test_repeated_destination_collects_every_value(table):
    parsed = parse(table, "inspect stats -d a@x -d b@x,c@x -t 2.5 -j")
    assert parsed.options == {"destination": ["a@x", "b@x,c@x"], "timeout": "2.5",
                              "json": True}


def test_double_dash_ends_options_and_negative_numbers_are_arguments(table):
    parsed = parse(table, "call proj.add -1 -2.5 -- --not-an-option")
    assert parsed.positionals == ["proj.add", "-1", "-2.5", "--not-an-option"]
    assert parsed.options == {}


@pytest.mark.parametrize(("line", "message"), [
    ("bogus", "unknown command: 'bogus' (type help for the list)"),
    ("inspect", "inspect: which command? (help inspect lists them)"),
    ("inspect nope", "unknown inspect command: 'nope' (help inspect lists them)"),
    ("inspect revoke x", "revoke is a control command: use control revoke"),
    ("control stats", "stats is an inspect command: use inspect stats"),
    ("inspect ping --bogus", "ping: unknown option --bogus (help inspect ping lists them)"),
    ("inspect ping -t", "ping: -t needs a value (SECONDS)"),
    ("inspect ping --json=yes", "ping: --json takes no value"),
    ("inspect ping -t 1 -t 2", "ping: -t given twice"),
    ("nodes --wat", "nodes: unknown option --wat (help nodes lists them)"),
])
def test_bad_lines_are_one_line_errors(table, line, message):
    with pytest.raises(CommandError) as info:
        parse(table, line)
    assert str(info.value) == message


def test_shell_commands_check_their_positionals(table):
    with pytest.raises(CommandError, match=r"^result: missing argument task_id \(usage: "):
        check_positionals(parse(table, "result"))
    with pytest.raises(CommandError, match="^nodes takes at most 0 argument"):
        check_positionals(parse(table, "nodes extra"))
    check_positionals(parse(table, "call proj.add 1 2 3"))


# -- what the cursor is on ------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "kind", "word"), [
    ("", Kind.COMMAND, ""),
    ("ins", Kind.COMMAND, "ins"),
    ("inspect ", Kind.COMMAND, ""),
    ("inspect pi", Kind.COMMAND, "pi"),
    ("inspect ping ", Kind.OPTION, ""),
    ("inspect ping --ti", Kind.OPTION, "--ti"),
    ("inspect ping -d ", Kind.NODE, ""),
    ("inspect ping --destination=w1", Kind.NODE, "w1"),
    ("inspect ping -t 2 -d w", Kind.NODE, "w"),
    ("use ", Kind.NODES_OR_ALL, ""),
    ("use w1@alpha ", Kind.NODES_OR_ALL, ""),
    ("call ", Kind.TASK, ""),
    ("call proj.a", Kind.TASK, "proj.a"),
    ("call proj.add ", Kind.OPTION, ""),
    ("call proj.add 2", Kind.NONE, "2"),
    ("call proj.add 2 -Q ", Kind.QUEUE, ""),
    ("control rate_limit ", Kind.TASK, ""),
    ("rate_limit proj.add ", Kind.OPTION, ""),
    ("rate_limit proj.add 1", Kind.NONE, "1"),
    ("add_consumer ", Kind.QUEUE, ""),
    ("purge ", Kind.QUEUE, ""),
    ("purge celery ", Kind.QUEUE, ""),
    ("revoke ", Kind.TASK_ID, ""),
    ("revoke abc ", Kind.TASK_ID, ""),
    ("revoke abc --signal ", Kind.SIGNAL, ""),
    ("terminate ", Kind.SIGNAL, ""),
    ("terminate KILL ", Kind.TASK_ID, ""),
    ("result ", Kind.TASK_ID, ""),
    ("query_task 1 2 ", Kind.TASK_ID, ""),
    ("active ", Kind.BOOL, ""),
    ("json ", Kind.SWITCH, ""),
    ("help ", Kind.COMMAND, ""),
    ("help inspect ", Kind.COMMAND, ""),
    ("help inspect ping ", Kind.NONE, ""),
    ("bogus ", Kind.NONE, ""),
    ("!app.ta", Kind.NONE, "!app.ta"),
])
def test_analyze(table, text, kind, word):
    suggestion = analyze(text, table)
    assert (suggestion.kind, suggestion.word) == (kind, word)


def test_analyze_knows_the_group_and_used_options(table):
    suggestion = analyze("inspect ", table)
    assert suggestion.spec is not None and suggestion.spec.name == "inspect"
    suggestion = analyze("inspect ping -j -t 1 --", table)
    assert suggestion.kind == Kind.OPTION
    assert suggestion.used == {"json", "timeout"}


def test_analyze_inside_quotes(table):
    suggestion = analyze("call 'proj.send", table)
    assert (suggestion.kind, suggestion.word, suggestion.start, suggestion.quote) == \
        (Kind.TASK, "proj.send", 5, "'")
    # A quoted word is a finished argument once closed, however many spaces it holds.
    assert analyze("call 'a b' ", table).kind == Kind.OPTION
