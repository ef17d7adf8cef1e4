"""Tasks run and results come back on every broker."""

from __future__ import annotations

import pytest


def test_add_round_trip(app, worker, queue_name):
    result = app.send_task("testproj.add", (2, 3), queue=queue_name)
    assert result.get(timeout=10) == 5
    assert result.state == "SUCCESS"


def test_failure_reraised_with_type(app, worker, queue_name):
    result = app.send_task("testproj.fail", ("kaput",), queue=queue_name)
    with pytest.raises(ValueError, match="kaput"):
        result.get(timeout=10)
    assert result.state == "FAILURE"
    assert "ValueError: kaput" in result.traceback
