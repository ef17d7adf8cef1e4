"""Shell commands that need no broker: help, json, use all, Python; every error is one line."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tuiq import App
from tuiq.shell.commands import Shell
from tuiq.shell.errors import ExitShell


class Captured:
    """A shell writing to memory: plain stdout, coloured stderr."""

    def __init__(self, confirm=None) -> None:
        self.app = App("shelltest", set_as_current=False)

        @self.app.task(name="proj.add")
        def add(x, y):
            return x + y

        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.shell = Shell(self.app, out=Console(file=self.stdout, width=100),
                           err=Console(file=self.stderr, force_terminal=True, soft_wrap=True),
                           confirm=confirm)

    def run(self, line: str) -> bool:
        return self.shell.run_line(line)

    def error_lines(self) -> list[str]:
        return self.stderr.getvalue().splitlines()


@pytest.fixture
def captured():
    return Captured()


@pytest.mark.parametrize(("line", "message"), [
    ("bogus", "Error: unknown command: 'bogus' (type help for the list)"),
    ("result 'not an id'", "Error: malformed task id: 'not an id'"),
    ("revoke ok-id 'bad id'", "Error: malformed task id: 'bad id'"),
    ("call proj.add 'unclosed", "Error: unclosed ' quote"),
    ("rate_limit proj.add fast", "Error: malformed rate limit: 'fast' (use e.g. 10/s, 100/m, "
                                 "1000/h, or 0 to disable)"),
    ("revoke abc --signal SIGWHAT", "Error: unknown signal: 'SIGWHAT' (use e.g. TERM, KILL, INT)"),
    ("pool_grow lots", "Error: pool_grow: invalid n: 'lots' (expected a positive whole number)"),
    ("pool_grow -5", "Error: pool_grow: invalid n: '-5' (expected a positive whole number)"),
    ("terminate", "Error: terminate: missing argument signal (usage: terminate <signal> "
                  "<task_id...>)"),
    ("inspect ping -t soon", "Error: --timeout must be a number of seconds, not 'soon'"),
    ("json maybe", "Error: json: expected on or off, not 'maybe'"),
    ("use all w1@x", "Error: use: 'all' cannot be mixed with node names"),
    ("call proj.add --eta tomorrow", "Error: --eta is not an ISO-8601 time: 'tomorrow'"),
    ("purge", "Error: purge asks for confirmation: add -f/--force when not interactive"),
    ("python", "Error: python mode needs a terminal: use !EXPR or python EXPR"),
    ("help nothing", "Error: help: no such command: 'nothing'"),
])
def test_each_error_is_one_red_line_and_the_shell_goes_on(captured, line, message):
    assert captured.run(line) is False
    assert captured.error_lines() == [f"\x1b[31m{message}\x1b[0m"]
    assert captured.stdout.getvalue() == ""
    assert captured.run("json on") is True


def test_json_toggles(captured):
    assert captured.run("json") and captured.shell.json_mode
    assert captured.run("json off") and not captured.shell.json_mode
    assert captured.run("json ON") and captured.shell.json_mode
    # Remarks about the shell go to stderr: stdout keeps only what commands answer.
    assert captured.stdout.getvalue() == ""
    assert captured.stderr.getvalue().splitlines() == \
        ["json output on", "json output off", "json output on"]


def test_use_all_and_showing_the_destination(captured):
    captured.shell.destination = ["w1@x"]
    assert captured.run("use")
    assert captured.run("use all")
    assert captured.shell.destination is None
    assert captured.stdout.getvalue() == ""
    assert captured.stderr.getvalue().splitlines() == \
        ["destination: w1@x", "destination: all nodes"]


def test_help_lists_every_kind_of_command_and_one_commands_options(captured):
    assert captured.run("help")
    text = captured.stdout.getvalue()
    for name in ("call", "result", "purge", "nodes", "use", "events", "python", "ping",
                 "registered", "revoke", "rate_limit"):
        assert f"  {name} " in text
    assert captured.run("help revoke")
    text = captured.stdout.getvalue()
    assert "usage: control revoke <task_id...> [terminate] [signal] [OPTIONS]" in text
    assert "--signal SIGNAL" in text and "-d/--destination NODES" in text
    assert captured.run("help inspect")
    assert "inspect commands: Ask workers about themselves" in captured.stdout.getvalue()


def test_python_lines_see_the_app_tasks_and_canvas(captured):
    assert captured.run("!app.main")
    assert captured.run("!add.name")
    assert captured.run("python x = add.s(2, 3)")
    assert captured.run("!type(x).__name__, chain.__name__")
    assert captured.run("!_")  # the last value
    assert captured.stdout.getvalue().splitlines() == [
        "'shelltest'", "'proj.add'", "('Signature', 'chain')", "('Signature', 'chain')"]


def test_python_errors_are_one_line(captured):
    assert captured.run("!1/0") is False
    assert captured.run("!import nosuchmodule_xyz") is False
    assert captured.run("!def (") is False
    assert [line.replace("\x1b[31m", "").replace("\x1b[0m", "") for line in
            captured.error_lines()] == [
        "Error: ZeroDivisionError: division by zero",
        "Error: ModuleNotFoundError: No module named 'nosuchmodule_xyz'",
        "Error: SyntaxError: invalid syntax",
    ]


def test_python_mode_until_exit():
    captured = Captured(confirm=lambda question: True)
    shell = captured.shell
    assert captured.run("python") and shell.python_mode
    assert captured.run("1 + 1")
    assert captured.run("exit()") and not shell.python_mode
    assert captured.run("python") and captured.run("exit") and not shell.python_mode
    assert captured.stdout.getvalue().splitlines() == ["2"]


def test_exit_and_quit_leave(captured):
    for line in ("exit", "quit"):
        with pytest.raises(ExitShell):
            captured.run(line)


def test_blank_lines_and_comments_do_nothing(captured):
    assert captured.run("") and captured.run("   ") and captured.run("# a note")
    assert captured.stdout.getvalue() == captured.stderr.getvalue() == ""


def test_purge_declined_deletes_nothing():
    asked = []
    captured = Captured(confirm=lambda question: asked.append(question) or False)
    assert captured.run("purge q1 q2")
    assert asked == ["Delete every message waiting in 2 queue(s): q1, q2?"]
    assert captured.stdout.getvalue() == "Nothing purged.\n"


def test_a_lost_broker_shows_in_the_toolbar_at_once_instead_of_a_stale_count(captured):
    from tuiq.shell.repl import toolbar_text

    def toolbar() -> str:
        return "".join(text for _, text in toolbar_text(captured.shell, "redis://x"))

    assert "0 nodes online" in toolbar()
    # Nothing listens on port 1: the command fails in one line and the toolbar says why.
    captured.app.override_broker("redis://127.0.0.1:1/0")
    assert not captured.run("inspect ping")
    assert len(captured.error_lines()) == 1
    assert "broker unreachable" in toolbar()
    assert "online" not in toolbar()
    # Replies from the broker again clear it.
    captured.shell.names.note_replies("ping", {"w1@x": {"ok": "pong"}})
    assert "1 node online" in toolbar()


def test_clear_clears_a_terminal_and_writes_nothing_to_a_pipe():
    terminal = io.StringIO()
    app = App("clear-test", broker="memory://", backend="cache+memory://", set_as_current=False)
    shell = Shell(app, out=Console(file=terminal, force_terminal=True),
                  err=Console(file=io.StringIO()))
    assert shell.run_line("clear") and shell.run_line("cls")
    assert terminal.getvalue().count("\x1b[2J") == 2
    piped = Captured()
    assert piped.run("clear")
    assert piped.stdout.getvalue() == ""


def test_call_of_a_name_the_app_does_not_register_is_refused_unless_forced():
    captured = Captured()
    captured.shell.check_tasks = True
    assert not captured.run("call proj.ad 1 2")
    assert captured.error_lines() == [
        "\x1b[31mError: unknown task 'proj.ad': the app does not register it; did you mean "
        "proj.add? (call --force sends it anyway)\x1b[0m"]
    assert captured.stdout.getvalue() == ""


def test_call_force_sends_a_name_the_app_does_not_register():
    out = io.StringIO()
    app = App("force-test", broker="memory://", backend="cache+memory://", set_as_current=False)
    shell = Shell(app, out=Console(file=out), err=Console(file=io.StringIO()), check_tasks=True)
    assert shell.run_line("call elsewhere.task 1 --force")
    assert len(out.getvalue().split()) == 1  # the task id
