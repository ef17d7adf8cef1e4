"""One command to see tuiq work: start a worker, send it tasks, print the results.

    python examples/demo.py

Uses the embedded Valkey server (started on demand) unless TUIQ_BROKER_URL is set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from proj.app import add, app, fail, flaky, progress, xsum  # noqa: E402

from tuiq import chain, chord, group  # noqa: E402


def wait_until_ready(nodename: str, worker: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            sys.exit(f"the worker exited with status {worker.returncode}")
        replies = app.control.ping(destination=[nodename], timeout=0.5)
        if replies:
            return
    sys.exit("the worker did not become ready")


def main() -> None:
    nodename = f"demo-{os.getpid()}@{os.uname().nodename}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get(
        "PYTHONPATH", "")]))
    print(f"broker: {app.broker_url}")
    log_path = Path(tempfile.gettempdir()) / f"tuiq-demo-{os.getpid()}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in the finally below
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuiq", "worker", "-A", "proj", "-c", "2", "-n", nodename],
        cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(nodename, worker)
        print("add(2, 3)                 ->", add.delay(2, 3).get(timeout=10))
        print("chain 1+2, +3, +4         ->",
              chain(add.s(1, 2), add.s(3), add.s(4)).apply_async().get(timeout=10))
        print("group of 5 adds           ->",
              group(add.s(i, i) for i in range(5)).apply_async().get(timeout=10))
        print("xsum([1..10])             ->", xsum.delay(list(range(1, 11))).get(timeout=10))
        print("chord of 4 adds | xsum    ->",
              chord([add.s(i, i) for i in range(4)], xsum.s()).apply_async().get(timeout=10))
        print("flaky (retries twice)     ->", flaky.delay().get(timeout=10))
        result = progress.delay(steps=3, delay=0.3)
        time.sleep(0.4)
        print("progress while running    ->", result.state, result.info)
        print("progress when done        ->", result.get(timeout=10))
        try:
            fail.delay("boom").get(timeout=10)
        except ValueError as exc:
            print("fail('boom') raised       ->", repr(exc))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
        print(f"worker log: {log_path}")


if __name__ == "__main__":
    main()
