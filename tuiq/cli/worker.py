"""``tuiq worker``: start a worker node."""

from __future__ import annotations

import errno
import logging
import os
import sys
import time

import click

from tuiq.cli.common import CliError, load_app, setup_logging

logger = logging.getLogger("tuiq.worker")


def _write_pidfile(path: str) -> None:
    """Create ``path`` with our pid; a stale file (dead pid) is replaced."""
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                with open(path) as handle:
                    pid = int(handle.read().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and _pid_alive(pid):
                raise CliError(f"pidfile {path} names a running process ({pid})") from None
            os.unlink(path)
            continue
        except OSError as exc:
            raise CliError(f"cannot create pidfile {path}: {exc.strerror}") from None
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}\n")
        return
    raise CliError(f"cannot create pidfile {path}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _banner(worker, app) -> str:
    from tuiq.broker import mask_url

    tasks = app.tasks.user_tasks()
    queues = ", ".join(
        f"{q.name} (exchange={q.exchange.name or q.name}, key={q.routing_key})"
        for q in worker.queues.values())
    lines = [
        f"tuiq {__import__('tuiq').__version__} -- {worker.hostname}",
        f"  app:         {app.main or '__main__'}",
        f"  broker:      {mask_url(app.broker_url)}",
        f"  results:     {mask_url(app.backend_url)}",
        f"  concurrency: {_concurrency(worker)} ({worker.pool_kind})",
        f"  events:      {_events_line(worker)}",
        f"  queues:      {queues}",
        f"  tasks ({len(tasks)}):",
        *[f"    . {name}" for name in tasks],
    ]
    return "\n".join(lines)


def _events_line(worker) -> str:
    """Whether task events are on, and the heartbeat."""
    tasks = "task events ON" if worker.send_events else "task events OFF (-E to send)"
    if not worker.events.worker_events:
        return f"{tasks}, no heartbeat"
    return f"{tasks}, heartbeat every {worker.heartbeat_interval:g}s"


def _concurrency(worker) -> str:
    scaler = worker.autoscaler
    if scaler is None:
        return str(worker.concurrency)
    return f"{scaler.min_concurrency}..{scaler.max_concurrency} (autoscale)"


def _check_rate_limits(app) -> None:
    """Fail at start-up, not per message, on a rate limit that cannot be parsed."""
    from tuiq.worker.ratelimit import parse_rate

    try:
        parse_rate(app.conf.task_default_rate_limit)
    except ValueError as exc:
        raise CliError(f"task_default_rate_limit: {exc}") from None
    for name, task in app.tasks.items():
        try:
            parse_rate(task.rate_limit)
        except ValueError as exc:
            raise CliError(f"task {name}: {exc}") from None


def _parse_autoscale(text: str) -> tuple[int, int]:
    """``"10,3"`` to ``(10, 3)``; ``"10"`` to ``(10, 0)``."""
    parts = [part.strip() for part in text.split(",")]
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise CliError(f"--autoscale {text!r}: expected MAX,MIN, e.g. 10,3") from None
    if len(numbers) == 1:
        numbers.append(0)
    maximum, minimum = numbers[0], numbers[1]
    if len(numbers) != 2 or maximum < 1 or minimum < 0 or minimum > maximum:
        raise CliError(f"--autoscale {text!r}: expected MAX,MIN with MAX >= 1 and "
                       "0 <= MIN <= MAX")
    return maximum, minimum


@click.command()
@click.option("-A", "--app", "app_spec", metavar="APP", help="The app to load.")
@click.option("-b", "--broker", metavar="URL", help="Broker URL.")
@click.option("--result-backend", metavar="URL", help="Result backend URL.")
@click.option("-l", "--loglevel", default="INFO", show_default=True, help="Logging level.")
@click.option("-c", "--concurrency", type=click.IntRange(min=1), help="Pool size (default: CPUs).")
@click.option("-n", "--hostname", metavar="NAME", help="Node name, e.g. w1@%h.")
@click.option("-Q", "--queues", metavar="LIST", help="Comma-separated queues to consume.")
@click.option("-P", "--pool", type=click.Choice(["prefork", "solo", "threads"]),
              help="Execution pool.")
@click.option("--prefetch-multiplier", type=click.IntRange(min=0),
              help="Messages reserved per process (0: unlimited).")
@click.option("--max-tasks-per-child", type=click.IntRange(min=1),
              help="Replace a pool process after this many tasks.")
@click.option("--max-memory-per-child", type=click.IntRange(min=1),
              help="Replace a pool process above this resident memory (KiB).")
@click.option("--time-limit", type=float, help="Hard time limit per task (seconds).")
@click.option("--soft-time-limit", type=float, help="Soft time limit per task (seconds).")
@click.option("--pidfile", metavar="PATH", help="Write the pid here (%n, %h, %d, %p allowed).")
@click.option("--logfile", "-f", metavar="PATH",
              help="Log file; %i/%I give each pool process its own file.")
@click.option("--autoscale", metavar="MAX,MIN",
              help="Grow the pool up to MAX processes when work waits, down to MIN when idle.")
@click.option("-S", "--statedb", metavar="PATH",
              help="Keep revoked ids here across restarts (%n, %h, %d, %i allowed).")
@click.option("--without-mingle", is_flag=True,
              help="Do not sync revoked ids with the running nodes at start-up.")
@click.option("--purge", is_flag=True, help="Delete waiting messages before starting.")
@click.option("-E", "--events", "task_events", is_flag=True,
              help="Send task events for monitors (tuiq top, tuiq events, Flower).")
@click.option("--heartbeat-interval", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Seconds between worker-heartbeat events (default: 2).")
@click.option("--without-heartbeat", is_flag=True,
              help="Send no worker-online/heartbeat/offline events.")
@click.pass_context
def worker(ctx: click.Context, app_spec, broker, result_backend, loglevel, concurrency,
           hostname, queues, pool, prefetch_multiplier, max_tasks_per_child,
           max_memory_per_child, time_limit, soft_time_limit, pidfile, logfile, autoscale,
           statedb, without_mingle, purge, task_events, heartbeat_interval,
           without_heartbeat) -> None:
    """Start a worker that runs tasks from the broker."""
    started = time.monotonic()
    from tuiq.broker import check_reachable
    from tuiq.worker.nodenames import expand_hostname, node_format
    from tuiq.worker.signals import restart_in_place
    from tuiq.worker.worker import Worker

    try:
        nodename = expand_hostname(hostname)
    except ValueError as exc:
        raise CliError(f"--hostname {hostname!r}: {exc}") from None
    try:
        main_logfile = node_format(logfile, nodename, 0) if logfile else None
    except ValueError as exc:
        raise CliError(f"--logfile {logfile!r}: {exc}") from None
    try:
        pid_path = node_format(pidfile, nodename) if pidfile else None
    except ValueError as exc:
        raise CliError(f"--pidfile {pidfile!r}: {exc}") from None
    scale = _parse_autoscale(autoscale) if autoscale else None
    setup_logging(loglevel, main_logfile)
    app = load_app(ctx, app_spec, broker, result_backend)
    if time_limit is not None:
        app.conf.task_time_limit = time_limit
    if soft_time_limit is not None:
        app.conf.task_soft_time_limit = soft_time_limit
    if heartbeat_interval is not None:
        app.conf.worker_heartbeat_interval = heartbeat_interval
    check_reachable(app.broker_url)
    _ = app.backend  # an unusable result backend is an error now, not at the first task
    app.import_modules()
    _check_rate_limits(app)

    def child_logging(index: int) -> None:
        if logfile:
            setup_logging(loglevel, node_format(logfile, nodename, index))

    statedb = statedb or app.conf.worker_state_db
    try:
        state_path = node_format(statedb, nodename) if statedb else None
    except ValueError as exc:
        raise CliError(f"--statedb {statedb!r}: {exc}") from None
    queue_names = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    node = Worker(
        app, nodename, concurrency=concurrency, pool=pool or app.conf.worker_pool,
        queues=queue_names, prefetch_multiplier=prefetch_multiplier,
        max_tasks_per_child=max_tasks_per_child, max_memory_per_child=max_memory_per_child,
        purge=purge, send_events=task_events, log_setup=child_logging,
        autoscale=scale, statedb=state_path,
        mingle=not without_mingle, heartbeat=not without_heartbeat,
    )
    if pid_path:
        _write_pidfile(pid_path)
    try:
        click.echo(_banner(node, app), err=True)
        logger.debug("start-up took %.3fs before connecting", time.monotonic() - started)
        code = node.start()
    finally:
        if pid_path and os.path.exists(pid_path):
            os.unlink(pid_path)
    if node.restart_requested:
        restart_in_place()
    if node.cold:
        # Threads of the threads pool cannot be killed; leave without joining them.
        from tuiq.worker.worker import flush_streams

        logging.shutdown()
        flush_streams()
        os._exit(code)
    sys.exit(code)
