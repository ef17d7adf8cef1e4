"""A stock Celery app with the test project's task names.

The ``celery worker`` subprocess imports it (``-A tests.compat.celeryproj``) and reads its
broker and result backend from ``COMPAT_CELERY_BROKER`` / ``COMPAT_CELERY_BACKEND``.  The
tests build their own client apps with :func:`make_app`.
"""

from __future__ import annotations

import os

from celery import Celery


def add(x, y):
    """Return ``x + y``."""
    return x + y


def echo(value):
    """Return ``value`` unchanged."""
    return value


def fail(message="boom"):
    """Raise ``ValueError(message)``."""
    raise ValueError(message)


def make_app(broker: str, backend: str) -> Celery:
    """A Celery app whose tasks are named like ``tests.support.testproj``'s."""
    capp = Celery("celeryproj", broker=broker, backend=backend, set_as_current=False)
    # result_expires: the same 600 s as helpers.RESULT_EXPIRES.
    capp.conf.update(broker_connection_retry_on_startup=True, result_expires=600)
    for name, fun in (("add", add), ("echo", echo), ("fail", fail)):
        capp.task(name=f"testproj.{name}")(fun)
    return capp


app = make_app(os.environ.get("COMPAT_CELERY_BROKER", "redis://127.0.0.1:6379/11"),
               os.environ.get("COMPAT_CELERY_BACKEND", "redis://127.0.0.1:6379/12"))
