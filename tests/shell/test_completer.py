"""The completer fed prompt-toolkit Documents: every kind of name, descriptions, fuzzy order."""

from __future__ import annotations

import signal

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from tuiq import App
from tuiq.shell.completer import ShellCompleter, quoted
from tuiq.shell.python import PythonCompleter, namespace


def complete(completer, text: str):
    return list(completer.get_completions(Document(text, len(text)),
                                          CompleteEvent(completion_requested=True)))


def texts(completions) -> list[str]:
    return [c.text for c in completions]


@pytest.fixture
def completer(table, names):
    return ShellCompleter(table, lambda: names.snapshot)


def test_command_names_with_their_help(completer):
    found = complete(completer, "insp")
    assert texts(found)[0] == "inspect"
    assert found[0].display_meta_text == "Ask workers about themselves (no side effects)."
    assert found[0].start_position == -4
    listed = texts(complete(completer, ""))
    for name in ("call", "result", "purge", "nodes", "use", "events", "json", "python",
                 "help", "exit", "inspect", "control", "ping", "revoke", "stats"):
        assert name in listed
    # Aliases and hidden commands are accepted but not offered.
    assert "quit" not in listed and "dump_active" not in listed and "hello" not in listed


def test_group_commands_with_their_help(completer):
    found = {c.text: c.display_meta_text for c in complete(completer, "inspect ")}
    assert found["ping"] == "Ping the worker."
    assert "revoke" not in found  # a control command
    control = texts(complete(completer, "control "))
    assert "revoke" in control and "stats" not in control


def test_option_names_skip_those_given(completer):
    found = {c.text: c.display_meta_text for c in complete(completer, "inspect ping --")}
    assert set(found) == {"--destination", "--timeout", "--limit", "--json"}
    assert found["--timeout"] == "seconds to wait for nodes that stay silent"
    rest = texts(complete(completer, "inspect ping -t 2 -d w1@alpha --"))
    # -d may be repeated; -t may not.
    assert "--timeout" not in rest and "--destination" in rest
    assert texts(complete(completer, "revoke abc --te"))[0] == "--terminate"
    call = texts(complete(completer, "call proj.add 2 3 --"))
    assert {"--countdown", "--eta", "--queue", "--expires", "--priority"} <= set(call)


def test_node_names_online_first_with_status(completer):
    found = complete(completer, "inspect ping -d ")
    assert texts(found) == ["w1@alpha", "w2@beta"]
    assert found[0].display_meta_text.startswith("online, seen ")
    assert found[1].display_meta_text.startswith("offline, seen ")


def test_node_after_a_comma_replaces_only_the_last_name(completer):
    found = complete(completer, "stats -d w1@alpha,w2")
    assert texts(found) == ["w2@beta"]
    assert found[0].start_position == -2


def test_use_offers_all_then_nodes(completer):
    assert texts(complete(completer, "use ")) == ["all", "w1@alpha", "w2@beta"]
    assert texts(complete(completer, "use w1@alpha ")) == ["all", "w1@alpha", "w2@beta"]


def test_task_names(completer):
    assert texts(complete(completer, "call ")) == ["proj.add", "proj.mul", "proj.send_email"]
    assert texts(complete(completer, "rate_limit mu")) == ["proj.mul"]
    # Options before it do not move the slot: the first positional is still the task name.
    assert texts(complete(completer, "time_limit --soft 1 pro")) == \
        ["proj.add", "proj.mul", "proj.send_email"]
    assert texts(complete(completer, "time_limit proj.add 1")) == []  # a number, no names


def test_queue_names(completer):
    assert texts(complete(completer, "call proj.add -Q ")) == ["celery", "emails"]
    assert texts(complete(completer, "purge em")) == ["emails"]
    assert texts(complete(completer, "add_consumer ")) == ["celery", "emails"]


def test_signal_names_with_descriptions(completer):
    found = complete(completer, "revoke abc --signal ")
    assert {f"SIG{name}" for name in ("TERM", "KILL", "INT", "HUP")} <= set(texts(found))
    kill = next(c for c in found if c.text == "SIGKILL")
    assert kill.display_meta_text == f"{signal.SIGKILL.value}: {signal.strsignal(signal.SIGKILL)}"
    assert texts(complete(completer, "terminate kil"))[0] == "SIGKILL"


def test_task_ids_most_recent_first_with_name_and_source(completer):
    found = complete(completer, "result ")
    assert texts(found) == ["2222-new", "1111-old"]
    assert found[0].display_meta_text.startswith("proj.mul, event ")
    assert found[1].display_meta_text.startswith("proj.add, reply ")
    assert texts(complete(completer, "revoke 2222-new ")) == ["2222-new", "1111-old"]
    assert texts(complete(completer, "query_task 11")) == ["1111-old"]
    # Ids match by prefix or substring only: "2n" is in neither, though its letters are.
    assert texts(complete(completer, "result new")) == ["2222-new"]
    assert texts(complete(completer, "result 2n")) == []


def test_new_names_are_seen_by_the_next_completion(completer, names):
    before = names.snapshot
    names.add_tasks(["proj.late_arrival"])
    assert "proj.late_arrival" in texts(complete(completer, "call "))
    # The snapshot read before the change is untouched: changes swap in a new one.
    assert "proj.late_arrival" not in before.tasks


def test_booleans_switches_and_help_topics(completer):
    assert texts(complete(completer, "active ")) == ["true", "false"]
    assert texts(complete(completer, "json o")) == ["on", "off"]
    assert "inspect" in texts(complete(completer, "help "))
    assert "ping" in texts(complete(completer, "help inspect "))


def test_fuzzy_matching_ranks_prefix_then_substring_then_scattered(completer):
    assert texts(complete(completer, "control rlim"))[0] == "rate_limit"
    ranked = texts(complete(completer, "inspect re"))
    # Prefixes first (shorter first), then names that contain "re".
    assert ranked[:4] == ["report", "revoked", "reserved", "registered"]
    assert "active_queues" not in ranked
    assert texts(complete(completer, "call SEND"))[0] == "proj.send_email"
    assert texts(complete(completer, "call pse")) == ["proj.send_email"]


def test_candidates_are_quoted_as_a_shell_needs(table, names):
    names.add_tasks(["proj.two words"])
    completer = ShellCompleter(table, lambda: names.snapshot)
    assert "'proj.two words'" in texts(complete(completer, "call proj.two"))
    found = complete(completer, "call 'proj.two")
    assert texts(found) == ["'proj.two words'"]
    assert found[0].start_position == -len("'proj.two")
    assert texts(complete(completer, 'call "proj.tw')) == ['"proj.two words"']
    assert quoted("it's", None) == "'it'\"'\"'s'"
    assert quoted('a "b"', '"') == '"a \\"b\\""'


def test_python_lines_complete_from_the_namespace(table, names):
    app = App("shelltest", set_as_current=False)

    @app.task(name="proj.add")
    def add(x, y):
        return x + y

    python = PythonCompleter(namespace(app))
    completer = ShellCompleter(table, lambda: names.snapshot, python)
    assert "app.tasks" in texts(complete(completer, "!app.ta"))
    assert "add" in texts(complete(completer, "!ad"))
    assert "chord" in texts(complete(python, "cho"))


def test_user_defined_commands_complete_with_their_help(names):
    import tests.support.usercmds  # noqa: F401  (registers user_hello and others)
    from tuiq.shell.specs import build_table

    completer = ShellCompleter(build_table(), lambda: names.snapshot)
    found = {c.text: c.display_meta_text for c in complete(completer, "inspect user_")}
    assert found["user_hello"] == "Say hello from a user-defined command."
    assert texts(complete(completer, "user_hello --gr")) == ["--greeting"]
    assert "increase_prefetch_count" in texts(complete(completer, "control incr"))
