"""The embedded Valkey broker, with real server processes.

Every test gets its own ``TUIQ_HOME``; every server a test starts is stopped
(or, failing that, killed) in the fixture's teardown.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from kombu import Connection

from tuiq.broker import (
    EmbeddedServer,
    check_reachable,
    is_embedded_url,
    resolve_backend_url,
    resolve_broker_url,
)
from tuiq.cli.broker import broker as broker_cli
from tuiq.exceptions import BrokerUnavailable

ROOT = Path(__file__).resolve().parents[2]


def _valkey_pids(server: EmbeddedServer) -> list[int]:
    """Pids of live valkey processes serving ``server``'s socket (from /proc)."""
    needle = os.fsencode(str(server.socket_path))
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if b"valkey" in cmdline and needle in cmdline and state not in (b"Z", b"X"):
            pids.append(int(entry.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return True
    return state not in (b"Z", b"X")


def _cleanup(server: EmbeddedServer) -> None:
    try:
        server.stop(timeout=10)
    finally:
        for pid in _valkey_pids(server):
            os.kill(pid, signal.SIGKILL)
        if server.uses_short_socket_dir:
            shutil.rmtree(server.socket_path.parent, ignore_errors=True)


def _make_home(monkeypatch: pytest.MonkeyPatch, path: Path) -> EmbeddedServer:
    monkeypatch.setenv("TUIQ_HOME", str(path))
    monkeypatch.delenv("TUIQ_BROKER_URL", raising=False)
    monkeypatch.delenv("TUIQ_RESULT_BACKEND", raising=False)
    return EmbeddedServer()


@pytest.fixture
def short_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # pytest's tmp_path can be deep; this one leaves room for the socket path.
    path = Path(tempfile.mkdtemp(prefix="tq-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def server(short_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedServer]:
    srv = _make_home(monkeypatch, short_home)
    assert not srv.uses_short_socket_dir
    try:
        yield srv
    finally:
        _cleanup(srv)


@pytest.fixture
def deep_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedServer]:
    srv = _make_home(monkeypatch, tmp_path / ("d" * 60) / ("e" * 60))
    assert srv.uses_short_socket_dir
    try:
        yield srv
    finally:
        _cleanup(srv)


def _subprocess_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["TUIQ_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def test_start_status_and_reuse(server: EmbeddedServer) -> None:
    url = server.ensure_running()
    assert url == f"redis+socket://{server.home}/valkey/valkey.sock"
    assert url == server.url
    data = server.data_dir
    for name in ("valkey.conf", "valkey.pid", "valkey.log", "lock"):
        assert (data / name).exists(), name
    assert (data / "appendonlydir").is_dir()
    assert stat.S_ISSOCK(server.socket_path.stat().st_mode)
    assert stat.S_IMODE(server.socket_path.stat().st_mode) == 0o700
    assert stat.S_IMODE(data.stat().st_mode) == 0o700

    info = server.status()
    assert info["running"] is True
    assert info["pid"] == int((data / "valkey.pid").read_text())
    assert info["socket"] == str(server.socket_path)
    assert info["url"] == url
    assert info["data_dir"] == str(data)
    assert info["version"] and info["version"][0].isdigit()
    assert isinstance(info["uptime_seconds"], int)
    assert info["used_memory_human"]
    assert info["aof_enabled"] is True
    assert info["keys"] == {}

    # The fast path reuses the running server.
    assert server.ensure_running() == url
    assert EmbeddedServer().status()["pid"] == info["pid"]
    assert _valkey_pids(server) == [info["pid"]]

    with Connection(url) as conn:
        queue = conn.SimpleQueue("tuiq-test-status")
        queue.put({"n": 1})
        queue.close()
    assert server.status()["keys"].get("db0", 0) >= 1


def test_no_tcp_port(server: EmbeddedServer) -> None:
    server.ensure_running()
    pid = server.status()["pid"]
    inodes = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    sockets = {i[len("socket:[") : -1] for i in inodes if i.startswith("socket:[")}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            listening = fields[3] == "0A"
            assert not (listening and fields[9] in sockets), f"valkey listens on TCP: {line}"


def test_message_survives_stop_and_restart(server: EmbeddedServer) -> None:
    url = server.ensure_running()
    first_pid = server.status()["pid"]
    with Connection(url) as conn:
        queue = conn.SimpleQueue("tuiq-test-persist")
        queue.put({"task": "add", "args": [2, 3]})
        queue.close()

    assert server.stop() is True
    assert not _alive(first_pid)
    assert not server.socket_path.exists()
    assert server.status()["running"] is False

    assert server.ensure_running() == url
    assert server.status()["pid"] != first_pid
    with Connection(url) as conn:
        queue = conn.SimpleQueue("tuiq-test-persist")
        message = queue.get(timeout=5)
        assert message.payload == {"task": "add", "args": [2, 3]}
        message.ack()
        queue.close()


def test_stop_when_not_running(server: EmbeddedServer) -> None:
    assert server.stop() is False
    info = server.status()
    assert info["running"] is False
    assert info["pid"] is None
    assert info["url"] == server.url
    server.ensure_running()
    assert server.stop() is True
    assert server.stop() is False


def test_server_outlives_the_process_that_started_it(server: EmbeddedServer) -> None:
    code = "from tuiq.broker import EmbeddedServer; print(EmbeddedServer().ensure_running())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_subprocess_env(server.home),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == server.url
    assert server.is_running()
    assert server.status()["running"] is True


def test_concurrent_starts_make_one_server(server: EmbeddedServer, tmp_path: Path) -> None:
    go = tmp_path / "go"
    code = (
        "import json, os, sys, time\n"
        "from tuiq.broker import EmbeddedServer\n"
        "while not os.path.exists(sys.argv[1]):\n"
        "    time.sleep(0.001)\n"
        "s = EmbeddedServer()\n"
        "url = s.ensure_running(timeout=30)\n"
        "print(json.dumps({'url': url, 'pid': s.status()['pid']}))\n"
    )
    env = _subprocess_env(server.home)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    time.sleep(0.5)  # let the interpreters import and reach the barrier
    go.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert {r["url"] for r in results} == {server.url}
    pids = {r["pid"] for r in results}
    assert len(pids) == 1
    assert _valkey_pids(server) == list(pids)


def test_stale_socket_and_pidfile_are_replaced(server: EmbeddedServer) -> None:
    server.ensure_running()
    old_pid = server.status()["pid"]
    os.kill(old_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(old_pid):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # A crashed server leaves its socket file and pid file behind.
    assert server.socket_path.exists()
    assert server.pid_path.exists()
    assert not server.is_running()

    server.ensure_running()
    new_pid = server.status()["pid"]
    assert new_pid != old_pid
    assert int(server.pid_path.read_text()) == new_pid


def test_deleted_socket_of_live_server_is_recovered(server: EmbeddedServer) -> None:
    server.ensure_running()
    old_pid = server.status()["pid"]
    server.socket_path.unlink()  # e.g. a /tmp cleaner
    assert not server.is_running()
    server.ensure_running()
    assert not _alive(old_pid)
    assert _valkey_pids(server) == [server.status()["pid"]]


def test_start_failure_reports_last_log_line(
    server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = server.config_lines()
    monkeypatch.setattr(server, "config_lines", lambda: [*good, "no-such-directive yes"])
    with pytest.raises(BrokerUnavailable) as info:
        server.ensure_running(timeout=10)
    message = str(info.value)
    assert "\n" not in message
    assert "embedded broker" in message
    assert "Bad directive" in message
    assert not server.is_running()


def test_deep_home_uses_short_socket_dir(deep_server: EmbeddedServer) -> None:
    url = deep_server.ensure_running()
    sock = deep_server.socket_path
    assert url == f"redis+socket://{sock}"
    assert len(os.fsencode(str(sock))) <= 107
    assert str(sock).startswith(f"/tmp/tuiq-{os.getuid()}-")
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert deep_server.socket_record_path.read_text().strip() == str(sock)
    assert (deep_server.data_dir / "valkey.pid").exists()
    assert (deep_server.data_dir / "appendonlydir").is_dir()
    assert is_embedded_url(url)
    with Connection(url) as conn:
        queue = conn.SimpleQueue("tuiq-test-deep")
        queue.put("hello")
        assert queue.get(timeout=5).payload == "hello"
        queue.close()
    assert deep_server.stop() is True


def test_resolution_starts_embedded_server(server: EmbeddedServer) -> None:
    assert not server.is_running()
    broker_url = resolve_broker_url(None, None)
    assert broker_url == server.url
    assert server.is_running()
    assert resolve_backend_url(None, None, broker_url) == broker_url
    assert resolve_backend_url(None, None, "amqp://guest:guest@127.0.0.1:5672//") == broker_url


def test_check_reachable(server: EmbeddedServer) -> None:
    with pytest.raises(BrokerUnavailable, match=r"No such file|Connection refused"):
        check_reachable(server.url, timeout=2)
    server.ensure_running()
    check_reachable(server.url, timeout=2)
    with pytest.raises(BrokerUnavailable) as info:
        check_reachable("redis://:secret@127.0.0.1:1/0", timeout=2)
    message = str(info.value)
    assert message == "cannot reach broker redis://:********@127.0.0.1:1/0: Connection refused"


def test_check_reachable_filesystem(tmp_path: Path) -> None:
    check_reachable("filesystem://")
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path)}
    check_reachable("filesystem://", transport_options=options)
    options["data_folder_in"] = str(tmp_path / "missing")
    with pytest.raises(BrokerUnavailable, match="data_folder_in"):
        check_reachable("filesystem://", transport_options=options)


def test_cli(server: EmbeddedServer) -> None:
    runner = CliRunner()

    result = runner.invoke(broker_cli, ["status"])
    assert result.exit_code == 0, result.output
    assert "not running" in result.output

    result = runner.invoke(broker_cli, ["status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["running"] is False

    result = runner.invoke(broker_cli, ["start"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == server.url
    pid = server.status()["pid"]

    result = runner.invoke(broker_cli, ["status"])
    assert result.exit_code == 0, result.output
    assert "running" in result.output and "not running" not in result.output
    assert str(pid) in result.output

    result = runner.invoke(broker_cli, ["status", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["running"] is True
    assert info["pid"] == pid
    assert info["url"] == server.url
    assert info["aof_enabled"] is True

    result = runner.invoke(broker_cli, ["url"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == server.url
    assert server.status()["pid"] == pid

    result = runner.invoke(broker_cli, ["stop"])
    assert result.exit_code == 0, result.output
    assert "stopped" in result.output
    assert not _alive(pid)

    result = runner.invoke(broker_cli, ["stop"])
    assert result.exit_code == 0, result.output
    assert "not running" in result.output

    result = runner.invoke(broker_cli, ["url"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == server.url
    assert server.is_running()
