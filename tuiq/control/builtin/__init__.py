"""The built-in commands a worker answers: Celery 5.7's names, arguments and reply shapes.

Importing this package registers them; each submodule holds one family.
"""

from tuiq.control.builtin import pool, queues, tasks, worker  # noqa: F401  (registration)
from tuiq.control.builtin.replies import NoReply, nok, ok

__all__ = ["NoReply", "nok", "ok"]
