"""Tasks used by the integration tests (imported by the worker subprocesses)."""

import os
import time

from tuiq import App, Ignore, Reject

app = App("testproj")


@app.task(name="testproj.add")
def add(x, y):
    return x + y


@app.task(name="testproj.echo")
def echo(value):
    return value


@app.task(name="testproj.fail")
def fail(message="boom"):
    raise ValueError(message)


@app.task(name="testproj.sleep")
def sleep(seconds, marker=None):
    if marker:
        with open(marker, "a") as handle:
            handle.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    if marker:
        with open(marker, "a") as handle:
            handle.write("done\n")
    return seconds


@app.task(name="testproj.die")
def die(code=3):
    os._exit(code)


@app.task(name="testproj.die_late", acks_late=True, reject_on_worker_lost=True)
def die_late(marker):
    # Dies the first time, succeeds when redelivered.
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(3)
    return "second run"


@app.task(name="testproj.late", acks_late=True)
def late(seconds, marker=None):
    if marker:
        with open(marker, "a") as handle:
            handle.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    return seconds


@app.task(name="testproj.ignore")
def ignore():
    raise Ignore()


@app.task(name="testproj.reject")
def reject(requeue=False):
    raise Reject("no thanks", requeue=requeue)


@app.task(name="testproj.retry", bind=True, max_retries=2, default_retry_delay=0.05)
def retry(self, succeed_after=1):
    if self.request.retries < succeed_after:
        raise self.retry(exc=KeyError("again"))
    return self.request.retries


@app.task(name="testproj.request", bind=True)
def request_info(self):
    r = self.request
    return {"id": r.id, "retries": r.retries, "hostname": r.hostname,
            "routing_key": (r.delivery_info or {}).get("routing_key"),
            "called_directly": r.called_directly}


@app.task(name="testproj.progress", bind=True)
def progress(self, steps=3, delay=0.3):
    for step in range(steps):
        self.update_state(state="PROGRESS", meta={"current": step, "total": steps})
        time.sleep(delay)
    return steps


@app.task(name="testproj.limited", rate_limit="5/s")
def limited():
    return time.time()


@app.task(name="testproj.soft", soft_time_limit=0.5)
def soft():
    from tuiq import SoftTimeLimitExceeded

    try:
        time.sleep(5)
    except SoftTimeLimitExceeded:
        return "cleaned up"
    return "not interrupted"


@app.task(name="testproj.hard", time_limit=0.5)
def hard():
    time.sleep(5)


@app.task(name="testproj.now")
def now():
    """When (epoch seconds) and where (pid) the task ran."""
    return {"time": time.time(), "pid": os.getpid()}


@app.task(name="testproj.inspect_request", bind=True)
def inspect_request(self, header=None):
    r = self.request
    info = r.delivery_info or {}
    return {"id": r.id, "hostname": r.hostname, "routing_key": info.get("routing_key"),
            "priority": info.get("priority"), "eta": r.eta, "expires": r.expires,
            "header": r.get(header) if header else None, "root_id": r.root_id,
            "parent_id": r.parent_id, "origin": r.origin, "retries": r.retries}


@app.task(name="testproj.tracked", track_started=True)
def tracked(seconds):
    time.sleep(seconds)
    return os.getpid()


@app.task(name="testproj.quiet", ignore_result=True)
def quiet(marker=None):
    if marker:
        with open(marker, "a") as handle:
            handle.write("ran\n")
    return "not stored"


@app.task(name="testproj.state_then_ignore", bind=True)
def state_then_ignore(self):
    self.update_state(state="HALFWAY", meta={"done": 1})
    raise Ignore()


@app.task(name="testproj.retry_once", bind=True, max_retries=3)
def retry_once(self, countdown=0.3):
    if self.request.retries < 1:
        raise self.retry(exc=KeyError("again"), countdown=countdown)
    return self.request.retries


@app.task(name="testproj.slow_first_time", acks_late=True)
def slow_first_time(marker, seconds=30):
    # The first run writes its pid and sleeps (to be killed); a redelivery returns at once.
    if os.path.exists(marker):
        return "second run"
    with open(marker, "a") as handle:
        handle.write(f"start {os.getpid()}\n")
    time.sleep(seconds)
    return "first run"
