"""Settings: defaults, objects, modules and TUIQ_* environment variables."""

from __future__ import annotations

import types

from tuiq.config import DEFAULTS, Settings, settings_from_env, settings_from_object


def test_defaults_and_changes():
    settings = Settings({"task_acks_late": True})
    assert settings.task_default_queue == "celery"
    assert settings["task_acks_late"] is True
    assert settings.changes() == {"task_acks_late": True}
    settings.worker_concurrency = 3
    assert settings.changes()["worker_concurrency"] == 3


def test_from_object_takes_lowercase_and_legacy_names():
    module = types.SimpleNamespace(broker_url="redis://x/1", BROKER_URL="redis://legacy/2",
                                   CELERY_TASK_SERIALIZER="json", _private=1, Other=2)
    found = settings_from_object(module)
    assert found["broker_url"] in ("redis://x/1", "redis://legacy/2")
    assert found["task_serializer"] == "json"
    assert "_private" not in found and "Other" not in found


def test_env_variables_are_typed():
    env = {"TUIQ_WORKER_PREFETCH_MULTIPLIER": "1", "TUIQ_TASK_ACKS_LATE": "yes",
           "TUIQ_ACCEPT_CONTENT": "json,msgpack", "TUIQ_BROKER_URL": "amqp://h//",
           "TUIQ_NOT_A_SETTING": "x", "OTHER": "y"}
    found = settings_from_env(env)
    assert found == {"worker_prefetch_multiplier": 1, "task_acks_late": True,
                     "accept_content": ["json", "msgpack"], "broker_url": "amqp://h//"}


def test_every_default_is_in_one_place():
    assert DEFAULTS["accept_content"] == ["json"]
    assert DEFAULTS["result_expires"] == 86400


def test_env_numbers_for_settings_without_a_typed_default():
    found = settings_from_env({"TUIQ_WORKER_CONCURRENCY": "3", "TUIQ_TASK_TIME_LIMIT": "2.5",
                               "TUIQ_RESULT_BACKEND": "none"})
    assert found == {"worker_concurrency": 3, "task_time_limit": 2.5, "result_backend": None}
