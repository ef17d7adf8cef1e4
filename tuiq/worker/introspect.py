"""What a worker says about itself: ``stats``, ``conf``, ``report`` and memory samples."""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from collections import deque
from typing import Any

from tuiq.broker import mask_url

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None

_RUSAGE_FIELDS = ("utime", "stime", "maxrss", "ixrss", "idrss", "isrss", "minflt", "majflt",
                  "nswap", "inblock", "oublock", "msgsnd", "msgrcv", "nsignals", "nvcsw",
                  "nivcsw")

#: Setting names whose values are secrets, masked in ``conf`` and ``report``.
_SECRET = re.compile(r"(password|passwd|secret|token|credential|api_?key)", re.IGNORECASE)


def rusage() -> dict[str, Any] | str:
    """getrusage(2) of this process, with Celery's field names (or ``"N/A"``)."""
    if resource is None:
        return "N/A"
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {name: getattr(usage, f"ru_{name}") for name in _RUSAGE_FIELDS}


def json_safe(value: Any) -> Any:
    """``value`` with anything JSON cannot carry turned into its repr."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def masked_setting(name: str, value: Any) -> Any:
    """A setting's value with passwords in URLs and secret-named values hidden."""
    if _SECRET.search(name) and value:
        return "********"
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    if isinstance(value, dict):
        return {k: masked_setting(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked_setting(name, v) for v in value]
    return value


def configuration(app, with_defaults: bool = False) -> dict[str, Any]:
    """The app's settings as ``inspect conf`` shows them."""
    settings = dict(app.conf) if with_defaults else app.conf.changes()
    return {name: json_safe(masked_setting(name, value))
            for name, value in sorted(settings.items())
            if isinstance(name, str) and not name.startswith("__")}


def report(app) -> str:
    """Versions, platform, broker and non-default settings, for a bug report."""
    import billiard
    import kombu

    import tuiq

    lines = [
        f"software -> tuiq:{tuiq.__version__} kombu:{kombu.__version__} "
        f"billiard:{billiard.__version__} py:{platform.python_version()}",
        f"platform -> system:{platform.system()} arch:{platform.machine()} "
        f"imp:{sys.implementation.name}",
        f"loader -> {app.main or '__main__'}",
        f"settings -> transport:{_scheme(app.broker_url)} results:{_scheme(app.backend_url)}",
        "",
    ]
    for name, value in configuration(app).items():
        lines.append(f"{name}: {value!r}")
    return "\n".join(lines)


def _scheme(url: str | None) -> str:
    if not url:
        return "disabled"
    return mask_url(url)


def broker_info(connection) -> dict[str, Any]:
    """The connection's details as Celery's ``stats["broker"]`` shows them."""
    if connection is None:
        return {}
    try:
        info = connection.info()
    except Exception:  # noqa: BLE001 - a dead connection still answers stats
        return {}
    info.pop("password", None)
    # Our own transport classes stand in for kombu's; report the scheme as Celery does.
    info["transport"] = connection.transport.driver_type if not isinstance(
        info.get("transport"), str) else info["transport"]
    return json_safe(info)


class MemorySampler:
    """Resident-memory samples kept for ``memsample`` / ``memdump``."""

    def __init__(self, keep: int = 1000) -> None:
        self.samples: deque[tuple[float, int]] = deque(maxlen=keep)

    def sample(self) -> str:
        """Take a sample now; return it as ``"59.148MB"``."""
        rss = resident_bytes()
        self.samples.append((time.time(), rss))
        return _megabytes(rss)

    def dump(self, count: int = 10) -> str:
        """A summary of the last ``count`` samples."""
        if not self.samples:
            return "No memory samples yet: run memsample first."
        recent = list(self.samples)[-max(count, 1):]
        values = [rss for _, rss in recent]
        lines = [f"Memory samples (last {len(recent)} of {len(self.samples)}):"]
        lines += [f"    {time.strftime('%H:%M:%S', time.localtime(when))}  {_megabytes(rss)}"
                  for when, rss in recent]
        lines.append(f"min {_megabytes(min(values))}, max {_megabytes(max(values))}, "
                     f"peak RSS {_megabytes(peak_resident_bytes())}")
        return "\n".join(lines)


def resident_bytes() -> int:
    """This process's resident set size in bytes."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_resident_bytes()


def peak_resident_bytes() -> int:
    """The largest resident set size so far, in bytes."""
    if resource is None:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.3f}MB"
