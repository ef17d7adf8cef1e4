"""The worker consumes kombu's polling ``filesystem://`` transport too."""

from __future__ import annotations

import json

from tests.support.brokers import REDIS_URL, require_port, unique
from tests.support.workers import start_worker
from tuiq import App


def test_task_round_trip_over_the_filesystem_transport(tmp_path):
    require_port("127.0.0.1", 6379, "Redis")
    folder = tmp_path / "messages"
    folder.mkdir()
    # control_folder too: kombu's default is a "control" folder in the cwd.
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
               "control_folder": str(tmp_path / "control")}
    backend = f"{REDIS_URL}/10"
    queue = unique("fsq")
    env = {"TUIQ_BROKER_TRANSPORT_OPTIONS": json.dumps(options)}
    worker = start_worker(tmp_path, "filesystem://", backend, name=unique("fs"), queues=[queue],
                          extra=["-c", "1"], env=env, wait=False)
    try:
        app = App("fsclient", broker="filesystem://", backend=backend,
                  broker_transport_options=options, set_as_current=False)
        result = app.send_task("testproj.add", (20, 22), queue=queue)
        assert result.get(timeout=20) == 42, worker.log()[-2000:]
    finally:
        assert worker.stop() == 0
