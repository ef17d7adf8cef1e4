"""Commands a user registers in a module listed in ``imports`` run on the worker."""

from __future__ import annotations

import pytest

from tests.support.brokers import BROKERS, broker_urls, unique
from tests.support.polling import wait_until
from tests.support.workers import start_worker
from tuiq import App
from tuiq.control.registry import lookup


def test_celery_style_declarations_are_registered():
    import tests.support.usercmds  # noqa: F401

    command = lookup("increase_prefetch_count")
    assert command.kind == "control" and command.signature == "[N=1]"
    assert command.args[0].name == "n" and command.args[0].type is int
    assert lookup("current_prefetch_count").kind == "inspect"
    assert lookup("user_hello").help == "Say hello from a user-defined command."


@pytest.mark.parametrize("kind", BROKERS)
def test_user_commands_run_on_the_worker(kind, embedded_url, tmp_path):
    broker, backend = broker_urls(kind, embedded_url)
    client = App("usercmd-client", broker=broker, backend=backend, set_as_current=False)
    worker = start_worker(tmp_path, broker, backend, name=unique("usercmd"),
                          queues=[unique("q")], app_spec="tests.support.usercmds_app",
                          extra=["-c", "1"], ping_app=client)
    node = worker.nodename
    try:
        inspect = client.control.inspect(destination=[node], timeout=5)
        assert inspect.user_hello(greeting="hey")[node] == {"ok": "hey"}
        before = inspect.current_prefetch_count()[node]["prefetch_count"]
        replies = client.control.broadcast("increase_prefetch_count", {"n": 3},
                                           destination=[node], reply=True, timeout=5)
        assert replies[node] == {"ok": "prefetch count incremented"}
        wait_until(lambda: inspect.current_prefetch_count()[node]["prefetch_count"]
                   == before + 3, timeout=10)
    finally:
        client.close()
        assert worker.stop() == 0
