"""Rendering remote-control replies: rich tables per node, or JSON.

Independent of click, so the CLI, the shell and the console share it. Each
reply shape (ping, ok/error, stats, task lists, registered, queues, revoked
ids, query_task) has its own layout; anything else is shown as nested
key/value rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

#: Commands whose replies are lists of TASK_INFO dicts (PROTOCOL.md §2.6).
TASK_LIST_COMMANDS = frozenset({"active", "dump_active", "reserved", "dump_reserved"})
SCHEDULED_COMMANDS = frozenset({"scheduled", "dump_schedule"})
STATUS_STYLES = {"ok": "green", "error": "red"}


def to_json(replies: Mapping[str, Any], as_list: bool = False) -> str:
    """JSON text: ``{node: reply}``, or Celery's ``[{node: reply}, ...]`` with ``as_list``."""
    from kombu.utils.json import dumps

    if as_list:
        return dumps([{node: reply} for node, reply in replies.items()])
    return dumps(dict(replies))


def is_status(reply: Any) -> bool:
    """True for the ``{"ok": ...}`` / ``{"error": ...}`` replies."""
    return isinstance(reply, dict) and len(reply) == 1 and next(iter(reply)) in STATUS_STYLES


def render(command: str, replies: Mapping[str, Any],
           missing: list[str] | tuple[str, ...] = ()) -> list[RenderableType]:
    """The renderables showing every node's reply to ``command``, then the silent nodes."""
    items: list[RenderableType] = []
    values = list(replies.values())
    if values and all(is_status(v) or v is None for v in values):
        items.append(_headed(command, status_table(command, replies)))
    else:
        for node, reply in sorted(replies.items()):
            items.append(node_table(command, node, reply))
    if missing:
        items.append(Text(f"No reply from: {', '.join(sorted(missing))}", style="yellow"))
    return items


#: Width of tables written to a pipe or a file: wide enough that no cell wraps.
PIPED_WIDTH = 10_000


def output_console() -> Console:
    """Standard output's console; when it is not a terminal, one that wraps no cell.

    Output read by a program, or copied from a file, needs each task id and
    name on one line; rich would otherwise fold them to 80 columns.
    """
    console = Console()
    if console.is_terminal:
        return console
    return Console(width=PIPED_WIDTH)


def print_replies(console: Console, command: str, replies: Mapping[str, Any],
                  missing: list[str] | tuple[str, ...] = ()) -> None:
    """Print :func:`render`'s output to ``console``."""
    for item in render(command, replies, missing):
        console.print(item)


def status_table(command: str, replies: Mapping[str, Any]) -> Table:
    """One row per node for ``ok``/``error`` replies (ping, revoke, rate_limit...)."""
    table = Table(show_edge=False)
    table.add_column("node", style="bold")
    table.add_column("status")
    table.add_column("message", overflow="fold")
    for node, reply in sorted(replies.items()):
        if reply is None:
            _add_row(table, node, Text("ok", style="green"), "")
            continue
        key, value = next(iter(reply.items()))
        _add_row(table, node, Text(key, style=STATUS_STYLES[key]), _text(value))
    return table


def node_table(command: str, node: str, reply: Any) -> RenderableType:
    """One node's reply, laid out for its shape."""
    title = f"{node}: {command}"
    if is_status(reply):
        return _headed(title, status_table(command, {node: reply}))
    size = f" ({len(reply)})" if isinstance(reply, list | dict) and command != "stats" else ""
    if command == "conf" and reply == {}:
        return _headed(title + size, Text("every setting has its default value "
                                          "(conf true lists them all)", style="dim"))
    for fits, build in _LAYOUTS:
        if fits(command, reply):
            return _headed(title + size, build(title, reply))
    return _headed(title, Text(_text(reply)))


def task_table(title: str, tasks: list[Any], now: float | None = None) -> Table:
    """``active``/``reserved`` lists: id, name, args, kwargs, runtime, pid."""
    now = time.time() if now is None else now
    table = Table(show_edge=False)
    for column in ("id", "name", "args", "kwargs", "runtime", "pid"):
        table.add_column(column, overflow="fold")
    for info in tasks:
        info = info if isinstance(info, dict) else {"id": _text(info)}
        started = info.get("time_start")
        runtime = f"{now - started:.1f}s" if isinstance(started, int | float) else "-"
        _add_row(table, _text(info.get("id")), _text(info.get("name")),
                      _short(info.get("args")), _short(info.get("kwargs")), runtime,
                      _text(info.get("worker_pid") or "-"))
    return table


def scheduled_table(title: str, entries: list[Any]) -> Table:
    """``scheduled`` entries: eta, priority and the request's id, name, args."""
    table = Table(show_edge=False)
    for column in ("eta", "priority", "id", "name", "args"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        entry = entry if isinstance(entry, dict) else {}
        request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        _add_row(table, _text(entry.get("eta") or "-"), _text(entry.get("priority")),
                      _text(request.get("id")), _text(request.get("name")),
                      _short(request.get("args")))
    return table


def queues_table(title: str, queues: list[Any]) -> Table:
    """``active_queues``: name, exchange, type, routing key."""
    table = Table(show_edge=False)
    for column in ("queue", "exchange", "type", "routing key"):
        table.add_column(column, overflow="fold")
    for queue in queues:
        queue = queue if isinstance(queue, dict) else {"name": queue}
        exchange = queue.get("exchange") if isinstance(queue.get("exchange"), dict) else {}
        _add_row(table, _text(queue.get("name")), _text(exchange.get("name")),
                      _text(exchange.get("type")), _text(queue.get("routing_key")))
    return table


def query_table(title: str, found: dict[str, Any]) -> Table:
    """``query_task``: task id, where it is, its name and args."""
    table = Table(show_edge=False)
    for column in ("id", "state", "name", "args"):
        table.add_column(column, overflow="fold")
    for task_id, value in found.items():
        state, info = (value + [None, None])[:2] if isinstance(value, list) else (value, None)
        info = info if isinstance(info, dict) else {}
        _add_row(table, _text(task_id), _text(state), _text(info.get("name")),
                      _short(info.get("args")))
    return table


def list_table(title: str, values: list[Any]) -> Table:
    """A plain list (``registered``, ``revoked``): one value per row."""
    table = Table(show_edge=False,
                  show_header=False)
    table.add_column("value", overflow="fold")
    for value in values:
        _add_row(table, _text(value))
    return table


def kv_table(title: str, mapping: Mapping[str, Any]) -> Table:
    """Nested dicts (``stats``, ``conf``) as dotted keys and values."""
    table = Table(show_edge=False, show_header=False)
    table.add_column("key", style="cyan", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in flatten(mapping):
        _add_row(table, key, _text(value))
    return table


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"a": {"b": 1}}`` → ``[("a.b", 1)]``; lists of scalars stay values."""
    rows: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows.extend(flatten(value, f"{name}."))
        else:
            rows.append((name, value))
    return rows


def _headed(heading: str, body: RenderableType) -> RenderableType:
    # A heading line rather than a table title: titles wrap to the table's width.
    return Group(Text(heading, style="bold"), body, Text(""))


def _is_task_list(command: str, reply: Any) -> bool:
    return command in TASK_LIST_COMMANDS and isinstance(reply, list)


def _is_scheduled(command: str, reply: Any) -> bool:
    return command in SCHEDULED_COMMANDS and isinstance(reply, list)


def _is_queues(command: str, reply: Any) -> bool:
    return command == "active_queues" and isinstance(reply, list)


def _is_query(command: str, reply: Any) -> bool:
    return command == "query_task" and isinstance(reply, dict)


def _is_list(command: str, reply: Any) -> bool:
    return isinstance(reply, list)


def _is_mapping(command: str, reply: Any) -> bool:
    return isinstance(reply, Mapping)


_LAYOUTS: list[tuple[Callable[[str, Any], bool], Callable[[str, Any], RenderableType]]] = [
    (_is_task_list, task_table),
    (_is_scheduled, scheduled_table),
    (_is_queues, queues_table),
    (_is_query, query_table),
    (_is_list, list_table),
    (_is_mapping, kv_table),
]


def _add_row(table: Table, *cells: str | Text) -> None:
    # Plain Text cells: values such as "proj.add [rate_limit=10/s]" are not markup.
    table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells))


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        # rusage and load figures: 0.44407599999999997 reads as 0.444076.
        return str(round(value, 6))
    return json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)


def _short(value: Any, width: int = 60) -> str:
    text = _text(value)
    return text if len(text) <= width else text[: width - 1] + "…"
