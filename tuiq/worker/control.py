"""Where Celery keeps its command decorators (``celery.worker.control``), for ported code.

``from tuiq.worker.control import control_command, inspect_command`` works as
the Celery import does, so a module of custom commands needs only its import
line changed.
"""

from tuiq.control.builtin.replies import nok, ok
from tuiq.control.registry import Argument, control_command, inspect_command

__all__ = ["Argument", "control_command", "inspect_command", "nok", "ok"]
