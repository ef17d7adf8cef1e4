"""The example app and its tasks."""

import time

from tuiq import App

app = App("proj")


@app.task
def add(x, y):
    """Add two numbers."""
    return x + y


@app.task
def mul(x, y):
    """Multiply two numbers."""
    return x * y


@app.task
def xsum(numbers):
    """Sum a list of numbers."""
    return sum(numbers)


@app.task
def fail(message="boom"):
    """Always fail with ValueError."""
    raise ValueError(message)


@app.task
def sleep(seconds):
    """Sleep, then return how long it slept."""
    time.sleep(seconds)
    return seconds


@app.task(bind=True)
def progress(self, steps=5, delay=0.2):
    """Report progress with a custom PROGRESS state."""
    for step in range(steps):
        self.update_state(state="PROGRESS", meta={"current": step, "total": steps})
        time.sleep(delay)
    return steps


@app.task(bind=True, max_retries=3, default_retry_delay=0.1)
def flaky(self, succeed_after=2):
    """Fail until it has been retried ``succeed_after`` times."""
    if self.request.retries < succeed_after:
        raise self.retry(exc=KeyError("again"))
    return self.request.retries
