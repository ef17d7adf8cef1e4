"""Remote control: the command registry, the worker's node and the broadcast client.

Write your own commands with :func:`inspect_command` and :func:`control_command`
in a module the worker imports (the ``imports`` setting).
"""

from tuiq.control.registry import Argument, control_command, inspect_command

__all__ = ["Argument", "control_command", "inspect_command"]
