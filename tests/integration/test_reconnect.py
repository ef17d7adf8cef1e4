"""A running worker survives its Redis going away and coming back."""

from __future__ import annotations

from tests.integration.helpers import wait_logged, wait_until
from tests.support.brokers import unique
from tests.support.redis_server import RedisServer
from tests.support.testproj import add, now
from tests.support.workers import client_app, start_worker, wait_for_ping


def test_worker_reconnects_after_redis_restarts(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    broker_url, backend_url = server.url(0), server.url(1)
    queue = unique("reconnect")
    worker = None
    app = client_app(broker_url, backend_url)
    try:
        worker = start_worker(tmp_path, broker_url, backend_url, name=unique("rc"),
                              queues=[queue], extra=["-c", "2"])
        assert add.apply_async((1, 2), queue=queue).get(timeout=10) == 3
        app.close()

        server.kill()
        wait_logged(worker, "Connection to broker lost", timeout=15)
        # Stay down long enough for at least one failed reconnection attempt.
        wait_logged(worker, "Cannot connect to redis://127.0.0.1:", timeout=15)
        assert worker.process.poll() is None, "the worker exited when Redis went away"
        server.start()

        # The restarted server is empty: the worker must declare its queues again.
        wait_for_ping(app, worker.nodename, worker.process, worker.logfile, timeout=30)
        result = now.apply_async(queue=queue)
        ran = result.get(timeout=20)
        assert ran["pid"] != worker.pid
        assert add.apply_async((2, 3), queue=queue).get(timeout=10) == 5
        log = worker.log()
        assert log.count(f"{worker.nodename} ready.") == 1
        assert "Reconnected to broker redis://127.0.0.1:" in log, log[-3000:]
    finally:
        app.close()
        try:
            if worker is not None:
                assert worker.stop() == 0
        finally:
            server.stop()


def test_control_client_survives_a_broker_restart(tmp_path):
    """The client keeps its connection between calls; a dead one is replaced, not reported."""
    from tuiq import App
    from tuiq.exceptions import BrokerUnavailable

    server = RedisServer(tmp_path)
    server.start()
    url = server.url()
    client_app_ = App("restart-client", broker=url, backend=url, set_as_current=False)
    worker = start_worker(tmp_path, url, url, name=unique("cc"), queues=[unique("q")],
                          extra=["-c", "1"], ping_app=client_app_)
    try:
        control = client_app_.control
        assert worker.nodename in control.ping(destination=[worker.nodename])[0]
        server.kill()
        try:
            control.ping(destination=[worker.nodename], timeout=0.5)
        except BrokerUnavailable as exc:
            assert "cannot reach broker" in str(exc)
        server.start()
        wait_until(lambda: control.ping(destination=[worker.nodename], timeout=0.5),
                   timeout=30, message="no ping reply after the broker came back")
    finally:
        client_app_.close()
        assert worker.stop() == 0
        server.stop()
