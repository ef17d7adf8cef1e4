"""The shell's completer: work out what the word is (parsing), then offer the names of that kind.

Dispatches on :class:`~tuiq.shell.specs.Kind`: command names with their help,
option names, node names, task names, queue names, signal names and recent
task ids, each with a short description, fuzzy-matched against the typed word.
It reads the names from one :class:`~tuiq.shell.names.Names` snapshot, so it
never waits for the network.
"""

from __future__ import annotations

import re
import shlex
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from tuiq.shell.fuzzy import fuzzy_filter
from tuiq.shell.names import Names
from tuiq.shell.parsing import Suggestion, analyze
from tuiq.shell.specs import CommandSpec, CommandTable, Kind

_NEEDS_QUOTES = re.compile(r"[\s'\"\\]")


@dataclass(frozen=True)
class Candidate:
    """One name to offer and the description shown beside it."""

    text: str
    meta: str = ""


def signal_names() -> list[Candidate]:
    """Every signal this system knows, as ``SIGTERM``, with its description."""
    found = []
    for member in sorted(signal.Signals, key=lambda s: s.value):
        description = signal.strsignal(member) or ""
        found.append(Candidate(member.name, f"{member.value}: {description}"))
    return found


def ago(stamp: float | None, now: float | None = None) -> str:
    """``3s ago``, ``5m ago``, ``2h ago``; ``never`` for None."""
    if stamp is None:
        return "never"
    seconds = max(0.0, (time.time() if now is None else now) - stamp)
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.0f}h ago"


def quoted(text: str, quote: str | None) -> str:
    """``text`` as it must be typed: inside the quote the user opened, or quoted if needed."""
    if quote == '"':
        return '"' + re.sub(r'(["\\$`])', r"\\\1", text) + '"'
    if quote == "'" and "'" not in text:
        return f"'{text}'"
    return shlex.quote(text) if quote or _NEEDS_QUOTES.search(text) else text


class ShellCompleter(Completer):
    """Completion for the shell's command lines."""

    def __init__(self, table: CommandTable, names: Callable[[], Names],
                 python: Completer | None = None) -> None:
        self.table = table
        self.names = names
        #: Completes ``!EXPR`` lines.
        self.python = python

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        """The completions for the word before the cursor, best match first."""
        text = document.text_before_cursor
        if self.python is not None and text.lstrip().startswith("!"):
            yield from self.python.get_completions(document, complete_event)
            return
        suggestion = analyze(text, self.table)
        word, start = suggestion.word, suggestion.start
        if suggestion.kind in (Kind.NODE, Kind.NODES_OR_ALL) and "," in word \
                and suggestion.quote is None:
            # ``-d a@x,b<Tab>`` completes the name after the last comma.
            head, _, word = word.rpartition(",")
            start += len(head) + 1
        candidates = {c.text: c for c in self.candidates(suggestion, self.names())}
        # Letters scattered through a hex id match almost every id: only whole pieces count.
        scattered = suggestion.kind != Kind.TASK_ID
        for name in fuzzy_filter(word, list(candidates), scattered):
            yield Completion(quoted(name, suggestion.quote), start_position=start - len(text),
                             display=name, display_meta=candidates[name].meta)

    def candidates(self, suggestion: Suggestion, names: Names) -> list[Candidate]:
        """Everything of the suggested kind, in the order to offer it before matching."""
        kind = suggestion.kind
        if kind == Kind.COMMAND:
            specs = suggestion.spec.visible_subcommands() if suggestion.spec is not None \
                else self.table.listed()
            return [Candidate(spec.name, spec.help) for spec in specs]
        if kind == Kind.OPTION:
            return option_candidates(suggestion.spec, suggestion.used)
        if kind in (Kind.NODE, Kind.NODES_OR_ALL):
            nodes = [Candidate(info.name, f"{'online' if info.online else 'offline'}, "
                                          f"seen {ago(info.last_seen)}")
                     for info in sorted(names.nodes.values(),
                                        key=lambda info: (not info.online, info.name))]
            if kind == Kind.NODES_OR_ALL:
                nodes.insert(0, Candidate("all", "every node"))
            return nodes
        if kind == Kind.TASK:
            return [Candidate(name, "task") for name in names.tasks]
        if kind == Kind.QUEUE:
            return [Candidate(name, "queue") for name in names.queues]
        if kind == Kind.SIGNAL:
            return signal_names()
        if kind == Kind.TASK_ID:
            return [Candidate(seen.task_id, f"{seen.name or 'task'}, {seen.source} "
                                            f"{ago(seen.seen)}")
                    for seen in names.task_ids]
        if kind == Kind.BOOL:
            return [Candidate("true"), Candidate("false")]
        if kind == Kind.SWITCH:
            return [Candidate("on", "JSON output"), Candidate("off", "tables")]
        return []


def option_candidates(spec: CommandSpec | None, used: frozenset[str]) -> list[Candidate]:
    """The command's options not yet given (those that repeat always), as ``--long``."""
    if spec is None:
        return []
    return [Candidate(option.long, option.help) for option in spec.options
            if option.multiple or option.dest not in used]
