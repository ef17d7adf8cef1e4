"""The state file: tuiq's own round trip, and reading the file a Celery worker leaves."""

from __future__ import annotations

import pickle
import shelve
import zlib

from celery.utils.collections import LimitedSet as CeleryLimitedSet

from tuiq.worker.statedb import StateDB


def test_round_trip_keeps_order_and_clock(tmp_path):
    db = StateDB(str(tmp_path / "state.db"))
    assert db.load() == ([], 0)
    db.save(["a", "b", "c"], 42)
    assert db.load() == (["a", "b", "c"], 42)
    db.save(["c"], 43)
    assert db.load() == (["c"], 43)


def test_reads_a_celery_state_file(tmp_path):
    path = str(tmp_path / "celery.db")
    revoked = CeleryLimitedSet(maxlen=50000, expires=10800)
    revoked.add("celery-revoked-1")
    revoked.add("celery-revoked-2")
    # Exactly what celery.worker.state.Persistent writes at exit.
    with shelve.open(path, protocol=4) as db:
        db["__proto__"] = 3
        db["zrevoked"] = zlib.compress(pickle.dumps(revoked, protocol=4))
        db["clock"] = 77
    ids, clock = StateDB(path).load()
    assert sorted(ids) == ["celery-revoked-1", "celery-revoked-2"]
    assert clock == 77


def test_refuses_arbitrary_pickles(tmp_path, caplog):
    path = str(tmp_path / "evil.db")
    with shelve.open(path, protocol=4) as db:
        db["zrevoked"] = zlib.compress(pickle.dumps(ValueError("not a set")))
    assert StateDB(path).load() == ([], 0)
    assert "cannot read Celery's zrevoked" in caplog.text
