"""A TERM sent to the worker's whole process group (as systemd and `timeout` do)."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.support.brokers import broker_urls, unique
from tests.support.workers import client_app, start_worker


@pytest.mark.parametrize("tasks_before", [0, 20])
def test_term_to_the_process_group_still_exits(embedded_url, tmp_path, tasks_before):
    broker_url, backend_url = broker_urls("redis", embedded_url)
    queue = unique("pg")
    worker = start_worker(tmp_path, broker_url, backend_url, name=unique("pg"),
                          queues=[queue], extra=["-c", "2"])
    app = client_app(broker_url, backend_url)
    results = [app.send_task("testproj.add", (i, i), queue=queue) for i in range(tasks_before)]
    assert [r.get(timeout=15) for r in results] == [i * 2 for i in range(tasks_before)]
    # The pool processes die at once; the main process must not hang on
    # locks they held when they died.
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        code = worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        raise AssertionError(f"worker hung after a group TERM:\n{worker.log()[-2000:]}") \
            from None
    assert code == 0, worker.log()[-2000:]
