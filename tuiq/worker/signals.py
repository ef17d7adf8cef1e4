"""Process signals of the worker's main process.

TERM: warm shutdown. INT: warm, a second INT cold. QUIT: cold. USR1: dump
every thread's stack to the log. HUP: restart in place (without a terminal);
for a worker started from a terminal, ignored while the terminal is there and a
warm shutdown once it has gone (the terminal hung up).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import traceback
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuiq.worker.worker import Worker

logger = logging.getLogger("tuiq.worker")


def dump_stacks() -> str:
    """Every thread's current stack, as text."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    lines = []
    for ident, frame in sys._current_frames().items():
        lines.append(f"\n=== Thread {names.get(ident, '?')} ({ident}) ===\n")
        lines.extend(traceback.format_stack(frame))
    return "".join(lines)


def has_controlling_terminal() -> bool:
    """Whether the process has a controlling terminal."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return False
    os.close(fd)
    return True


def install_signal_handlers(worker: Worker) -> None:
    """Install the worker's handlers in the main thread."""
    interrupts = {"count": 0}
    # Known at start: once the terminal is closed, /dev/tty no longer opens, and a
    # HUP from a closed terminal must not be taken for a daemon's restart request.
    started_in_terminal = has_controlling_terminal()

    def on_term(signum, frame) -> None:
        worker.request_shutdown("worker: SIGTERM received")

    def on_int(signum, frame) -> None:
        interrupts["count"] += 1
        if interrupts["count"] == 1:
            worker.request_shutdown("worker: SIGINT received (Ctrl+C again kills the running "
                                    "tasks)")
        else:
            worker.request_shutdown("worker: SIGINT received twice", cold=True)

    def on_quit(signum, frame) -> None:
        worker.request_shutdown("worker: SIGQUIT received", cold=True)

    def on_usr1(signum, frame) -> None:
        logger.warning("Dumping thread stacks (SIGUSR1):%s", dump_stacks())

    def on_hup(signum, frame) -> None:
        if started_in_terminal:
            if has_controlling_terminal():
                logger.warning("SIGHUP ignored: restart in place needs a worker without a "
                               "terminal")
            else:
                worker.request_shutdown("worker: SIGHUP received, the terminal hung up")
            return
        worker.restart_requested = True
        worker.request_shutdown("worker: SIGHUP received, restarting")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_int)
    signal.signal(signal.SIGQUIT, on_quit)
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGHUP, on_hup)


def restart_in_place() -> None:
    """Replace this process with a fresh copy of itself (same arguments)."""
    from tuiq.worker.worker import flush_streams

    flush_streams()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
