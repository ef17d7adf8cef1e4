"""Every setting and its default, and how settings are loaded.

Names follow Celery 5's lowercase settings so a Celery config module works
unchanged. Sources, later ones winning: these defaults, the app's ``config``
argument, ``config_from_object`` (an object or a module path), then
``TUIQ_<SETTING>`` environment variables (``TUIQ_BROKER_URL=...``).
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

DEFAULTS: dict[str, Any] = {
    # connections
    "broker_url": None,
    "broker_transport_options": {},
    "broker_connection_timeout": 4.0,
    "broker_connection_retry": True,
    "broker_connection_max_retries": None,
    "broker_heartbeat": 120.0,
    "result_backend": None,
    "result_backend_transport_options": {},
    # serialization
    "task_serializer": "json",
    "result_serializer": "json",
    "event_serializer": "json",
    "accept_content": ["json"],
    "result_accept_content": None,
    "task_compression": None,
    # results
    "result_expires": 86400,
    "result_failure_expires": None,
    "result_extended": False,
    "result_persistent": False,
    "task_ignore_result": False,
    "task_store_errors_even_if_ignored": False,
    "task_track_started": False,
    # routing
    "task_default_queue": "celery",
    "task_default_exchange": None,
    "task_default_exchange_type": "direct",
    "task_default_routing_key": None,
    "task_default_delivery_mode": 2,
    "task_default_priority": None,
    "task_queues": None,
    "task_routes": None,
    "task_create_missing_queues": True,
    "task_queue_max_priority": None,
    "worker_direct": False,
    # task behaviour
    "task_acks_late": False,
    "task_acks_on_failure_or_timeout": True,
    "task_reject_on_worker_lost": False,
    "task_time_limit": None,
    "task_soft_time_limit": None,
    "task_default_rate_limit": None,
    "task_default_retry_delay": 180,
    "task_max_retries": 3,
    "task_publish_retry": True,
    "task_publish_retry_policy": {
        "max_retries": 3,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    },
    "task_always_eager": False,
    "task_eager_propagates": False,
    "task_send_sent_event": False,
    "task_protocol": 2,
    # worker
    "worker_concurrency": None,
    "worker_pool": "prefork",
    "worker_prefetch_multiplier": 4,
    "worker_max_tasks_per_child": None,
    "worker_max_memory_per_child": None,
    "worker_disable_rate_limits": False,
    "worker_send_task_events": False,
    "worker_state_db": None,
    "worker_hijack_root_logger": True,
    "worker_log_format": "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s",
    "worker_redirect_stdouts": True,
    "worker_autoscaler": "tuiq.worker.autoscale:Autoscaler",
    "worker_autoscale_keepalive": 30.0,
    "worker_mingle_timeout": 1.0,
    "worker_pool_restarts": False,
    "worker_eta_task_limit": None,
    "worker_lost_wait": 1.0,
    "worker_pool_lookahead": 1,
    "worker_heartbeat_interval": 2.0,
    "worker_cancel_long_running_tasks_on_connection_loss": False,
    # control and events
    "control_exchange": "celery",
    "control_queue_ttl": 300.0,
    "control_queue_expires": 10.0,
    "event_exchange": "celeryev",
    "event_queue_prefix": "celeryev",
    "event_queue_ttl": 5.0,
    "event_queue_expires": 60.0,
    "event_queue_durable": False,
    "event_queue_exclusive": True,
    # misc
    "imports": (),
    "include": (),
    "timezone": None,
    "enable_utc": True,
    "beat_schedule": {},
    "beat_schedule_filename": "celerybeat-schedule",
    "beat_max_loop_interval": 300,
}

#: Celery's pre-4.0 uppercase names that a config module may still use.
_LEGACY_ALIASES = {
    "BROKER_URL": "broker_url",
    "CELERY_RESULT_BACKEND": "result_backend",
    "CELERY_TASK_SERIALIZER": "task_serializer",
    "CELERY_RESULT_SERIALIZER": "result_serializer",
    "CELERY_ACCEPT_CONTENT": "accept_content",
    "CELERY_IMPORTS": "imports",
    "CELERY_TIMEZONE": "timezone",
    "CELERY_ENABLE_UTC": "enable_utc",
    "CELERYD_CONCURRENCY": "worker_concurrency",
    "CELERYD_PREFETCH_MULTIPLIER": "worker_prefetch_multiplier",
    "CELERY_ROUTES": "task_routes",
    "CELERY_QUEUES": "task_queues",
    "CELERYBEAT_SCHEDULE": "beat_schedule",
    "CELERY_SEND_EVENTS": "worker_send_task_events",
    "CELERY_SEND_TASK_SENT_EVENT": "task_send_sent_event",
    "CELERY_EVENT_SERIALIZER": "event_serializer",
}

ENV_PREFIX = "TUIQ_"


def _coerce_env(value: str, default: Any) -> Any:
    """Turn an environment string into the type of the setting's default."""
    if isinstance(default, bool):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int) and not isinstance(default, bool):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, list | tuple):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(default, dict):
        return json.loads(value)
    if default is None:
        text = value.strip()
        if text.lower() in ("none", "null", ""):
            return None
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
    return value


def settings_from_object(obj: object | str) -> dict[str, Any]:
    """Read settings from an object or from a module given by its dotted path.

    Only lowercase names that are known settings (or Celery's legacy uppercase
    aliases) and any other lowercase public attribute are taken.
    """
    if isinstance(obj, str):
        module_name, _, attr = obj.partition(":")
        obj = importlib.import_module(module_name)
        if attr:
            obj = getattr(obj, attr)
    items = obj.items() if isinstance(obj, Mapping) else (
        (name, getattr(obj, name)) for name in dir(obj)
    )
    found: dict[str, Any] = {}
    for name, value in items:
        if name.startswith("_"):
            continue
        if name in _LEGACY_ALIASES:
            found[_LEGACY_ALIASES[name]] = value
        elif name.islower() and not callable(value) and not _is_module(value):
            found[name] = value
    return found


def _is_module(value: object) -> bool:
    return type(value).__name__ == "module"


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read ``TUIQ_<SETTING>`` variables for settings that exist in :data:`DEFAULTS`."""
    environ = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name in DEFAULTS:
            found[name] = _coerce_env(raw, DEFAULTS[name])
    return found


class Settings(MutableMapping[str, Any]):
    """The app's settings: a mapping that also allows attribute access.

    Layers are kept separate so ``changes()`` can tell which values differ from
    the defaults (``inspect conf`` shows only those).
    """

    def __init__(self, *layers: Mapping[str, Any]) -> None:
        self._values: dict[str, Any] = dict(DEFAULTS)
        self._changed: dict[str, Any] = {}
        for layer in layers:
            self.update(layer)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = value
        self._changed[key] = value

    def __delitem__(self, key: str) -> None:
        self._changed.pop(key, None)
        if key in DEFAULTS:
            self._values[key] = DEFAULTS[key]
        else:
            del self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"no setting named {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def changes(self) -> dict[str, Any]:
        """Settings whose values were given explicitly (not defaults)."""
        return dict(self._changed)
