"""The worker's state file (``--statedb``): revoked ids and the logical clock, across restarts.

tuiq writes its own keys as JSON in a ``dbm`` file. It also reads a state file
written by a Celery worker (a ``shelve`` whose ``zrevoked`` key holds a
compressed pickle of Celery's ``LimitedSet``), with an unpickler that only
rebuilds that one class, so moving a node from Celery to tuiq keeps its revokes.
"""

from __future__ import annotations

import dbm
import io
import json
import logging
import pickle
import zlib
from typing import Any

logger = logging.getLogger("tuiq.worker")

REVOKED_KEY = b"tuiq.revoked"
CLOCK_KEY = b"tuiq.clock"


class _CeleryLimitedSet:
    """Stands in for ``celery.utils.collections.LimitedSet`` when reading its pickle."""

    def __init__(self, maxlen: int = 0, expires: float = 0, data: Any = None,
                 minlen: int = 0) -> None:
        self.ids = list(data or ())


class _StateUnpickler(pickle.Unpickler):
    """Rebuilds Celery's LimitedSet and plain containers; refuses everything else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("celery.utils.collections", "LimitedSet"):
            return _CeleryLimitedSet
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a state file")


def _unpickle(data: bytes) -> Any:
    return _StateUnpickler(io.BytesIO(data)).load()


def _ids_from(value: Any) -> list[str]:
    if isinstance(value, _CeleryLimitedSet):
        return [str(i) for i in value.ids]
    if isinstance(value, dict | list | tuple | set):
        return [str(i) for i in value]
    return []


class StateDB:
    """Load and save revoked ids and the clock in one file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> tuple[list[str], int]:
        """``(revoked ids, clock)`` from the file; empty when it does not exist yet."""
        try:
            db = dbm.open(self.path, "r")
        except dbm.error:
            return [], 0
        with db:
            ids: list[str] = []
            clock = 0
            if REVOKED_KEY in db:
                ids.extend(json.loads(db[REVOKED_KEY]))
            if CLOCK_KEY in db:
                clock = int(json.loads(db[CLOCK_KEY]))
            ids.extend(self._celery_ids(db))
            if b"clock" in db:
                try:
                    clock = max(clock, int(_unpickle(db[b"clock"])))
                except (pickle.UnpicklingError, TypeError, ValueError, EOFError) as exc:
                    logger.warning("state file %s: unreadable clock: %r", self.path, exc)
        return list(dict.fromkeys(ids)), clock

    def _celery_ids(self, db) -> list[str]:
        for key, compressed in ((b"zrevoked", True), (b"revoked", False)):
            if key not in db:
                continue
            try:
                # shelve pickles every value: zrevoked is a pickled bytes of a
                # compressed pickle; the legacy key is the pickled set itself.
                value = _unpickle(db[key])
                if compressed:
                    value = _unpickle(zlib.decompress(value))
                return _ids_from(value)
            except (pickle.UnpicklingError, zlib.error, EOFError, TypeError, ValueError) as exc:
                logger.warning("state file %s: cannot read Celery's %s: %r", self.path,
                               key.decode(), exc)
        return []

    def save(self, revoked: list[str], clock: int) -> None:
        """Write the revoked ids (oldest first) and the clock."""
        with dbm.open(self.path, "c") as db:
            db[REVOKED_KEY] = json.dumps(revoked)
            db[CLOCK_KEY] = json.dumps(int(clock))
