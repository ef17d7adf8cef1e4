"""Start real ``tuiq worker`` subprocesses and wait until they answer ``ping``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tuiq import App

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """A running worker subprocess with its log."""

    def __init__(self, process: subprocess.Popen, nodename: str, logfile: Path) -> None:
        self.process = process
        self.nodename = nodename
        self.logfile = logfile

    @property
    def pid(self) -> int:
        """The worker's main pid."""
        return self.process.pid

    def log(self) -> str:
        """Everything the worker logged so far."""
        return _text(self.logfile)

    def signal(self, signum: int) -> None:
        """Send a signal to the main process only."""
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        """Wait for the process to exit and return its exit code."""
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = 30) -> int:
        """Warm shutdown (TERM) and wait; kill if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                raise AssertionError(
                    f"worker did not stop on TERM:\n{self.log()[-3000:]}") from None
        return self.process.returncode


def client_app(broker: str, backend: str, module_app: App | None = None) -> App:
    """An app pointing at ``broker``/``backend`` (the test project's, by default)."""
    from tests.support.testproj import app as testproj_app

    app = module_app or testproj_app
    app.override_broker(broker)
    app.override_backend(backend)
    return app


def wait_for_ping(app: App, nodename: str, process: subprocess.Popen, logfile: Path,
                  timeout: float = 20.0) -> None:
    """Poll ``ping`` until ``nodename`` answers and has logged that it is ready.

    A node answers ping while it syncs with the others, before its pool runs;
    "<node> ready." comes once the pool does. Fails with the log if the
    worker exits or hangs.
    """
    deadline = time.monotonic() + timeout
    answered = False
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode}:\n"
                                 f"{_text(logfile)[-3000:]}")
        if not answered:
            replies = app.control.ping(destination=[nodename], timeout=0.5)
            answered = any(nodename in reply for reply in replies)
        if answered:
            if f"{nodename} ready." in _text(logfile):
                return
            time.sleep(0.02)
    state = "was not ready" if answered else "did not answer ping"
    raise AssertionError(f"worker {nodename} {state} in {timeout}s:\n{_text(logfile)[-3000:]}")


def _text(path: Path) -> str:
    """A log file's text so far (empty before the worker creates it)."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def start_worker(tmp_path: Path, broker: str, backend: str, *, name: str,
                 queues: Sequence[str] = (), app_spec: str = "tests.support.testproj",
                 extra: Sequence[str] = (), env: dict[str, str] | None = None,
                 wait: bool = True, ping_app: App | None = None) -> WorkerProcess:
    """Start ``tuiq worker`` for the test project and wait until it answers ping."""
    nodename = f"{name}@{os.uname().nodename}"
    logfile = tmp_path / f"{name}.log"
    command = [sys.executable, "-m", "tuiq", "worker", "-A", app_spec, "-b", broker,
               "--result-backend", backend, "-n", nodename, "-l", "INFO", *extra]
    if queues:
        command += ["-Q", ",".join(queues)]
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                           full_env.get("PYTHONPATH")]))
    full_env.update(env or {})
    with open(logfile, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env=full_env, cwd=str(ROOT), start_new_session=True)
    if wait:
        wait_for_ping(ping_app or client_app(broker, backend), nodename, process, logfile)
    return WorkerProcess(process, nodename, logfile)
