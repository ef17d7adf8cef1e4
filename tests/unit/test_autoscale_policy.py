"""The autoscale policy alone: how many processes it wants for the work it sees."""

from __future__ import annotations

import collections

import pytest

from tuiq.worker.autoscale import Autoscaler


class _Pool:
    def __init__(self, size):
        self.concurrency = size

    def grow(self, n):
        self.concurrency += n

    def shrink(self, n):
        self.concurrency -= n


class _Consumer:
    def __init__(self):
        self.active = {}
        self.ready = collections.deque()

    def running_count(self):
        return len(self.active)

    def reserved_requests(self):
        return list(self.ready)

    def dispatch(self):
        pass

    def adjust_prefetch(self, n):
        self.prefetch_delta = n


class _Worker:
    def __init__(self, size):
        self.pool = _Pool(size)
        self.consumer = _Consumer()


def test_grows_to_the_waiting_work_but_not_past_max():
    worker = _Worker(1)
    scaler = Autoscaler(worker, 4, 1, keepalive=30)
    worker.consumer.ready.extend(range(10))
    scaler.maybe_scale()
    assert worker.pool.concurrency == 4


def test_keeps_a_burst_for_keepalive_then_shrinks_to_min():
    worker = _Worker(1)
    scaler = Autoscaler(worker, 4, 2, keepalive=30)
    worker.consumer.ready.extend(range(3))
    scaler.maybe_scale()
    assert worker.pool.concurrency == 3
    worker.consumer.ready.clear()
    scaler.maybe_scale()
    assert worker.pool.concurrency == 3  # within keepalive
    scaler.keepalive = 0
    scaler.maybe_scale()
    assert worker.pool.concurrency == 2


def test_update_validates_and_moves_prefetch():
    worker = _Worker(1)
    scaler = Autoscaler(worker, 4, 1)
    assert scaler.update(6, None) == (6, 1)
    assert worker.consumer.prefetch_delta == 2
    with pytest.raises(ValueError):
        scaler.update(2, 3)
    assert scaler.info() == {"max": 6, "min": 1, "current": 1, "qty": 0}
