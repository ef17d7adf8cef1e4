"""When the pool cannot be forked after the start-up sync, the worker stops instead of
holding its tasks forever."""

from __future__ import annotations

from tuiq import App
from tuiq.worker.pool import SoloPool
from tuiq.worker.worker import EXIT_FAILURE, Worker


class _RefusedPool(SoloPool):
    def start(self, hub: object = None) -> None:
        raise OSError(11, "Resource temporarily unavailable")


class _HeldConsumer:
    hub = None

    def __init__(self) -> None:
        self.holding = True

    def release_hold(self) -> None:
        self.holding = False


def test_a_refused_fork_after_the_sync_is_a_cold_shutdown(caplog):
    app = App("pool-start", broker="memory://", backend="cache+memory://",
              set_as_current=False)
    worker = Worker(app, "unit@host", pool="solo")
    worker.pool = _RefusedPool()
    consumer = _HeldConsumer()
    worker._mingled(consumer, [])
    assert worker.stopping and worker.cold
    assert worker.exitcode == EXIT_FAILURE
    assert consumer.holding, "no task may start without a pool"
    assert "cannot start the solo pool: [Errno 11] Resource temporarily unavailable" \
        in caplog.text


def test_the_pool_starts_once_and_releases_the_hold():
    app = App("pool-start", broker="memory://", backend="cache+memory://",
              set_as_current=False)
    worker = Worker(app, "unit@host", pool="solo")
    consumer = _HeldConsumer()
    worker._mingled(consumer, [])
    assert not consumer.holding and worker.ready_at is not None
    ready_at = worker.ready_at
    worker._mingled(consumer, [])
    assert worker.ready_at == ready_at
