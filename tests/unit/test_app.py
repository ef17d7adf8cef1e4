"""The app: task registration, naming, routing and queues (no broker needed)."""

from __future__ import annotations

import re

import pytest
from kombu import Exchange, Queue

from tuiq import App
from tuiq.exceptions import NotRegistered, QueueNotFound


def test_task_registration_and_options():
    app = App("reg", set_as_current=False)

    @app.task(bind=True, max_retries=5, rate_limit="10/s", acks_late=True)
    def bound(self, x):
        return (self.request.called_directly, x)

    @app.task(name="custom.name")
    def plain(x):
        return x * 2

    assert bound.name.endswith("test_app.bound")
    assert app.tasks["custom.name"] is plain
    assert bound.max_retries == 5 and bound.acks_late and bound.rate_limit == "10/s"
    assert bound(3) == (True, 3)
    assert plain(4) == 8
    with pytest.raises(NotRegistered):
        app.tasks["nope"]
    with pytest.raises(TypeError, match="unknown task option"):
        app.task(colour="red")(lambda: None)


def test_main_module_tasks_use_the_app_name():
    app = App("proj", set_as_current=False)
    assert app.gen_task_name("add", "__main__") == "proj.add"


def test_routes_globs_regexes_and_callables():
    app = App("routes", set_as_current=False, task_routes=[
        {"proj.images.*": {"queue": "images"}},
        {re.compile(r"proj\.(video|audio)\..*"): "media"},
        lambda name, args, kwargs, options: "special" if name == "proj.special" else None,
    ])
    assert app.route_for("proj.images.resize") == {"queue": "images"}
    assert app.route_for("proj.audio.mix") == {"queue": "media"}
    assert app.route_for("proj.special") == {"queue": "special"}
    assert app.route_for("proj.other") == {}


def test_queues_declared_and_missing():
    app = App("queues", set_as_current=False,
              task_queues=[Queue("fast", Exchange("fast"), routing_key="fast")])
    assert list(app.queues()) == ["fast"]
    assert app.queue_for("new").routing_key == "new"
    strict = App("strict", set_as_current=False, task_create_missing_queues=False)
    with pytest.raises(QueueNotFound):
        strict.queue_for("unknown")


def test_eager_mode_runs_in_process():
    app = App("eager", set_as_current=False, task_always_eager=True)

    @app.task
    def add(x, y):
        return x + y

    result = add.delay(2, 3)
    assert result.get() == 5 and result.successful()


def test_bad_rate_limit_fails_when_the_task_is_declared():
    app = App("rates", set_as_current=False)
    with pytest.raises(ValueError, match="Invalid rate limit string"):
        app.task(rate_limit="fast please")(lambda: None)
