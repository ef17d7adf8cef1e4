"""``tuiq top`` as a user runs it: in a real terminal against a real worker, and the
one-line errors it gives before starting."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

from tests.support.brokers import unique
from tests.support.workers import ROOT
from tests.tui.app_pilot import redis_urls, start_cluster
from tests.tui.test_app_broker import free_port

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
                  rb"|\x1b\][^\x07]*\x07")


def tuiq(*args: str) -> subprocess.CompletedProcess:
    """Run ``tuiq ARGS`` without a terminal."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "tuiq", *args], capture_output=True,
                          text=True, timeout=60, env=env, cwd=str(ROOT))


def test_an_unreachable_broker_is_one_line_and_status_1():
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = tuiq("top", "-b", url)
    assert result.returncode == 1
    assert result.stderr == f"Error: cannot reach broker {url}: Connection refused\n"
    assert result.stdout == ""


def test_bad_options_are_one_line():
    result = tuiq("top", "--refresh", "0")
    assert result.returncode == 2
    assert "Error: Invalid value for '--refresh': 0.0 is not in the range x>=0.1." in \
        result.stderr
    result = tuiq("top", "-A", "no_such_module_for_top")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


class Terminal:
    """A process in a pseudo-terminal, with everything it drew as plain text."""

    def __init__(self, argv: list[str], size: tuple[int, int] = (45, 160)) -> None:
        pid, fd = pty.fork()
        winsize = struct.pack("HHHH", size[0], size[1], 0, 0)
        if pid == 0:  # the child: become the program, in a terminal of this size
            fcntl.ioctl(0, termios.TIOCSWINSZ, winsize)
            os.environ.update(TERM="xterm-256color", PYTHONPATH=str(ROOT))
            os.chdir(ROOT)
            os.execv(sys.executable, [sys.executable, *argv])
        self.pid = pid
        self.fd = fd
        self.raw = b""

    def read_until(self, text: str, timeout: float = 30.0) -> str:
        """Read the output until ``text`` has been drawn; the plain text so far."""
        deadline = time.monotonic() + timeout
        while text not in self.text:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} never drawn; screen text:\n{self.text[-3000:]}")
            ready, _, _ = select.select([self.fd], [], [], min(remaining, 0.2))
            if ready:
                try:
                    self.raw += os.read(self.fd, 65536)
                except OSError:
                    break
        return self.text

    @property
    def text(self) -> str:
        """The output with escape sequences removed."""
        return ANSI.sub(b"", self.raw).decode(errors="replace")

    def type(self, keys: str) -> None:
        """Type on the keyboard."""
        os.write(self.fd, keys.encode())

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the exit status, reading the output meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.raw += os.read(self.fd, 65536)
                except OSError:
                    pass
        os.kill(self.pid, 9)
        raise AssertionError("tuiq top did not exit")


def test_tuiq_top_in_a_terminal_shows_the_cluster_and_quits_on_q(tmp_path):
    broker, backend = redis_urls()
    cluster = start_cluster(tmp_path, broker, backend)
    try:
        task_id = None
        terminal = Terminal(["-m", "tuiq", "top", "-b", broker, "--refresh", "0.5"])
        try:
            terminal.read_until(cluster.node.split("@")[0])
            task_id = cluster.send("testproj.echo", unique("hello"))
            terminal.type("2")
            terminal.read_until(task_id)
            terminal.type("q")
            assert terminal.wait() == 0
        finally:
            if task_id is None:
                os.kill(terminal.pid, 9)
    finally:
        cluster.close()
