"""Driving ``TopApp`` in pilot tests: real workers, waiting on live state, reading the screen.

The console under test talks to real brokers and real ``tuiq worker`` processes;
what a test checks is asked of the workers with a control client of its own,
never taken from the console's word.
"""

from __future__ import annotations

import asyncio
import functools
import html
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from textual import events

from tests.support.brokers import REDIS_URL, require_port, unique
from tests.support.workers import WorkerProcess, start_worker
from tuiq import App
from tuiq.control.client import ControlClient

#: Redis databases of the console's tests: events are per database, so nodes of
#: other test runs never show up in these consoles.
BROKER_DB, BACKEND_DB = 7, 8
#: The terminal the pilot tests run in.
SIZE = (160, 45)


def redis_urls() -> tuple[str, str]:
    """``(broker, backend)`` URLs of the console tests' Redis databases."""
    require_port("127.0.0.1", 6379, "Redis")
    return f"{REDIS_URL}/{BROKER_DB}", f"{REDIS_URL}/{BACKEND_DB}"


def tuiq_app(broker: str, backend: str) -> App:
    """A fresh client app for the console (not the test project's shared module app)."""
    app = App(unique("top"))
    app.override_broker(broker)
    app.override_backend(backend)
    return app


class Cluster:
    """One running worker and what a test needs to talk to it."""

    def __init__(self, worker: WorkerProcess, broker: str, backend: str, queue: str) -> None:
        self.worker = worker
        self.node = worker.nodename
        self.broker = broker
        self.backend = backend
        self.queue = queue
        self.app = tuiq_app(broker, backend)
        self.client = ControlClient(self.app)

    def ask(self, command: str, **arguments: Any) -> Any:
        """The worker's own reply to ``command`` (asked by the test, not the console)."""
        replies = self.client.broadcast(command, arguments, destination=[self.node],
                                        reply=True, timeout=5.0)
        assert replies is not None and self.node in replies, \
            f"{self.node} did not answer {command}: {replies!r}"
        return replies[self.node]

    def send(self, name: str, *args: Any, **options: Any) -> str:
        """Send a task to the worker's queue; its id."""
        options.setdefault("queue", self.queue)
        return self.app.send_task(name, args=list(args), **options).id

    def close(self) -> None:
        """Stop the worker and release the connections."""
        self.client.close()
        self.app.close()
        assert self.worker.stop() == 0, self.worker.log()[-3000:]


def start_cluster(tmp_path, broker: str, backend: str, *, events: bool = True,
                  concurrency: int = 2, app_spec: str = "tests.support.testproj") -> Cluster:
    """A prefork worker on a private queue (with ``-E`` unless told otherwise)."""
    queue = unique("topq")
    extra = ["-c", str(concurrency)] + (["-E"] if events else [])
    worker = start_worker(tmp_path, broker, backend, name=unique("top"), queues=[queue],
                          extra=extra, ping_app=tuiq_app(broker, backend), app_spec=app_spec)
    return Cluster(worker, broker, backend, queue)


def pilot_test(scenario: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async pilot scenario as a plain test (fixtures are passed through)."""

    @functools.wraps(scenario)
    def test(*args: Any, **kwargs: Any) -> None:
        asyncio.run(scenario(*args, **kwargs))

    return test


async def until(pilot, predicate: Callable[[], Any], timeout: float = 20.0,
                message: str | Callable[[], str] = "condition not met") -> Any:
    """Let the console run until ``predicate()`` is truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s: {text}")
        await pilot.pause(0.1)


def worker_until(predicate: Callable[[], Any], timeout: float = 15.0,
                 message: str | Callable[[], str] = "condition not met") -> Any:
    """Poll the worker (blocking) until ``predicate()`` is truthy."""
    from tests.support.polling import wait_until

    return wait_until(predicate, timeout=timeout, interval=0.1, message=message)


async def select_node(pilot, view, node: str, timeout: float = 20.0) -> None:
    """Move the nodes view's cursor onto ``node`` with the arrow keys, as a user does."""
    deadline = time.monotonic() + timeout
    view.focus()
    while True:
        selected = view.selected_nodes()
        if selected == [node]:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{node} never came under the cursor (at {selected})")
        await pilot.press("down")
        await pilot.pause(0.05)
        if view.selected_nodes() == selected:
            # The last row: start again from the top (the node may not be listed yet).
            await pilot.press("home")
            await pilot.pause(0.1)


_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.S)
_TAG = re.compile(r"<[^>]+>")


def screen_text(app) -> str:
    """Everything the terminal shows right now, as plain text (from the SVG export)."""
    svg = app.export_screenshot()
    pieces = (_TAG.sub("", piece) for piece in _TEXT.findall(svg))
    return html.unescape("".join(pieces)).replace("\xa0", " ")


async def filter_tasks(pilot, text: str) -> None:
    """Type ``text`` into the tasks view's filter, as a user does (/ text enter)."""
    await pilot.press("2", "slash")
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause()


#: Key names of the characters the burst tests type that are not their own name.
KEY_NAMES = {":": "colon", " ": "space", "_": "underscore", ".": "full_stop", "/": "slash",
             "-": "minus", ",": "comma", "@": "at"}


def send_burst(app, text: str, *keys: str) -> None:
    """Queue ``text`` then ``keys`` all at once, as a paste or a fast typist does."""
    for character in text:
        app._driver.send_message(events.Key(KEY_NAMES.get(character, character), character))
    for key in keys:
        app._driver.send_message(events.Key(key, {"enter": "\r"}.get(key)))
