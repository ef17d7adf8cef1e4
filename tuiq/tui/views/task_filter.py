"""The tasks view's ``/`` filter: regular expressions over a task's name, state, node, id, args.

``proj.add`` matches any of those fields; ``state:fail node:w1`` narrows each term to one
field; every term must match. Matching ignores case. A bad pattern raises
:class:`FilterError` with a one-line message for the UI.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tuiq.events.models import TaskInfo

#: What each field name reads from a task; ``args`` covers kwargs too.
FIELDS: dict[str, Callable[[TaskInfo], str]] = {
    "name": lambda task: task.name or "",
    "state": lambda task: task.state or "",
    "node": lambda task: task.hostname or "",
    "id": lambda task: task.uuid,
    "args": lambda task: f"{task.args or ''} {task.kwargs or ''}",
}


class FilterError(ValueError):
    """The filter text cannot be used; the message is shown as is."""


@dataclass(frozen=True)
class Term:
    """One pattern, on one field or (``field`` None) on any of them."""

    field: str | None
    pattern: re.Pattern[str]

    def matches(self, task: TaskInfo) -> bool:
        """True when the pattern is found in the field (or in any field)."""
        if self.field is not None:
            return self.pattern.search(FIELDS[self.field](task)) is not None
        return any(self.pattern.search(read(task)) for read in FIELDS.values())


@dataclass(frozen=True)
class TaskFilter:
    """A parsed filter: all its terms must match."""

    text: str
    terms: tuple[Term, ...]

    @classmethod
    def parse(cls, text: str) -> TaskFilter:
        """Parse the filter text; raises :class:`FilterError` for a bad pattern.

        A field with nothing after its colon (``name:``, as it is being typed) adds no
        condition.
        """
        terms = (_term(word) for word in text.split())
        return cls(text, tuple(term for term in terms if term is not None))

    def matches(self, task: TaskInfo) -> bool:
        """True when every term matches the task (an empty filter matches all)."""
        return all(term.matches(task) for term in self.terms)

    def __bool__(self) -> bool:
        return bool(self.terms)


def _term(word: str) -> Term | None:
    field, sep, pattern = word.partition(":")
    if not sep or field.lower() not in FIELDS:
        field, pattern = None, word
    else:
        field = field.lower()
        if not pattern:
            return None
    try:
        return Term(field, re.compile(pattern, re.IGNORECASE))
    except re.error as exc:
        raise FilterError(f"invalid regex {pattern!r}: {exc}") from None
