"""A throw-away ``redis-server`` on a spare port, for tests that take the broker away."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from tests.support.polling import wait_until


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A ``redis-server`` of the test's own, without persistence: killed and started at will."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed: this test needs it"
        self.port = port or free_port()
        self.command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir)]
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        """Its URL, for database ``db``."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def answers(self) -> bool:
        """Whether it replies to PING now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        """Start it and wait until it answers."""
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_until(self.answers, timeout=10, message="redis-server did not start")

    def kill(self) -> None:
        """Kill it, as a crash would, and wait until its port is closed."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        wait_until(lambda: not self.answers(), timeout=5)

    def stop(self) -> None:
        """Kill it if it still runs (for ``finally`` blocks)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
