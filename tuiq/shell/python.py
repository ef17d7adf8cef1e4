"""Python mode: one-off expressions with the app, its tasks and the canvas at hand.

The namespace is ``celery shell``'s: ``app`` (also ``celery``), each task under
the last part of its name (``add`` for ``proj.add``), the canvas primitives,
``AsyncResult`` and ``states``. An expression's value is printed; a statement
is run; an error is one line.
"""

from __future__ import annotations

import builtins
import keyword
import re
import rlcompleter
from collections.abc import Callable, Iterable
from typing import Any

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from tuiq.exceptions import TuiqError

_DOTTED_NAME = re.compile(r"[A-Za-z_][\w.]*$")


class PythonError(TuiqError):
    """An exception raised by the operator's Python, as one line."""


class LeavePython(Exception):
    """``exit()`` or ``quit()`` typed in Python mode."""


def namespace(app: Any) -> dict[str, Any]:
    """The names Python mode starts with."""
    import tuiq

    names: dict[str, Any] = {
        "app": app, "celery": app,
        "signature": tuiq.signature, "subtask": tuiq.signature, "Signature": tuiq.Signature,
        "chain": tuiq.chain, "group": tuiq.group, "chord": tuiq.chord, "chunks": tuiq.chunks,
        "xmap": tuiq.xmap, "xstarmap": tuiq.xstarmap, "AsyncResult": app.AsyncResult,
        "states": tuiq.states, "Task": tuiq.Task,
    }
    for name, task in sorted(app.tasks.items()):
        if name.startswith("celery."):
            continue
        short = name.rsplit(".", 1)[-1]
        # A task never hides a name above or a Python builtin.
        if short.isidentifier() and not keyword.iskeyword(short) and short not in names \
                and not hasattr(builtins, short):
            names[short] = task
    return names


class PythonEvaluator:
    """Runs lines of Python in one namespace kept between lines."""

    def __init__(self, names: dict[str, Any], write: Callable[[str], None]) -> None:
        self.names = names
        self.write = write
        self.names["exit"] = self.names["quit"] = _leave

    def run(self, source: str) -> None:
        """Evaluate an expression (printing its repr) or run a statement.

        Raises :class:`PythonError` with ``Type: message`` if it fails, and
        :class:`LeavePython` for ``exit()``.
        """
        source = source.strip()
        if not source:
            return
        try:
            try:
                code = compile(source, "<shell>", "eval")
            except SyntaxError:
                exec(compile(source, "<shell>", "exec"), self.names)  # noqa: S102
                return
            value = eval(code, self.names)  # noqa: S307 - the operator's own expression
        except (LeavePython, KeyboardInterrupt):
            raise
        except SystemExit:
            raise LeavePython() from None
        except BaseException as exc:  # noqa: BLE001 - anything the operator's code raises
            raise PythonError(one_line(exc)) from None
        if value is not None:
            self.names["_"] = value
            self.write(repr(value))


def one_line(exc: BaseException) -> str:
    """``ValueError: message`` on one line (SyntaxError with its message only)."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg}"
    message = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__


def _leave() -> None:
    raise LeavePython()


class PythonCompleter(Completer):
    """Names and attributes from the namespace, as the interactive interpreter completes them."""

    def __init__(self, names: dict[str, Any]) -> None:
        self.names = names

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        """Completions of the dotted name before the cursor."""
        text = document.text_before_cursor
        if text.startswith("!"):
            text = text[1:]
        found = _DOTTED_NAME.search(text)
        if found is None:
            return
        word = found.group(0)
        completer = rlcompleter.Completer(self.names)
        seen = set()
        for state in range(500):
            try:
                match = completer.complete(word, state)
            except Exception:  # noqa: BLE001 - a property raising while listed is skipped
                return
            if match is None:
                return
            match = match.rstrip("(")
            if match not in seen:
                seen.add(match)
                yield Completion(match, start_position=-len(word))
