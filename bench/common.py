"""Shared benchmark helpers: broker URLs, worker subprocesses, client apps, result waiting.

Workers run as real subprocesses (``python -m tuiq worker`` and ``celery worker``) with
``PYTHONPATH`` including the repository root, so ``bench.tasks_tuiq`` and
``bench.tasks_celery`` import. Readiness is the app's ``control.ping`` answered by the
node; stopping is SIGTERM (warm shutdown) and a wait.

Before the first worker starts, the checkout's sources (``tuiq/``, ``bench/``) are
byte-compiled, as pip does for an installed package and already did for Celery's: a
checkout run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile every module
at every start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = os.environ.get("BENCH_PYTHON", sys.executable)
CELERY = str(Path(PYTHON).parent / "celery")
REDIS_URL = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
AMQP_URL = os.environ.get("BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672//")
#: Redis databases the benchmarks use (broker, results); keys are deleted after each run.
BROKER_DB = int(os.environ.get("BENCH_BROKER_DB", "14"))
RESULT_DB = int(os.environ.get("BENCH_RESULT_DB", "15"))
ENGINES = ("tuiq", "celery")
TASK_MODULE = {"tuiq": "bench.tasks_tuiq", "celery": "bench.tasks_celery"}
TASK_NAME = "bench.noop"
LOG_DIR = Path(os.environ.get("BENCH_LOG_DIR") or tempfile.mkdtemp(prefix="tuiq-bench-"))


_compiled = False


def compile_sources() -> None:
    """Byte-compile ``tuiq/`` and ``bench/`` once (quietly; written even when
    ``PYTHONDONTWRITEBYTECODE`` is set)."""
    global _compiled
    if _compiled:
        return
    import compileall

    for folder in ("tuiq", "bench"):
        compileall.compile_dir(str(ROOT / folder), quiet=2)
    _compiled = True


def environment() -> dict[str, Any]:
    """Versions, CPUs and load: other work on the machine skews every figure."""
    import platform

    import billiard
    import celery
    import kombu

    return {
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "celery": celery.__version__, "kombu": kombu.__version__,
        "billiard": billiard.__version__,
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def emit(data: dict[str, Any]) -> None:
    """Print the benchmark's one JSON object (with :func:`environment`)."""
    data = {**data, "environment": environment()}
    print(json.dumps(data, indent=2, sort_keys=False))
    sys.stdout.flush()


def note(text: str) -> None:
    """Progress on stderr (stdout carries only the JSON)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# brokers ----------------------------------------------------------------------------
def embedded_url() -> str:
    """The embedded Valkey's ``redis+socket://`` URL (started if it is not running)."""
    from tuiq.broker import EmbeddedServer

    return EmbeddedServer().ensure_running()


def broker_urls(kind: str) -> tuple[str, str]:
    """``(broker_url, result_backend_url)`` for ``redis``, ``rabbitmq`` or ``embedded``."""
    if kind == "redis":
        return f"{REDIS_URL}/{BROKER_DB}", f"{REDIS_URL}/{RESULT_DB}"
    if kind == "rabbitmq":
        return AMQP_URL, f"{REDIS_URL}/{RESULT_DB}"
    if kind == "embedded":
        url = embedded_url()
        return url, url
    raise ValueError(f"unknown broker {kind!r}: choose redis, rabbitmq or embedded")


def redis_client(url: str):
    """A redis-py client for a ``redis://`` or ``redis+socket://`` URL."""
    from tuiq.backends.redis import redis_client_from_url

    return redis_client_from_url(url)


def unique(prefix: str) -> str:
    """A name no other run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def parse_list(value: str, allowed: Iterable[str]) -> list[str]:
    """Split a comma list and check every item is allowed."""
    allowed = tuple(allowed)
    items = [item.strip() for item in value.split(",") if item.strip()]
    for item in items:
        if item not in allowed:
            raise SystemExit(f"unknown value {item!r}; choose from {', '.join(allowed)}")
    return items


# client apps --------------------------------------------------------------------------
def client_app(engine: str, broker: str, backend: str | None, fast_poll: bool = False):
    """A fresh client app of ``engine`` with ``bench.noop`` registered; returns ``(app, task)``.

    ``backend=None`` gives a Celery client without a result backend, so publishing does
    not subscribe to every task's result (the worker side is what the throughput
    benchmark compares). ``fast_poll`` sets kombu's Redis ``polling_interval`` (the BRPOP
    timeout) to 20 ms: a pooled connection otherwise keeps a BRPOP on the previous
    reply queue pending for up to 1 s, so ping replies are seen with ~1 s resolution.
    """
    options = {"polling_interval": 0.02} if fast_poll else {}
    if engine == "tuiq":
        from tuiq import App

        app = App("bench-client", broker=broker, backend=backend, set_as_current=False,
                  broker_transport_options=options)
    elif engine == "celery":
        from celery import Celery

        app = Celery("bench-client", broker=broker, backend=backend, set_as_current=False)
        app.conf.broker_connection_retry_on_startup = True
        app.conf.broker_transport_options = options
    else:
        raise ValueError(engine)

    @app.task(name=TASK_NAME)
    def noop():
        return None

    app.bench_stamp = app.task(name="bench.stamp")(_stamp)
    return app, noop


def _stamp():
    return time.time()


def close_app(engine: str, app) -> None:
    """Release a client app's connections."""
    try:
        if engine == "tuiq":
            app.close()
        else:
            app.close()
            try:
                app.backend.result_consumer.stop()
            except Exception:  # noqa: BLE001 - only some backends have one
                pass
    except Exception:  # noqa: BLE001
        pass


def ping(engine: str, app, nodename: str, timeout: float = 0.5) -> bool:
    """True if ``nodename`` answers ``ping`` within ``timeout``."""
    if engine == "tuiq":
        replies = app.control.ping(destination=[nodename], timeout=timeout)
    else:
        replies = app.control.ping(destination=[nodename], timeout=timeout, limit=1)
    return any(nodename in reply for reply in replies or [])


# workers -------------------------------------------------------------------------------
def worker_command(engine: str, broker: str, backend: str, queue: str, nodename: str,
                   concurrency: int = 2, loglevel: str = "WARNING",
                   extra: Sequence[str] = (), celery_defaults: bool = False) -> list[str]:
    """The command line that starts a worker of ``engine``."""
    if engine == "tuiq":
        return [PYTHON, "-m", "tuiq", "worker", "-A", TASK_MODULE[engine], "-b", broker,
                "--result-backend", backend, "-c", str(concurrency), "-P", "prefork",
                "-Q", queue, "-n", nodename, "-l", loglevel, *extra]
    command = [CELERY, "-A", TASK_MODULE[engine], "worker", "-c", str(concurrency),
               "-P", "prefork", "-Q", queue, "-n", nodename, "-l", loglevel]
    if not celery_defaults:
        command += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
    return command + list(extra)


class Worker:
    """A worker subprocess: its command, log file, start time and process tree."""

    def __init__(self, engine: str, process: subprocess.Popen, nodename: str, logfile: Path,
                 spawned: float) -> None:
        self.engine = engine
        self.process = process
        self.nodename = nodename
        self.logfile = logfile
        self.spawned = spawned
        self.ready_at: float | None = None

    @property
    def pid(self) -> int:
        """The main process id."""
        return self.process.pid

    def log(self) -> str:
        """The worker's output so far."""
        return self.logfile.read_text(errors="replace") if self.logfile.exists() else ""

    def check_alive(self) -> None:
        """Raise with the log tail if the worker has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.engine} worker exited with {self.process.returncode}:\n"
                               f"{self.log()[-3000:]}")

    def wait_ready(self, app, timeout: float = 30.0, interval: float = 0.5) -> float:
        """Poll ``ping`` until the node answers; returns seconds since the spawn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if ping(self.engine, app, self.nodename, timeout=interval):
                self.ready_at = time.monotonic()
                return self.ready_at - self.spawned
        raise RuntimeError(f"{self.engine} worker {self.nodename} did not answer ping in "
                           f"{timeout}s:\n{self.log()[-3000:]}")

    def stop(self, timeout: float = 30.0) -> int:
        """Warm shutdown (SIGTERM to the main process) and wait; kill the group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return self.process.returncode

    def tree(self) -> list[int]:
        """The main pid and every descendant's."""
        return process_tree(self.pid)


def worker_env(broker: str, backend: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["BENCH_BROKER_URL"] = broker
    env["BENCH_RESULT_BACKEND"] = backend
    env.pop("TUIQ_BROKER_URL", None)
    env.pop("TUIQ_RESULT_BACKEND", None)
    env.update(extra or {})
    return env


def start_worker(engine: str, broker: str, backend: str, queue: str, *, name: str | None = None,
                 concurrency: int = 2, loglevel: str = "WARNING", extra: Sequence[str] = (),
                 celery_defaults: bool = False, env: dict[str, str] | None = None,
                 ready_app=None, timeout: float = 30.0) -> Worker:
    """Start a worker of ``engine`` on ``queue``; with ``ready_app``, wait until it pings."""
    compile_sources()
    name = name or unique(f"bench-{engine}")
    nodename = f"{name}@{socket.gethostname()}"
    command = worker_command(engine, broker, backend, queue, f"{name}@%h", concurrency,
                             loglevel, extra, celery_defaults)
    logfile = LOG_DIR / f"{name}.log"
    with open(logfile, "wb") as log:
        spawned = time.monotonic()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env=worker_env(broker, backend, env), cwd=str(ROOT),
                                   start_new_session=True)
    worker = Worker(engine, process, nodename, logfile, spawned)
    if ready_app is not None:
        try:
            worker.wait_ready(ready_app, timeout=timeout)
        except BaseException:
            worker.stop()
            raise
    return worker


# processes ------------------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            text = (task / "children").read_text().split()
            found.extend(int(child) for child in text)
    except OSError:
        return []
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all of its descendants (from ``/proc/<pid>/task/*/children``)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


def status_kib(pid: int, field: str = "VmRSS") -> int:
    """A ``/proc/<pid>/status`` memory field in KiB (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size from ``/proc/<pid>/smaps_rollup`` in KiB (0 if unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# result waiting --------------------------------------------------------------------------
class ResultWatcher:
    """Count result writes for known task ids via the backend's PUBLISH on the key name.

    Both engines publish every stored result on the channel ``celery-task-meta-<id>``.
    Subscribing to exactly the ids of one run (not a pattern) keeps other users of the
    same Redis out of the count. ``times[i]`` is when the i-th result arrived.
    """

    def __init__(self, backend_url: str, task_ids: Sequence[str]) -> None:
        self.client = redis_client(backend_url)
        self.pubsub = self.client.pubsub()
        self.channels = [f"celery-task-meta-{task_id}" for task_id in task_ids]
        self.expected = len(self.channels)
        self.times: list[float] = []
        self.done = threading.Event()
        self._stop = False
        for start in range(0, len(self.channels), 1000):
            self.pubsub.subscribe(*self.channels[start:start + 1000])
        # Wait for every subscription confirmation before anything is published.
        confirmed, deadline = 0, time.monotonic() + 30
        while confirmed < len(self.channels):
            if time.monotonic() > deadline:
                raise RuntimeError("result subscriptions not confirmed")
            message = self.pubsub.get_message(timeout=1)
            if message is not None and message.get("type") == "subscribe":
                confirmed += 1
        self.pubsub.ignore_subscribe_messages = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        seen: set[str] = set()
        while not self._stop and len(seen) < self.expected:
            message = self.pubsub.get_message(timeout=0.2)
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if channel in seen:
                continue
            seen.add(channel)
            self.times.append(time.perf_counter())
        if len(seen) >= self.expected:
            self.done.set()

    def wait(self, timeout: float) -> bool:
        """Wait until every expected result was stored; False on timeout."""
        return self.done.wait(timeout)

    @property
    def count(self) -> int:
        """Results seen so far."""
        return len(self.times)

    def close(self) -> None:
        """Stop the thread and drop the subscription."""
        self._stop = True
        self.thread.join(timeout=2)
        try:
            self.pubsub.close()
        except Exception:  # noqa: BLE001
            pass
        self.client.close()


def delete_results(backend_url: str, task_ids: Sequence[str]) -> None:
    """Delete the result keys of ``task_ids``."""
    client = redis_client(backend_url)
    try:
        for start in range(0, len(task_ids), 1000):
            client.delete(*[f"celery-task-meta-{t}" for t in task_ids[start:start + 1000]])
    finally:
        client.close()


def delete_queue(broker_url: str, queue: str) -> None:
    """Remove a benchmark queue (and, on Redis, its key) so runs leave nothing behind."""
    from kombu import Connection
    from kombu import Queue as KombuQueue

    try:
        with Connection(broker_url) as conn:
            channel = conn.default_channel
            KombuQueue(queue, channel=channel).delete()
            if broker_url.startswith("amqp"):
                channel.exchange_delete(queue)  # both engines declare one named after it
    except Exception as exc:  # noqa: BLE001 - cleanup is best effort
        note(f"could not delete queue {queue}: {exc!r}")
    if broker_url.startswith(("redis", "valkey")):
        client = redis_client(broker_url)
        try:  # kombu keeps the exchange's binding sets after the queue is gone
            client.delete(f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        finally:
            client.close()


def median(values: Sequence[float]) -> float:
    """The median."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return ordered[rank - 1]


def ratio(a: float | None, b: float | None, digits: int = 2) -> float | None:
    """``a / b`` rounded, or None."""
    if not a or not b:
        return None
    return round(a / b, digits)
