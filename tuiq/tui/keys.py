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
    help: str = ""  # the longer text of the help screen and palette (default: description)

    @property
    def label(self) -> str:
        """The key as a user types it (``?``, ``ctrl+p``, ``+``)."""
        return self.display or self.key

    @property
    def explanation(self) -> str:
        """What the key does, in full (the help screen's text)."""
        return self.help or self.description

    @property
    def app_action(self) -> str | None:
        """The console action's name when the key runs one (``app.revoke`` → ``revoke``)."""
        return self.action[4:] if self.action.startswith("app.") else None


def _view_keys(scope: str, *, filter: bool) -> tuple[Key, ...]:
    """The list keys every table view shares: open, tag, sort, and the filter if any."""
    keys = [
        Key("enter", "open", "Open", scope, id="open", help="Open the detail screen"),
        Key("space", "tag", "Tag", scope, id="tag", help="Tag / untag the row"),
        Key("s", "sort", "Sort", scope, show=False, id="sort", help="Sort by the next column"),
        Key("S", "reverse_sort", "Reverse", scope, show=False, id="reverse_sort",
            help="Reverse the sort order"),
    ]
    if filter:
        keys += [
            Key("slash", "filter", "Filter", scope, id="filter", display="/",
                help="Filter by name, state, node, id or args (a regex)"),
            Key("escape", "clear_filter", "Clear", scope, show=False, id="clear_filter",
                display="esc", help="Clear the filter and the tags"),
        ]
    return tuple(keys)


def _node_control_keys(scope: str) -> tuple[Key, ...]:
    """Control keys that act on nodes: the tagged (or cursor) nodes, or the open node."""
    return (
        Key("P", "app.ping", "Ping", scope, command="ping", id="ping",
            help="Ping the node (every reply and silence shown)"),
        Key("plus", "app.pool_grow", "Grow", scope, command="pool_grow", id="pool_grow",
            display="+", help="Grow the pool by one process"),
        Key("minus", "app.pool_shrink", "Shrink", scope, command="pool_shrink",
            id="pool_shrink", display="-", help="Shrink the pool by one process"),
        Key("r", "app.rate_limit", "Rate limit", scope, show=False, command="rate_limit",
            id="rate_limit", help="Set a task type's rate limit on the node"),
        Key("t", "app.time_limit", "Time limit", scope, show=False, command="time_limit",
            id="time_limit", help="Set a task type's time limits on the node"),
        Key("a", "app.add_consumer", "Add queue", scope, show=False,
            command="add_consumer", id="add_consumer", help="Start consuming from a queue"),
        Key("c", "app.cancel_consumer", "Cancel queue", scope, show=False,
            command="cancel_consumer", id="cancel_consumer",
            help="Stop consuming from a queue"),
        Key("e", "app.enable_events", "Events on", scope, show=False,
            command="enable_events", id="enable_events", help="Start sending task events"),
        Key("E", "app.disable_events", "Events off", scope, show=False,
            command="disable_events", id="disable_events", help="Stop sending task events"),
        Key("ctrl+r", "app.pool_restart", "Restart pool", scope, show=False, destructive=True,
            command="pool_restart", id="pool_restart",
            help="Restart the pool (replace every process)"),
        Key("u", "app.purge", "Purge", scope, show=False, destructive=True, id="purge",
            help="Purge a queue (delete its waiting messages)"),
        Key("X", "app.shutdown", "Shutdown", scope, destructive=True, command="shutdown",
            id="shutdown", help="Shut the node down (warm)"),
    )


def _task_control_keys(scope: str) -> tuple[Key, ...]:
    """Control keys that act on tasks: the tagged (or cursor) tasks, or the open task."""
    return (
        Key("x", "app.revoke", "Revoke", scope, command="revoke", id="revoke",
            help="Revoke the tasks on every node"),
        Key("k", "app.terminate", "Terminate", scope, destructive=True,
            command="terminate", id="terminate",
            help="Terminate the running tasks (pick a signal)"),
        Key("R", "app.retry", "Retry", scope, id="retry",
            help="Retry failed tasks: same name and arguments, new id"),
        Key("r", "app.rate_limit", "Rate limit", scope, show=False,
            command="rate_limit", id="rate_limit", help="Set the rate limit of this task type"),
        Key("t", "app.time_limit", "Time limit", scope, show=False,
            command="time_limit", id="time_limit",
            help="Set the time limits of this task type"),
    )


KEYS: tuple[Key, ...] = (
    Key("1", "app.show_view('nodes')", "Nodes", "global", id="view_nodes",
        help="Nodes view"),
    Key("2", "app.show_view('tasks')", "Tasks", "global", id="view_tasks",
        help="Tasks view"),
    Key("p", "app.toggle_pause", "Pause", "global", id="pause",
        help="Pause / resume the live feed"),
    Key("question_mark", "app.help", "Help", "global", id="help", display="?",
        help="Help (this screen)"),
    Key("colon", "app.command_mode", "Command", "global", id="command_mode",
        display=":", help="Command mode: type any command"),
    Key("ctrl+p", "app.command_palette", "Palette", "global", show=False,
        id="command_palette", priority=True, help="Command palette: every command"),
    Key("q", "app.quit", "Quit", "global", id="quit", help="Quit the console"),
    *_view_keys("nodes", filter=False),
    *_node_control_keys("nodes"),
    *_view_keys("tasks", filter=True),
    *_task_control_keys("tasks"),
    Key("escape", "app.back", "Back", "node", id="back", display="esc",
        help="Back to the nodes view"),
    Key("left_square_bracket", "previous_tab", "Prev tab", "node", show=False,
        id="previous_tab", display="[", help="The tab to the left (the last from the first)"),
    Key("right_square_bracket", "next_tab", "Next tab", "node", id="next_tab",
        display="]", help="The tab to the right (the first from the last)"),
    *_node_control_keys("node"),
    Key("space", "tag", "Tag", "node", id="tag",
        help="Tag / untag the task (in the tabs that list tasks)"),
    *(k for k in _task_control_keys("node") if k.id in {"revoke", "terminate"}),
    Key("escape", "app.back", "Back", "task", id="back", display="esc",
        help="Back to the list"),
    *_task_control_keys("task"),
)


def keys_for(scope: str, read_only: bool = False) -> list[Key]:
    """The keys of one scope, without destructive ones when ``read_only``."""
    return [k for k in KEYS if k.scope == scope and not (read_only and k.destructive)]


def bindings(scope: str, read_only: bool = False) -> list[Binding]:
    """Textual bindings for one scope (``BINDINGS = bindings("tasks")``)."""
    return [
        Binding(k.key, k.action, k.description, show=k.show, id=k.id or None,
                key_display=k.display, priority=k.priority, tooltip=k.explanation)
        for k in keys_for(scope, read_only)
    ]


def key_for_action(action: str, scope: str | None = None) -> Key | None:
    """The first key running ``action`` (``"revoke"`` or ``"app.revoke"``), if any."""
    wanted = {action, f"app.{action}"}
    for key in KEYS:
        if key.action in wanted and scope in (None, key.scope):
            return key
    return None
