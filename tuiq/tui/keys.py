"""The console's one key table: every key of every view, with what it does.

Views take their ``BINDINGS`` from :func:`bindings`, the help screen and the
command palette are generated from :data:`KEYS`, so a key documented in one
place is the key that works everywhere. Actions prefixed ``app.`` are the
console's control actions (implemented by ``TopApp``); the others belong to
the view that declares them (``action_filter``, ``action_sort``...). Each key
has a binding id, so a keymap can move it (``App.set_keymap({"revoke": "v"})``).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

#: Scopes, in the order the help screen lists them.
SCOPES = ("global", "nodes", "tasks", "node", "task")
SCOPE_TITLES = {
    "global": "Everywhere",
    "nodes": "Nodes view",
    "tasks": "Tasks view",
    "node": "Node detail",
    "task": "Task detail",
}


@dataclass(frozen=True)
class Key:
    """One key: the key, its action, where it applies, and the command it sends."""

    key: str
    action: str
    description: str
    scope: str  # "global" | "nodes" | "tasks" | "node" | "task"
    show: bool = True
    destructive: bool = False
    command: str | None = None  # the registry command it sends, if any
    id: str = ""  # the Binding id, so users can remap
    display: str | None = None  # how the key is written, when not its name
    priority: bool = False

    @property
    def label(self) -> str:
        """The key as a user types it (``?``, ``ctrl+p``, ``+``)."""
        return self.display or self.key

    @property
    def app_action(self) -> str | None:
        """The console action's name when the key runs one (``app.revoke`` → ``revoke``)."""
        return self.action[4:] if self.action.startswith("app.") else None


def _view_keys(scope: str, *, filter: bool) -> tuple[Key, ...]:
    """The list keys every table view shares: open, tag, sort, and the filter if any."""
    keys = [
        Key("enter", "open", "Open detail", scope, id="open"),
        Key("space", "tag", "Tag / untag row", scope, id="tag"),
        Key("s", "sort", "Sort by next column", scope, show=False, id="sort"),
        Key("S", "reverse_sort", "Reverse sort order", scope, show=False, id="reverse_sort"),
    ]
    if filter:
        keys += [
            Key("slash", "filter", "Filter (name, state, node, id, args; regex)", scope,
                id="filter", display="/"),
            Key("escape", "clear_filter", "Clear filter and tags", scope, show=False,
                id="clear_filter", display="esc"),
        ]
    return tuple(keys)


def _node_control_keys(scope: str) -> tuple[Key, ...]:
    """Control keys that act on nodes: the tagged (or cursor) nodes, or the open node."""
    return (
        Key("P", "app.ping", "Ping", scope, command="ping", id="ping"),
        Key("plus", "app.pool_grow", "Grow pool", scope, command="pool_grow", id="pool_grow",
            display="+"),
        Key("minus", "app.pool_shrink", "Shrink pool", scope, command="pool_shrink",
            id="pool_shrink", display="-"),
        Key("r", "app.rate_limit", "Rate limit", scope, show=False, command="rate_limit",
            id="rate_limit"),
        Key("t", "app.time_limit", "Time limit", scope, show=False, command="time_limit",
            id="time_limit"),
        Key("a", "app.add_consumer", "Add consumer (queue)", scope, show=False,
            command="add_consumer", id="add_consumer"),
        Key("c", "app.cancel_consumer", "Cancel consumer (queue)", scope, show=False,
            command="cancel_consumer", id="cancel_consumer"),
        Key("e", "app.enable_events", "Enable events", scope, show=False,
            command="enable_events", id="enable_events"),
        Key("E", "app.disable_events", "Disable events", scope, show=False,
            command="disable_events", id="disable_events"),
        Key("ctrl+r", "app.pool_restart", "Restart pool", scope, show=False, destructive=True,
            command="pool_restart", id="pool_restart"),
        Key("u", "app.purge", "Purge a queue", scope, show=False, destructive=True,
            id="purge"),
        Key("X", "app.shutdown", "Shut down", scope, destructive=True, command="shutdown",
            id="shutdown"),
    )


def _task_control_keys(scope: str) -> tuple[Key, ...]:
    """Control keys that act on tasks: the tagged (or cursor) tasks, or the open task."""
    return (
        Key("x", "app.revoke", "Revoke", scope, command="revoke", id="revoke"),
        Key("k", "app.terminate", "Terminate (pick a signal)", scope, destructive=True,
            command="terminate", id="terminate"),
        Key("R", "app.retry", "Retry (re-send, new id)", scope, id="retry"),
        Key("r", "app.rate_limit", "Rate limit this task type", scope, show=False,
            command="rate_limit", id="rate_limit"),
        Key("t", "app.time_limit", "Time limit this task type", scope, show=False,
            command="time_limit", id="time_limit"),
    )


KEYS: tuple[Key, ...] = (
    Key("1", "app.show_view('nodes')", "Nodes view", "global", id="view_nodes"),
    Key("2", "app.show_view('tasks')", "Tasks view", "global", id="view_tasks"),
    Key("p", "app.toggle_pause", "Pause / resume the live feed", "global", id="pause"),
    Key("question_mark", "app.help", "Help (this screen)", "global", id="help", display="?"),
    Key("colon", "app.command_mode", "Command mode", "global", id="command_mode",
        display=":"),
    Key("ctrl+p", "app.command_palette", "Command palette", "global", show=False,
        id="command_palette", priority=True),
    Key("q", "app.quit", "Quit", "global", id="quit"),
    *_view_keys("nodes", filter=False),
    *_node_control_keys("nodes"),
    *_view_keys("tasks", filter=True),
    *_task_control_keys("tasks"),
    Key("escape", "app.back", "Back", "node", id="back", display="esc"),
    *_node_control_keys("node"),
    *(k for k in _task_control_keys("node") if k.id in {"revoke", "terminate"}),
    Key("escape", "app.back", "Back", "task", id="back", display="esc"),
    *_task_control_keys("task"),
)


def keys_for(scope: str, read_only: bool = False) -> list[Key]:
    """The keys of one scope, without destructive ones when ``read_only``."""
    return [k for k in KEYS if k.scope == scope and not (read_only and k.destructive)]


def bindings(scope: str, read_only: bool = False) -> list[Binding]:
    """Textual bindings for one scope (``BINDINGS = bindings("tasks")``)."""
    return [
        Binding(k.key, k.action, k.description, show=k.show, id=k.id or None,
                key_display=k.display, priority=k.priority)
        for k in keys_for(scope, read_only)
    ]


def key_for_action(action: str, scope: str | None = None) -> Key | None:
    """The first key running ``action`` (``"revoke"`` or ``"app.revoke"``), if any."""
    wanted = {action, f"app.{action}"}
    for key in KEYS:
        if key.action in wanted and scope in (None, key.scope):
            return key
    return None
