"""``tuiq shell`` end to end: the REPL in a pseudo-terminal, and scripts, against a real worker.

The REPL runs in a pseudo-terminal that answers cursor-position requests like
a real terminal, so prompt-toolkit draws its completion menu and bottom
toolbar. Tests type, press Tab, run commands and read the screen. The worker
runs with task events (``-E``) on the embedded broker and on a Redis database
of its own, so no other test's nodes answer its broadcasts.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.helpers import tuiq_cli
from tests.support.brokers import broker_urls, unique
from tests.support.workers import ROOT, client_app, start_worker

#: Redis databases of these tests (broker, results): no other test uses them.
REDIS_DB = 5
CURSOR_POSITION_REQUEST = b"\x1b[6n"
PROMPT_ALL = "tuiq [all]>"


# -- a pseudo-terminal ----------------------------------------------------------------------------
CSI = re.compile(r"\x1b\[([0-9;?]*)([@-~])")
OTHER_ESCAPE = re.compile(r"\x1b(\][^\x07]*\x07|[()][A-Za-z0-9]|[=>78DEHMc])")


class Screen:
    """What a terminal shows for a stream of output: just the escapes prompt-toolkit and rich use.

    prompt-toolkit redraws only the cells that changed, so the stream itself is
    not readable text; replaying it onto a grid of lines is. Lines that scroll
    off the top are kept, so earlier output stays searchable.
    """

    def __init__(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        self.lines: list[list[str]] = [[]]
        self.row = self.col = 0
        self.autowrap = True

    def feed(self, text: str) -> None:
        """Apply ``text`` (characters and escape sequences) to the grid."""
        index = 0
        while index < len(text):
            char = text[index]
            if char == "\x1b":
                csi = CSI.match(text, index)
                if csi:
                    self._csi(csi.group(1), csi.group(2))
                    index = csi.end()
                    continue
                other = OTHER_ESCAPE.match(text, index)
                index = other.end() if other else index + 1
                continue
            if char == "\r":
                self.col = 0
            elif char == "\n":
                self._move_to(self.row + 1)
            elif char == "\x08":
                self.col = max(0, self.col - 1)
            elif char >= " ":
                if self.col >= self.cols and self.autowrap:
                    self._move_to(self.row + 1)
                    self.col = 0
                line = self.lines[self.row]
                column = min(self.col, self.cols - 1)
                line.extend(" " * (column + 1 - len(line)))
                line[column] = char
                self.col += 1
            index += 1

    def _move_to(self, row: int) -> None:
        while len(self.lines) <= row:
            self.lines.append([])
        self.row = row

    def _csi(self, params: str, final: str) -> None:
        private = params.startswith("?")
        numbers = [int(p) if p.isdigit() else 0 for p in params.lstrip("?").split(";")]
        count = max(1, numbers[0])
        top = max(0, len(self.lines) - self.rows)
        if private:
            if "7" in numbers and final in "hl":
                self.autowrap = final == "h"
        elif final == "A":
            self.row = max(top, self.row - count)
        elif final == "B":
            self._move_to(self.row + count)
        elif final == "C":
            self.col = min(self.cols, self.col + count)
        elif final == "D":
            self.col = max(0, self.col - count)
        elif final == "G":
            self.col = count - 1
        elif final in "Hf":
            self._move_to(top + count - 1)
            self.col = (numbers[1] if len(numbers) > 1 and numbers[1] else 1) - 1
        elif final == "J":
            if numbers[0] in (0,):
                del self.lines[self.row][self.col:]
                del self.lines[self.row + 1:]
            elif numbers[0] in (2, 3):
                self.lines[top:] = [[] for _ in self.lines[top:]]
        elif final == "K":
            line = self.lines[self.row]
            if numbers[0] == 0:
                del line[self.col:]
            elif numbers[0] == 1:
                line[:self.col] = [" "] * min(self.col, len(line))
            else:
                line.clear()

    def text(self) -> str:
        """Every line, trailing blanks removed."""
        return "\n".join("".join(line).rstrip() for line in self.lines)


#: Runs ``python -m tuiq ARGS`` after making the pty the controlling terminal: a session
#: leader that opens a terminal acquires it, so ctrl+c there sends SIGINT to the shell
#: while a command runs, as in a real terminal.
CHILD = ("import os, runpy, sys; os.close(os.open(os.ttyname(0), os.O_RDWR)); "
         "sys.argv = ['tuiq', *sys.argv[1:]]; runpy.run_module('tuiq', run_name='__main__')")


class Terminal:
    """``tuiq shell`` in a pseudo-terminal: type into it, wait for text on its screen."""

    def __init__(self, args: list[str], env: dict[str, str], rows: int = 40,
                 cols: int = 140) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full_env = {**os.environ, **env, "TERM": "xterm-256color"}
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                               os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args], stdin=slave, stdout=slave, stderr=slave,
            env=full_env, cwd=str(ROOT), start_new_session=True)
        os.close(slave)
        self.fd = master
        self.rows, self.cols = rows, cols
        self.raw = b""
        self.mark = 0
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready:
                    if self.process.poll() is not None:
                        return
                    continue
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            # Answer like a terminal whose cursor is at the top left.
            for _ in range(data.count(CURSOR_POSITION_REQUEST)):
                os.write(self.fd, b"\x1b[1;1R")
            with self._lock:
                self.raw += data

    def raw_text(self) -> str:
        """Everything written so far, escape sequences and all."""
        with self._lock:
            return self.raw.decode(errors="replace")

    def screen(self) -> str:
        """The screen now, with everything scrolled above it."""
        screen = Screen(self.rows, self.cols)
        screen.feed(self.raw_text())
        return screen.text()

    def send(self, keys: str) -> None:
        """Type ``keys`` (``\\t`` is Tab, ``\\r`` Enter, ``\\x03`` ctrl+c, ``\\x04`` ctrl+d)."""
        os.write(self.fd, keys.encode())

    def _wait_for(self, pattern: str, timeout: float, visible: bool = False) -> re.Match:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if visible:
                # Only the rows a terminal of this height shows now.
                found = regex.search("\n".join(screen.split("\n")[-self.rows:]))
            else:
                found = regex.search(screen, self.mark)
            if found:
                return found
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{pattern!r} not shown (exit={self.process.poll()}); "
                                     f"screen after the last output read:\n"
                                     f"{screen[self.mark:]}")
            time.sleep(0.05)

    def expect(self, pattern: str, timeout: float = 15.0) -> re.Match:
        """Wait for output matching ``pattern`` after the last output read; read past it."""
        found = self._wait_for(pattern, timeout)
        self.mark = found.end()
        return found

    def shows(self, pattern: str, timeout: float = 15.0) -> re.Match:
        """Wait until the visible screen (input line, menu, toolbar) matches ``pattern``."""
        return self._wait_for(pattern, timeout, visible=True)

    def type_and_tab(self, text: str, menu: str) -> None:
        """Type ``text``, wait for the completion menu to show ``menu``, press Tab."""
        self.send(text)
        self.shows(menu)
        self.send("\t")

    def wait(self, timeout: float = 15.0) -> int:
        """The exit status."""
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        """Kill the shell if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(2)
        os.close(self.fd)


# -- fixtures -------------------------------------------------------------------------------------
class Cluster:
    """A worker with task events on one broker, a client app, and the shell's arguments."""

    def __init__(self, kind: str, broker_url: str, backend_url: str, worker, queue: str) -> None:
        self.kind = kind
        self.broker_url = broker_url
        self.backend_url = backend_url
        self.worker = worker
        self.node = worker.nodename
        self.queue = queue

    def args(self, *extra: str) -> list[str]:
        """``tuiq shell`` on this broker with the test project's app."""
        return ["-b", self.broker_url, "--result-backend", self.backend_url, "shell",
                "-A", "tests.support.testproj", *extra]


@pytest.fixture(scope="module", params=["embedded", "redis"])
def cluster(request, embedded_url, tmp_path_factory):
    """One ``-E`` worker per broker for the tests of this module."""
    db = REDIS_DB
    broker_url, backend_url = broker_urls(request.param, embedded_url, db=db)
    queue = unique("shellq")
    worker = start_worker(tmp_path_factory.mktemp(f"shell-{request.param}"), broker_url,
                          backend_url, name=unique("shw"), queues=[queue],
                          extra=["-c", "2", "-E"])
    yield Cluster(request.param, broker_url, backend_url, worker, queue)
    assert worker.stop() == 0


@pytest.fixture
def home(tmp_path) -> Path:
    """A ``TUIQ_HOME`` of the test's own, where the history goes."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def repl(cluster, home):
    """Start the REPL; wait for its prompt and for the background refresh to find the node."""
    terminals: list[Terminal] = []

    def start() -> Terminal:
        terminal = Terminal(cluster.args(), {"TUIQ_HOME": str(home)})
        terminals.append(terminal)
        # The toolbar shows the names refresher's answer: completion knows the cluster.
        terminal.shows(r"broker \S+ │ destination all nodes │ [1-9]\d* nodes? online │ json off")
        terminal.expect(re.escape(PROMPT_ALL))
        return terminal

    yield start
    for terminal in terminals:
        terminal.close()


@pytest.fixture
def sender(cluster):
    """A client app on the cluster's broker."""
    app = client_app(cluster.broker_url, cluster.backend_url)
    yield app
    app.close()


def _ping_row(node: str) -> str:
    return rf"{re.escape(node)}\s*│\s*ok\s*│\s*pong"


# -- the REPL -------------------------------------------------------------------------------------
def test_tab_completes_and_inspect_ping_shows_the_table(cluster, repl):
    terminal = repl()
    terminal.type_and_tab("insp", r"inspect\s+Ask workers about themselves")
    terminal.type_and_tab(" pi", r"ping\s+Ping the worker\.")
    terminal.shows(r"tuiq \[all\]> inspect ping")
    terminal.send("\r")
    terminal.expect(r"\nping\n")
    terminal.expect(_ping_row(cluster.node))
    terminal.expect(re.escape(PROMPT_ALL))
    terminal.send("\x04")
    assert terminal.wait() == 0


def test_use_node_completed_from_the_cluster_changes_the_prompt(cluster, repl):
    terminal = repl()
    name = cluster.node.split("@")[0]
    terminal.type_and_tab(f"use {name[:6]}", rf"{re.escape(cluster.node)}\s+online, seen")
    terminal.send("\r")
    terminal.expect(rf"destination: {re.escape(cluster.node)}")
    terminal.expect(rf"tuiq \[{re.escape(cluster.node)}\]>")
    terminal.shows(rf"destination {re.escape(cluster.node)} │ [1-9]\d* nodes? online")
    terminal.send("stats -j\r")
    terminal.expect(rf'\{{"{re.escape(cluster.node)}": \{{')
    terminal.send("use all\r")
    terminal.expect(re.escape(PROMPT_ALL))
    terminal.send("\x04")
    assert terminal.wait() == 0


def test_bad_id_is_one_red_line_and_the_repl_goes_on(cluster, repl):
    terminal = repl()
    terminal.send("result 'bad id'\r")
    found = terminal.expect(r"Error: malformed task id: 'bad id'\n(.*?)tuiq \[all\]>")
    assert found.group(1).strip() == ""  # one line, nothing else before the next prompt
    assert "\x1b[31mError: malformed task id: 'bad id'" in terminal.raw_text()
    terminal.send("nosuchcommand\r")
    terminal.expect(r"Error: unknown command: 'nosuchcommand' \(type help for the list\)")
    terminal.send("ping\r")
    terminal.expect(_ping_row(cluster.node))
    assert "Traceback" not in terminal.screen()
    terminal.send("\x04")
    assert terminal.wait() == 0


def test_call_then_result_completes_the_new_id(cluster, repl):
    terminal = repl()
    terminal.send(f"call testproj.add 2 3 -Q {cluster.queue}\r")
    task_id = terminal.expect(r"\n([0-9a-f-]{36})\n").group(1)
    # Seen first by `call`, then in the task events the worker sends.
    terminal.type_and_tab("result ", rf"{task_id}\s+testproj\.add, (call|event)")
    terminal.shows(rf"> result {task_id}")
    terminal.send(" --wait -t 20\r")
    terminal.expect(r"\n5\n")
    terminal.send("exit\r")
    assert terminal.wait() == 0


def test_task_ids_from_events_complete_and_events_tail_until_ctrl_c(cluster, repl, sender):
    terminal = repl()
    terminal.send("events\r")
    terminal.expect(r"Listening for events on .* \(ctrl\+c stops\)")
    result = sender.send_task("testproj.add", (20, 22), queue=cluster.queue)
    terminal.expect(rf"task-received {result.id} testproj\.add args=\(20, 22\)")
    terminal.expect(rf"task-succeeded {result.id} testproj\.add runtime=\S+ result=42")
    terminal.send("\x03")
    terminal.expect(re.escape(PROMPT_ALL))
    # The id came from the event stream, not from anything typed here.
    terminal.type_and_tab("result ", rf"{result.id}\s+testproj\.add, event")
    terminal.send("\r")
    terminal.expect(r"\n42\n")
    terminal.send("\x04")
    assert terminal.wait() == 0


def test_ctrl_c_cancels_the_line_and_the_running_command(cluster, repl):
    terminal = repl()
    terminal.send("inspect stats")
    terminal.shows("> inspect stats")
    terminal.send("\x03")
    terminal.expect(re.escape(PROMPT_ALL))
    terminal.send(f"result {uuid.uuid4()} --wait\r")
    time.sleep(0.5)  # the command is waiting for a result that never comes
    terminal.send("\x03")
    terminal.expect(r"cancelled\n")
    terminal.expect(re.escape(PROMPT_ALL))
    terminal.send("inspect ping\r")
    terminal.expect(_ping_row(cluster.node))
    terminal.send("\x04")
    assert terminal.wait() == 0


def test_history_is_kept_in_tuiq_home_and_searched_with_ctrl_r(cluster, repl, home):
    first = repl()
    first.send("inspect active_queues\r")
    first.expect(re.escape(cluster.queue))
    first.send("\x04")
    assert first.wait() == 0
    assert "inspect active_queues" in (home / "shell_history").read_text()

    second = repl()
    second.send("\x12")  # ctrl+r
    second.send("active_q")
    second.shows(r"inspect active_queues")
    second.send("\r")  # ends the search with the found line
    second.send("\r")  # runs it
    second.expect(rf"{re.escape(cluster.node)}: active_queues")
    second.expect(re.escape(cluster.queue))
    second.send("\x04")
    assert second.wait() == 0


def test_python_mode_sees_the_app_and_its_tasks(cluster, repl):
    terminal = repl()
    terminal.send("!add.name\r")
    terminal.expect(r"'testproj\.add'")
    terminal.send("python\r")
    terminal.expect(r"\npy>")
    terminal.send(f"add.apply_async((4, 5), queue={cluster.queue!r}).get(timeout=20)\r")
    terminal.expect(r"\n9\n")
    terminal.send("1/0\r")
    terminal.expect(r"Error: ZeroDivisionError: division by zero")
    terminal.send("\x04")  # leaves Python mode only
    terminal.expect(re.escape(PROMPT_ALL))
    terminal.send("\x04")
    assert terminal.wait() == 0


# -- scripts --------------------------------------------------------------------------------------
def _shell(cluster, *args: str, stdin: str | None = None, timeout: float = 60):
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "tuiq", *cluster.args(*args)],
                          input=stdin or "", capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=str(ROOT))


def test_command_option_runs_and_exits_zero(cluster):
    result = _shell(cluster, "-c", "inspect ping")
    assert result.returncode == 0, result.stderr
    assert re.search(_ping_row(cluster.node), result.stdout)
    assert result.stderr == ""


def test_command_option_against_a_silent_destination_exits_non_zero(cluster):
    ghost = f"{unique('ghost')}@nowhere"
    result = _shell(cluster, "-c", f"inspect ping -d {cluster.node},{ghost} -t 0.5")
    assert result.returncode == 1
    assert re.search(_ping_row(cluster.node), result.stdout)
    assert f"No reply from: {ghost}" in result.stdout
    assert result.stderr.splitlines() == [f"Error: no reply from {ghost}"]
    result = _shell(cluster, "-c", f"use {ghost}")
    assert result.returncode == 1
    assert result.stderr.splitlines() == \
        [f"Error: unknown node: {ghost} (no reply to ping; nodes lists those that answer)"]


def test_several_commands_share_the_destination_and_json(cluster):
    result = _shell(cluster, "--json", "-c", f"use {cluster.node}", "-c", "inspect ping",
                    "-c", "json off", "-c", "nodes")
    assert result.returncode == 0, result.stderr
    # stdout holds only the answers (a script can parse the JSON line); remarks go to stderr.
    lines = result.stdout.splitlines()
    assert json.loads(lines[0]) == {cluster.node: {"ok": "pong"}}
    assert result.stderr.splitlines() == [f"destination: {cluster.node}", "json output off"]
    assert re.search(rf"{re.escape(cluster.node)}\s*│\s*online", result.stdout)


def test_piped_commands_run_in_turn_and_a_failure_sets_the_status(cluster):
    script = (f"# a comment\ncall testproj.add 1 2 -Q {cluster.queue}\n"
              "inspect ping\nnot-a-command\nregistered\n")
    result = _shell(cluster, stdin=script)
    assert result.returncode == 1
    assert re.match(r"[0-9a-f-]{36}\n", result.stdout)
    assert re.search(_ping_row(cluster.node), result.stdout)
    assert "testproj.add" in result.stdout.split("registered", 1)[1]
    assert result.stderr.splitlines() == \
        ["Error: unknown command: 'not-a-command' (type help for the list)"]
    good = _shell(cluster, stdin=f"inspect ping -d {cluster.node}\nexit\nnot-a-command\n")
    assert good.returncode == 0, good.stderr


def test_events_in_a_script_stop_on_interrupt(cluster, sender):
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen([sys.executable, "-m", "tuiq", *cluster.args("-c", "events")],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
    try:
        assert "Listening for events" in process.stderr.readline()
        result = sender.send_task("testproj.add", (1, 1), queue=cluster.queue)
        lines = []
        for line in process.stdout:
            lines.append(line)
            if f"task-succeeded {result.id}" in line:
                break
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert any(f"task-received {result.id} testproj.add" in line for line in lines)


def test_lost_broker_is_one_line(tmp_path):
    result = tuiq_cli(["-b", "redis://127.0.0.1:1/0", "shell", "-c", "inspect ping",
                       "-c", "nodes", "-c", "call testproj.add 1 2", "-c", "events -t 5"],
                      env={"TUIQ_HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("Error: cannot reach broker redis://127.0.0.1:1/0")
               for line in lines[:3])
    assert lines[3].startswith("Error: events: cannot reach broker redis://127.0.0.1:1/0")


def test_lost_broker_is_one_line_and_the_next_command_reconnects(tmp_path, home):
    from tests.support.redis_server import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    url = f"redis://127.0.0.1:{server.port}"
    terminal = Terminal(["-b", f"{url}/0", "--result-backend", f"{url}/1", "shell",
                         "-A", "tests.support.testproj"], {"TUIQ_HOME": str(home)})
    try:
        terminal.expect(re.escape(PROMPT_ALL))
        terminal.send("call testproj.add 1 2\r")
        terminal.expect(r"\n[0-9a-f-]{36}\n")
        terminal.send("inspect ping\r")
        terminal.expect(r"Error: no node replied within 1s\n")
        server.kill()
        terminal.send("inspect ping\r")
        terminal.expect(rf"Error: cannot reach broker {url}/0: [^\n]+\ntuiq \[all\]>")
        terminal.send("call testproj.add 1 2\r")
        terminal.expect(rf"Error: cannot reach broker {url}/0: [^\n]+\ntuiq \[all\]>")
        server.start()
        terminal.send("inspect ping\r")
        terminal.expect(r"Error: no node replied within 1s\ntuiq \[all\]>")
        terminal.send("call testproj.add 1 2\r")
        terminal.expect(r"\n[0-9a-f-]{36}\ntuiq \[all\]>")
        assert "Traceback" not in terminal.screen()
        terminal.send("\x04")
        assert terminal.wait() == 0
    finally:
        terminal.close()
        server.stop()


def test_user_defined_commands_are_shell_commands(cluster, tmp_path):
    worker = start_worker(tmp_path, cluster.broker_url, cluster.backend_url,
                          name=unique("shusr"), queues=[unique("q")],
                          app_spec="tests.support.usercmds_app", extra=["-c", "1"])
    try:
        args = ["-b", cluster.broker_url, "shell", "-A", "tests.support.usercmds_app"]
        listed = tuiq_cli([*args, "-c", "help inspect"])
        assert re.search(r"user_hello\s+Say hello from a user-defined command\.", listed.stdout)
        result = tuiq_cli([*args, "-c", f"user_hello hey -d {worker.nodename} -j",
                           "-c", f"control increase_prefetch_count 2 -d {worker.nodename} -j"])
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            f'{{"{worker.nodename}": {{"ok": "hey"}}}}',
            f'[{{"{worker.nodename}": {{"ok": "prefetch count incremented"}}}}]']
    finally:
        assert worker.stop() == 0
