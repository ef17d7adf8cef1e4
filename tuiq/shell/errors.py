"""The shell's own exceptions."""

from __future__ import annotations

from tuiq.exceptions import TuiqError


class ShellError(TuiqError):
    """A command that failed: the message is one line for the operator."""


class ExitShell(Exception):  # noqa: N818 - a request, not an error
    """``exit``: leave the shell."""
