"""Fixtures of the shell tests: the command table and names, no broker, no terminal."""

from __future__ import annotations

import pytest

from tuiq.shell.names import NameStore
from tuiq.shell.specs import build_table


@pytest.fixture(scope="session")
def table():
    """Every built-in command, as the shell sees them."""
    return build_table()


@pytest.fixture
def names():
    """A store with two nodes (one silent), task names, queues and recent task ids."""
    store = NameStore(tasks=["proj.add", "proj.mul", "proj.send_email"],
                      queues=["celery", "emails"])
    store.note_ping({"w1@alpha": {"ok": "pong"}, "w2@beta": {"ok": "pong"}})
    store.note_missing(["w2@beta"])
    store.remember_ids([("1111-old", "proj.add")], "reply")
    store.remember_ids([("2222-new", "proj.mul")], "event")
    return store
