"""Helpers for tests that mix engines in one cluster and drive workers with Celery's CLI.

``celery_cli`` runs the real ``celery`` program with the compat Celery app
(``tests.compat.celeryproj``) pointed at the broker under test; ``CeleryNode`` is a
``celery worker`` whose start-up sync (mingle) and state file (``-S``) a test chooses.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.compat.helpers import CeleryWorker, Env
from tests.support.brokers import unique
from tests.support.polling import wait_until
from tests.support.workers import ROOT


def _celery_env(env: Env) -> dict[str, str]:
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), child_env.get("PYTHONPATH")]))
    child_env["COMPAT_CELERY_BROKER"] = env.broker_url
    child_env["COMPAT_CELERY_BACKEND"] = env.backend_url
    return child_env


def celery_cli(env: Env, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``celery -A tests.compat.celeryproj ARGS`` on the broker of ``env``."""
    return subprocess.run([sys.executable, "-m", "celery", "-A", "tests.compat.celeryproj",
                           *args], capture_output=True, text=True, timeout=timeout,
                          env=_celery_env(env), cwd=str(ROOT))


def cli_json(result: subprocess.CompletedProcess):
    """The JSON a CLI printed; fails with its output unless it exited 0."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return json.loads(result.stdout)


def wait_for_log(log: Callable[[], str], text: str, timeout: float = 20.0) -> str:
    """Poll a worker's log until it contains ``text``; return the log."""
    return wait_until(lambda: log() if text in log() else "", timeout=timeout, interval=0.1,
                      message=lambda: f"{text!r} not logged:\n{log()[-4000:]}")


class CeleryNode(CeleryWorker):
    """A stock ``celery worker`` (prefork, 2 processes) with mingle and ``-S`` chosen."""

    def __init__(self, tmp_path: Path, env: Env, queues: Sequence[str], *,
                 mingle: bool = False, statedb: str | None = None) -> None:
        # Not CeleryWorker.__init__: that one always passes --without-mingle.
        self.nodename = f"{unique('c')}@{socket.gethostname()}"
        self.logfile = tmp_path / f"{self.nodename.split('@')[0]}.log"
        command = [sys.executable, "-m", "celery", "-A", "tests.compat.celeryproj", "worker",
                   "-P", "prefork", "-c", "2", "-Q", ",".join(queues), "-n", self.nodename,
                   "--without-gossip", "-l", "INFO"]
        if not mingle:
            command.append("--without-mingle")
        if statedb is not None:
            command += ["-S", statedb]
        with open(self.logfile, "wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            env=_celery_env(env), cwd=str(ROOT),
                                            start_new_session=True)

    def stop_and_wait(self, timeout: float = 30.0) -> int:
        """Warm shutdown (TERM), wait for the exit and return its code."""
        self.stop(timeout=timeout)
        return self.process.returncode
