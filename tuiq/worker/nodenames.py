"""Worker node names (``name@host``) and the ``%`` abbreviations Celery expands in them.

Two expansions exist and they read the same letters differently (PROTOCOL.md §6):

* :func:`expand_hostname` handles ``-n/--hostname``: ``%h``/``%n``/``%d`` describe the
  *machine* hostname.
* :func:`node_format` handles file paths (``--logfile``, ``--pidfile``, ``--statedb``):
  ``%n`` is the *name part of the nodename* and ``%h``/``%d`` its host part.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping

#: Separator between the name and host parts of a nodename.
NODENAME_SEP = "@"

#: Name part used when a nodename or ``-n`` value has none (Celery's default).
NODENAME_DEFAULT = "celery"

# Same pattern as celery.utils.text.RE_FORMAT, so exactly the same sequences are
# expanded or rejected ("%1" is an error, a trailing "%" or "%-" is left alone).
_RE_FORMAT = re.compile(r"%([%\w])")


def nodesplit(nodename: str) -> tuple[str, str]:
    """Split ``nodename`` on the first ``@`` into ``(name, host)``.

    A value without ``@`` is all host, so the name part is ``""``.
    """
    name, sep, host = nodename.partition(NODENAME_SEP)
    if not sep:
        return "", name
    return name, host


def default_nodename(name: str | None = None) -> str:
    """Return ``<name>@<machine hostname>``, with ``name`` defaulting to ``celery``."""
    return f"{name or NODENAME_DEFAULT}{NODENAME_SEP}{socket.gethostname()}"


def anon_nodename(hostname: str | None = None) -> str:
    """Return the nodename of a non-worker process: ``gen<pid>@<host>``.

    Used for the ``origin`` message header and the ``task-sent`` event hostname.
    """
    return f"gen{os.getpid()}{NODENAME_SEP}{hostname or socket.gethostname()}"


def _expand(template: str, keys: Mapping[str, str]) -> str:
    """Replace every ``%X`` in ``template`` using ``keys``; ``%%`` is always a literal ``%``."""

    def resolve(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "%":
            return "%"
        try:
            return keys[key]
        except KeyError:
            raise ValueError(f"Unknown format %{key}") from None

    return _RE_FORMAT.sub(resolve, template)


def _host_keys(host: str) -> dict[str, str]:
    """Return the ``%h``/``%n``/``%d`` values describing ``host``."""
    first, _, domain = host.partition(".")
    return {"h": host, "n": first, "d": domain}


def expand_hostname(value: str | None, hostname: str | None = None) -> str:
    """Turn a ``-n/--hostname`` value into a nodename.

    A value without ``@`` is the host part, so ``celery@`` is prepended; then ``%h``
    (full machine hostname), ``%n`` (its first label), ``%d`` (its domain) and ``%%``
    are expanded against ``hostname`` (default: :func:`socket.gethostname`).  An empty
    name or host part is filled with ``celery`` or the machine hostname.  ``%i``/``%I``
    expand to ``0``/``""``: the nodename is computed in the main process, as in Celery.
    """
    machine = hostname or socket.gethostname()
    # Splitting happens before expansion, as in Celery: "-n %n" means host "%n", and an
    # empty part ("@box", "w1@") is filled with the default name or the machine hostname.
    name, host = nodesplit(value or "")
    value = f"{name or NODENAME_DEFAULT}{NODENAME_SEP}{host or machine}"
    return _expand(value, {**_host_keys(machine), "i": "0", "I": ""})


def node_format(template: str, nodename: str, index: int | None = None) -> str:
    """Expand the file-path variables of ``template`` for ``nodename``.

    ``%p`` full nodename, ``%n`` its name part (``celery`` when it has none), ``%h`` its
    host part, ``%d`` the domain of the host part, ``%i`` the pool process index (``0``
    in the main process), ``%I`` ``-<index>`` in a child and ``""`` in the main process,
    ``%%`` a literal ``%``.  ``index`` ``None`` or ``0`` means the main process.

    Raises:
        ValueError: ``"Unknown format %X"`` for any other letter.
    """
    name, host = nodesplit(nodename)
    # Celery falls back to the machine hostname when the host part is empty ("w1@").
    keys = _host_keys(host or socket.gethostname())
    keys.update(
        n=name or NODENAME_DEFAULT,
        p=nodename,
        i=str(index or 0),
        I=f"-{index}" if index else "",
    )
    return _expand(template, keys)
