"""Reading a shell line: words split as a POSIX shell does, then command, options and arguments.

Pure functions over a :class:`~tuiq.shell.specs.CommandTable`: :func:`split_line`
and :func:`parse` for running a line, :func:`analyze` for working out what the
word under the cursor is, so the completer only has to look names up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tuiq.control.arguments import CommandError
from tuiq.shell.specs import ArgSpec, CommandSpec, CommandTable, Kind

_NUMBER = re.compile(r"^-\d+(\.\d*)?([eE][-+]?\d+)?$")
#: Inside double quotes a backslash escapes only these, as in POSIX shells.
_DOUBLE_QUOTE_ESCAPES = '"\\$`'


@dataclass(frozen=True)
class Token:
    """One word: its value with quotes removed, where its raw text starts, an open quote."""

    value: str
    start: int
    quote: str | None = None


def tokenize(text: str) -> tuple[list[Token], Token | None]:
    """The finished words of ``text`` and the word still being typed at its end.

    The last word is None when ``text`` ends with a space outside quotes. A quote
    left open is not an error here (the user is typing); it shows in that
    word's ``quote``.
    """
    tokens: list[Token] = []
    value: list[str] = []
    start: int | None = None
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        following = text[index + 1] if index + 1 < len(text) else None
        if quote == "'":
            if char == "'":
                quote = None
            else:
                value.append(char)
        elif quote == '"':
            if char == '"':
                quote = None
            elif char == "\\" and following is not None and following in _DOUBLE_QUOTE_ESCAPES:
                value.append(following)
                index += 1
            else:
                value.append(char)
        elif char.isspace():
            if start is not None:
                tokens.append(Token("".join(value), start))
                value, start = [], None
        else:
            if start is None:
                start = index
            if char in "'\"":
                quote = char
            elif char == "\\":
                if following is not None:
                    value.append(following)
                    index += 1
            else:
                value.append(char)
        index += 1
    current = Token("".join(value), start, quote) if start is not None else None
    return tokens, current


def split_line(text: str) -> list[str]:
    """The words of a command line, shell-style; a quote left open is a one-line error."""
    tokens, current = tokenize(text)
    if current is not None and current.quote:
        raise CommandError(f"unclosed {current.quote} quote")
    return [token.value for token in tokens] + ([current.value] if current else [])


def looks_like_option(word: str) -> bool:
    """``-d``, ``--json``, ``--timeout=2``; not ``-``, not a negative number such as ``-1.5``."""
    return word.startswith("-") and word != "-" and not _NUMBER.match(word)


@dataclass
class Parsed:
    """A command line read against its spec."""

    spec: CommandSpec
    positionals: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


def resolve(table: CommandTable, words: list[str]) -> tuple[CommandSpec, list[str]]:
    """The command named by the first word(s) and the words after it."""
    if not words:
        raise CommandError("no command given (type help)")
    spec = table.lookup(words[0])
    if spec is None:
        raise CommandError(f"unknown command: {words[0]!r} (type help for the list)")
    if spec.kind != "group":
        return spec, words[1:]
    if len(words) < 2:
        raise CommandError(f"{spec.name}: which command? (help {spec.name} lists them)")
    name = words[1]
    sub = spec.subcommands.get(name)
    if sub is not None:
        return sub, words[2:]
    other_kind = "control" if spec.name == "inspect" else "inspect"
    if name in table.group(other_kind).subcommands:
        article = "an" if other_kind == "inspect" else "a"
        raise CommandError(f"{name} is {article} {other_kind} command: use {other_kind} {name}")
    raise CommandError(f"unknown {spec.name} command: {name!r} (help {spec.name} lists them)")


def parse(table: CommandTable, line: str) -> Parsed:
    """Split ``line`` and read it as a command with its options and positional words."""
    spec, rest = resolve(table, split_line(line))
    return parse_arguments(spec, rest)


def parse_arguments(spec: CommandSpec, words: list[str]) -> Parsed:
    """Sort ``words`` into positionals and options (``--name value``, ``--name=value``, flags).

    ``--`` ends the options. Option values stay text: the command converts them.
    """
    parsed = Parsed(spec)
    only_positionals = False
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if only_positionals or not looks_like_option(word):
            parsed.positionals.append(word)
            continue
        if word == "--":
            only_positionals = True
            continue
        flag, has_value, value = word.partition("=")
        option = spec.option(flag)
        if option is None:
            raise CommandError(f"{spec.name}: unknown option {flag} (help {_path(spec)} "
                               "lists them)")
        if not option.takes_value:
            if has_value:
                raise CommandError(f"{spec.name}: {flag} takes no value")
            parsed.options[option.dest] = True
            continue
        if not has_value:
            if index >= len(words):
                raise CommandError(f"{spec.name}: {flag} needs a value ({option.metavar})")
            value = words[index]
            index += 1
        if option.multiple:
            parsed.options.setdefault(option.dest, []).append(value)
        elif option.dest in parsed.options:
            raise CommandError(f"{spec.name}: {flag} given twice")
        else:
            parsed.options[option.dest] = value
    return parsed


def check_positionals(parsed: Parsed) -> None:
    """Refuse missing or extra positional words (the shell's own commands)."""
    spec, words = parsed.spec, parsed.positionals
    for index, arg in enumerate(spec.args):
        if arg.required and len(words) <= index:
            raise CommandError(f"{spec.name}: missing argument {arg.name} "
                               f"(usage: {spec.usage})")
    if not any(arg.variadic for arg in spec.args) and len(words) > len(spec.args):
        extra = " ".join(words[len(spec.args):])
        raise CommandError(f"{spec.name} takes at most {len(spec.args)} argument(s), "
                           f"got extra: {extra}")


def _path(spec: CommandSpec) -> str:
    return f"{spec.kind} {spec.name}" if spec.kind in ("inspect", "control") else spec.name


# -- what is being completed ------------------------------------------------------------------
@dataclass(frozen=True)
class Suggestion:
    """What the word under the cursor stands for, and where it starts."""

    kind: Kind
    #: The word typed so far, quotes removed.
    word: str = ""
    #: Where the word's raw text starts in the line (it is replaced from there).
    start: int = 0
    #: The quote the user opened in this word, if any.
    quote: str | None = None
    #: The command whose options are offered, or the group whose commands are.
    spec: CommandSpec | None = None
    #: Destinations of the options already on the line.
    used: frozenset[str] = frozenset()


def slot(spec: CommandSpec, index: int) -> ArgSpec | None:
    """The argument that the positional word at ``index`` fills."""
    for position, arg in enumerate(spec.args):
        if arg.variadic and index >= position:
            return arg
        if position == index:
            return arg
    return None


def analyze(text: str, table: CommandTable) -> Suggestion:
    """Work out what the last word of ``text`` (the text before the cursor) completes to."""
    tokens, current = tokenize(text)
    words = [token.value for token in tokens]
    word = current.value if current else ""
    start = current.start if current else len(text)
    quote = current.quote if current else None

    def suggest(kind: Kind, spec: CommandSpec | None = None,
                used: frozenset[str] = frozenset()) -> Suggestion:
        return Suggestion(kind, word, start, quote, spec, used)

    if text.lstrip().startswith("!"):
        return suggest(Kind.NONE)
    if not words:
        return suggest(Kind.COMMAND)
    spec = table.lookup(words[0])
    if spec is None:
        return suggest(Kind.NONE)
    rest = words[1:]
    if spec.kind == "group":
        if not rest:
            return suggest(Kind.COMMAND, spec)
        sub = spec.subcommands.get(rest[0])
        if sub is None:
            return suggest(Kind.NONE)
        spec, rest = sub, rest[1:]

    positionals: list[str] = []
    used: set[str] = set()
    pending = None
    only_positionals = False
    for item in rest:
        if pending is not None:
            pending = None
            continue
        if not only_positionals and item == "--":
            only_positionals = True
        elif not only_positionals and looks_like_option(item):
            flag, has_value, _ = item.partition("=")
            option = spec.option(flag)
            if option is not None:
                used.add(option.dest)
                if option.takes_value and not has_value:
                    pending = option
        else:
            positionals.append(item)
    frozen = frozenset(used)
    if pending is not None:
        return suggest(pending.kind, spec, frozen)
    if not only_positionals and looks_like_option(word) and quote is None:
        flag, has_value, value = word.partition("=")
        option = spec.option(flag)
        if has_value and option is not None and option.takes_value:
            return Suggestion(option.kind, value, start + len(flag) + 1, None, spec, frozen)
        return suggest(Kind.OPTION, spec, frozen)
    arg = slot(spec, len(positionals))
    if arg is None:
        return suggest(Kind.OPTION, spec, frozen)
    if arg.kind == Kind.COMMAND:
        return _help_topic(positionals, table, suggest)
    if arg.kind == Kind.NONE:
        return suggest(Kind.OPTION if not word else Kind.NONE, spec, frozen)
    return suggest(arg.kind, spec, frozen)


def _help_topic(positionals: list[str], table: CommandTable, suggest) -> Suggestion:
    # ``help``, ``help inspect``, ``help inspect ping``.
    if not positionals:
        return suggest(Kind.COMMAND)
    group = table.lookup(positionals[0])
    if len(positionals) == 1 and group is not None and group.kind == "group":
        return suggest(Kind.COMMAND, group)
    return suggest(Kind.NONE)
