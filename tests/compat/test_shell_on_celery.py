"""``tuiq shell`` drives a real Celery 5.7 worker: commands, call/result, and completion names.

Runs on Redis and on RabbitMQ with the session's ``celery worker``; commands name
it with ``-d`` because other tests' nodes share the broker.
"""

from __future__ import annotations

import json
import re

from tests.integration.helpers import tuiq_cli
from tests.support.polling import wait_until
from tuiq.control.client import ControlClient
from tuiq.shell.names import fetch_names


def _shell(env, *commands: str):
    args = ["-b", env.broker_url, "--result-backend", env.backend_url, "shell"]
    for command in commands:
        args += ["-c", command]
    return tuiq_cli(args, timeout=60)


def test_shell_inspect_ping_on_a_celery_worker(env, celery_node):
    node = celery_node.name
    result = _shell(env, f"inspect ping -d {node} -t 5")
    assert result.returncode == 0, result.stderr
    assert re.search(rf"{re.escape(node)}\s*│\s*ok\s*│\s*pong", result.stdout)
    assert result.stderr == ""


def test_shell_use_then_json_commands_on_a_celery_worker(env, celery_node):
    node = celery_node.name
    result = _shell(env, f"use {node}", "registered -j", "json on", "active_queues")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert result.stderr.splitlines() == [f"destination: {node}", "json output on"]
    assert "testproj.add" in json.loads(lines[0])[node]
    queues = {queue["name"] for queue in json.loads(lines[1])[node]}
    assert set(celery_node.free_queues) <= queues


def test_shell_call_and_result_through_a_celery_worker(env, celery_node, celery_queue):
    sent = _shell(env, f"call testproj.add 20 22 -Q {celery_queue}")
    assert sent.returncode == 0, sent.stderr
    task_id = sent.stdout.strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", task_id)
    waited = _shell(env, f"result {task_id} --wait -t 20")
    assert waited.returncode == 0, (waited.stderr, celery_node.log()[-3000:])
    assert waited.stdout == "42\n"


def test_completion_names_come_from_a_celery_worker(env, tuiq_client, celery_client,
                                                    celery_node, celery_queue):
    running = celery_client.send_task("testproj.add", (1, 2), queue=celery_queue,
                                       countdown=60)
    try:
        with ControlClient(tuiq_client) as client:

            def scheduled_id_seen():
                # The worker holds the countdown task in its schedule once it received it.
                found = fetch_names(client, timeout=5)
                return found if (running.id, "testproj.add") in found.task_ids else None

            fetched = wait_until(scheduled_id_seen, timeout=20,
                                 message="the scheduled task id never showed")
        assert celery_node.name in fetched.pings
        assert {"testproj.add", "testproj.echo", "testproj.fail"} <= fetched.tasks
        assert celery_queue in fetched.queues
    finally:
        running.revoke()
