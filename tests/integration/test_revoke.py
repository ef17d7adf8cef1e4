"""Revoking tasks: before they run, and terminating them while they run."""

from __future__ import annotations

import pytest

from tests.integration.helpers import wait_until
from tuiq.exceptions import TaskRevokedError


def test_revoked_before_delivery_is_discarded(shared, sapp):
    task_id = "revoked-" + shared.queue
    sapp.control.revoke(task_id)
    # A cast has no reply: wait until the worker has it by asking with a ping.
    sapp.control.ping(destination=[shared.worker.nodename], timeout=2)
    result = sapp.send_task("testproj.add", (1, 2), queue=shared.queue, task_id=task_id)
    with pytest.raises(TaskRevokedError):
        result.get(timeout=10)
    assert result.state == "REVOKED"


def test_terminate_kills_the_running_task_and_stores_revoked(shared, sapp, tmp_path):
    marker = tmp_path / "marker"
    result = sapp.send_task("testproj.sleep", (30, str(marker)), queue=shared.queue)
    wait_until(lambda: marker.exists() and "start" in marker.read_text())
    replies = sapp.control.revoke(result.id, terminate=True, signal="SIGKILL", reply=True,
                                  destination=[shared.worker.nodename], timeout=5)
    assert replies == [{shared.worker.nodename: {"ok": f"terminate: {result.id}"}}]
    with pytest.raises(TaskRevokedError, match="terminated"):
        result.get(timeout=15)
    # The pool replaced the killed process: the next task runs.
    assert sapp.send_task("testproj.add", (2, 2), queue=shared.queue).get(timeout=15) == 4
