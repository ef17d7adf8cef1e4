"""Broker and result-backend URL resolution, masking, and embedded-server paths.

Nothing here starts a server: the embedded default is resolved with ``start=False``.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from tuiq.broker import (
    EMBEDDED_ALIAS,
    EmbeddedServer,
    is_embedded_url,
    mask_url,
    resolve_backend_url,
    resolve_broker_url,
    tuiq_home,
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TUIQ_BROKER_URL", raising=False)
    monkeypatch.delenv("TUIQ_RESULT_BACKEND", raising=False)
    path = tmp_path / "home"
    monkeypatch.setenv("TUIQ_HOME", str(path))
    return path


# -- tuiq_home --------------------------------------------------------------------


def test_tuiq_home_prefers_tuiq_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(home.parent / "xdg"))
    assert tuiq_home() == home
    assert home.is_dir()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_tuiq_home_falls_back_to_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUIQ_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert tuiq_home() == tmp_path / "xdg" / "tuiq"
    assert stat.S_IMODE((tmp_path / "xdg" / "tuiq").stat().st_mode) == 0o700


def test_tuiq_home_defaults_to_local_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUIQ_HOME", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert tuiq_home() == tmp_path / ".local" / "share" / "tuiq"
    assert (tmp_path / ".local" / "share" / "tuiq").is_dir()


def test_tuiq_home_leaves_existing_dir_mode_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = tmp_path / "mine"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    monkeypatch.setenv("TUIQ_HOME", str(existing))
    assert tuiq_home() == existing
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755


# -- broker URL precedence --------------------------------------------------------


def test_broker_flag_wins(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUIQ_BROKER_URL", "redis://env:6379/0")
    assert resolve_broker_url("amqp://flag//", "redis://conf:6379/0") == "amqp://flag//"


def test_broker_env_beats_config(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUIQ_BROKER_URL", "redis://env:6379/0")
    assert resolve_broker_url(None, "redis://conf:6379/0") == "redis://env:6379/0"


def test_broker_config_used_without_flag_or_env(home: Path) -> None:
    assert resolve_broker_url(None, "redis://conf:6379/0") == "redis://conf:6379/0"


def test_broker_defaults_to_embedded(home: Path) -> None:
    url = resolve_broker_url(None, None, start=False)
    assert url == f"redis+socket://{home}/valkey/valkey.sock"
    assert url == EmbeddedServer().url


def test_broker_blank_values_are_ignored(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUIQ_BROKER_URL", "  ")
    assert resolve_broker_url("", "redis://conf//") == "redis://conf//"


@pytest.mark.parametrize("where", ["flag", "env", "config"])
def test_broker_embedded_alias(home: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    flag = EMBEDDED_ALIAS if where == "flag" else None
    conf = EMBEDDED_ALIAS if where == "config" else "redis://conf//"
    if where == "env":
        monkeypatch.setenv("TUIQ_BROKER_URL", EMBEDDED_ALIAS)
    assert resolve_broker_url(flag, conf, start=False) == EmbeddedServer().url


def test_embedded_alias_flag_overrides_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUIQ_BROKER_URL", "redis://env:6379/0")
    assert resolve_broker_url("embedded", None, start=False) == EmbeddedServer().url


# -- backend URL precedence -------------------------------------------------------


def test_backend_flag_env_config_order(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = "amqp://guest:guest@host:5672//"
    monkeypatch.setenv("TUIQ_RESULT_BACKEND", "redis://env/1")
    assert resolve_backend_url("redis://flag/2", "redis://conf/3", broker) == "redis://flag/2"
    assert resolve_backend_url(None, "redis://conf/3", broker) == "redis://env/1"
    monkeypatch.delenv("TUIQ_RESULT_BACKEND")
    assert resolve_backend_url(None, "redis://conf/3", broker) == "redis://conf/3"


@pytest.mark.parametrize(
    "broker",
    [
        "redis://host:6379/0",
        "redis://:secret@host:6379/5",
        "rediss://host:6380/0?ssl_cert_reqs=required",
        "redis+socket:///run/redis/redis.sock",
    ],
)
def test_backend_follows_redis_broker(home: Path, broker: str) -> None:
    assert resolve_backend_url(None, None, broker) == broker


@pytest.mark.parametrize("broker", ["amqp://guest:guest@host:5672//", "filesystem://"])
def test_backend_defaults_to_embedded_for_other_brokers(home: Path, broker: str) -> None:
    assert resolve_backend_url(None, None, broker, start=False) == EmbeddedServer().url


def test_backend_follows_embedded_broker(home: Path) -> None:
    broker = resolve_broker_url(None, None, start=False)
    assert resolve_backend_url(None, None, broker, start=False) == broker


def test_backend_embedded_alias(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUIQ_RESULT_BACKEND", "embedded")
    url = resolve_backend_url(None, "redis://conf/1", "redis://broker/0", start=False)
    assert url == EmbeddedServer().url


# -- mask_url ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:secret@host:6379/0", "redis://:********@host:6379/0"),
        ("amqp://guest:guest@host:5672//", "amqp://guest:********@host:5672//"),
        ("rediss://user:p%40ss@host:6380/1", "rediss://user:********@host:6380/1"),
        ("redis://u:p@ss/w@rd@host/0", "redis://u:********@host/0"),
        ("redis://u:pw@host/0?opt=a@b", "redis://u:********@host/0?opt=a@b"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("redis://user@host:6379/0", "redis://user@host:6379/0"),
        ("redis+socket:///tmp/x/valkey.sock", "redis+socket:///tmp/x/valkey.sock"),
        ("filesystem://", "filesystem://"),
        (
            "sentinel://:a@h1:26379;sentinel://:b@h2:26379",
            "sentinel://:********@h1:26379;sentinel://:********@h2:26379",
        ),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


# -- is_embedded_url and socket paths ---------------------------------------------


def test_is_embedded_url(home: Path) -> None:
    server = EmbeddedServer()
    assert is_embedded_url("embedded")
    assert is_embedded_url(server.url)
    assert is_embedded_url(server.url + "?virtual_host=1")
    assert is_embedded_url(server.url, server)
    assert not is_embedded_url(None)
    assert not is_embedded_url("")
    assert not is_embedded_url("redis://localhost:6379/0")
    assert not is_embedded_url("redis+socket:///var/run/redis/redis.sock")
    other = EmbeddedServer(home.parent / "other")
    assert not is_embedded_url(server.url, other)
    assert other.owns_url(other.url)


def test_socket_in_data_dir_when_short() -> None:
    # A short home of its own: pytest's tmp_path can be too deep for a socket path.
    short = Path(tempfile.mkdtemp(prefix="tq"))
    try:
        server = EmbeddedServer(short / "h")
        assert server.socket_path == short / "h" / "valkey" / "valkey.sock"
        assert not server.uses_short_socket_dir
        assert server.url == f"redis+socket://{server.socket_path}"
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_socket_falls_back_to_short_dir_when_too_long(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    server = EmbeddedServer(deep)
    assert server.data_dir == deep / "valkey"
    assert server.uses_short_socket_dir
    assert len(os.fsencode(str(server.socket_path))) <= 107
    assert server.socket_path.name == "valkey.sock"
    assert server.socket_path.parent.name.startswith(f"tuiq-{os.getuid()}-")
    # Stable per home, different between homes.
    assert EmbeddedServer(deep).socket_path == server.socket_path
    assert EmbeddedServer(deep / "x").socket_path != server.socket_path


def test_config_lines(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "h")
    lines = server.config_lines()
    for expected in (
        "daemonize yes",
        "port 0",
        "unixsocketperm 700",
        "appendonly yes",
        "appendfsync everysec",
        f'unixsocket "{server.socket_path}"',
        f'dir "{server.data_dir}"',
        f'pidfile "{server.pid_path}"',
        f'logfile "{server.log_path}"',
    ):
        assert expected in lines
