"""``TopApp``: the live console. Lifecycle, live feed, polls, and acting on the cluster.

Three threads feed it and only the UI thread touches the model:

* the event receiver (``feed.py``) appends events to a deque; a timer drains it
  into :class:`~tuiq.events.cluster.ClusterState` every :data:`TICK` seconds,
  then refreshes the header and the visible view with the keys that changed;
* inspect polls (``poller.py``) run one at a time and hand their replies back;
* each user command runs in a thread of its own with its own control client,
  and its per-node replies come back as a notification or a panel.

Keys come from the one table in ``keys.py``; destructive actions ask first and
are hidden (and refused) in read-only mode.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from textual import events
from textual.app import App, ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widgets import ContentSwitcher, Footer, Static

from tuiq.control.arguments import CommandError
from tuiq.events.cluster import ClusterState
from tuiq.tui.actions import Actions, Outcome, retry_request
from tuiq.tui.commands import (
    CommandContext,
    ConsoleCommands,
    Invocation,
    find,
    is_destructive,
    needs_prompt,
    parse_nodes,
    prefill,
    shape_fields,
)
from tuiq.tui.feed import LiveFeed, receiver_factory
from tuiq.tui.gc_tuning import GcTuning
from tuiq.tui.keys import KEYS, bindings
from tuiq.tui.poller import Poller, PollResult, QueueDepths, run_poll
from tuiq.tui.screens.command_line import CommandLineScreen
from tuiq.tui.screens.confirm import ConfirmScreen, danger
from tuiq.tui.screens.help import HelpScreen
from tuiq.tui.screens.prompt import ArgumentsScreen
from tuiq.tui.screens.replies import RepliesScreen, fits_notification, severity, summary_lines
from tuiq.tui.views.node_detail import NodeDetailScreen
from tuiq.tui.views.nodes import NodesView
from tuiq.tui.views.task_detail import TaskDetailScreen
from tuiq.tui.views.tasks import TasksView
from tuiq.tui.widgets.header import ClusterHeader

#: Seconds between two drains of the event feed (and two screen refreshes).
TICK = 0.25
#: Seconds between the end of one inspect poll and the start of the next, by default.
DEFAULT_REFRESH = 2.0
#: The console actions that destroy something: hidden and refused in read-only mode.
DESTRUCTIVE_ACTIONS = frozenset(k.app_action for k in KEYS if k.destructive and k.app_action)
#: The views, by the name ``show_view`` takes.
VIEWS = ("nodes", "tasks")


class TopApp(App[None]):
    """The ``tuiq top`` console over one broker's cluster."""

    CSS_PATH = "top.tcss"
    TITLE = "tuiq top"
    BINDINGS = bindings("global")
    COMMANDS = {ConsoleCommands}

    def __init__(self, app: Any = None, *, state: ClusterState | None = None,
                 live: bool = True, read_only: bool = False,
                 clock: Callable[[], float] = time.time, broker_label: str = "",
                 refresh: float = DEFAULT_REFRESH) -> None:
        super().__init__()
        if app is None:
            from tuiq.app import App as TuiqApp

            app = TuiqApp("tuiq")
        self.tuiq_app = app
        self.cluster = state if state is not None else ClusterState(clock=clock)
        self.live = live
        self.read_only = read_only
        self.clock = clock
        self.broker_label = broker_label
        self.refresh_interval = refresh
        self.paused = False
        self.queue_depths: dict[str, int] | None = None
        self.poll_error: str | None = None
        self.history: list[str] = []
        #: The last command outcome shown (what the user saw, for scripts and tests).
        self.last_outcome: Outcome | None = None
        self.actions = Actions(app)
        self.feed: LiveFeed | None = None
        self.poller: Poller | None = None
        self._poll_client: Any = None
        self._depths: QueueDepths | None = None
        self._banner_text = ""
        #: The collector settings applied once the first screen is up (see gc_tuning).
        self.gc_tuning = GcTuning()

    # -- layout and lifecycle -----------------------------------------------------------
    def compose(self) -> ComposeResult:
        """Header, status banner, the two views, footer."""
        yield ClusterHeader(id="header")
        yield Static("", id="banner", markup=False)
        with ContentSwitcher(initial="nodes", id="views"):
            yield NodesView(id="nodes")
            yield TasksView(id="tasks")
        yield Footer()

    def on_mount(self) -> None:
        """Start the feed and the polls (when live), draw once, focus the nodes view."""
        if self.read_only:
            self.sub_title = "read-only"
        if self.live:
            self._start_live()
            self.set_interval(TICK, self.tick, name="tuiq-tick")
        self.refresh_now(full=True)
        self._focus_view()
        # After the first paint, so what drawing it created is frozen with the rest.
        self.call_after_refresh(self.gc_tuning.apply)

    def _start_live(self) -> None:
        from tuiq.broker import mask_url
        from tuiq.control.client import ControlClient

        if not self.broker_label:
            self.broker_label = mask_url(self.tuiq_app.broker_url)
        self.feed = LiveFeed(receiver_factory(self.tuiq_app), clock=self.clock)
        self.feed.start()
        self._poll_client = ControlClient(self.tuiq_app)
        self._depths = QueueDepths(self.tuiq_app)
        self.poller = Poller(self, self._poll, self._apply_poll, self.refresh_interval,
                             snapshot=self._detail_node)
        self.poller.start()

    def on_unmount(self) -> None:
        """Stop the threads, release the connections, put the collector back as it was."""
        self.gc_tuning.restore()
        if self.poller is not None:
            self.poller.stop()
        if self.feed is not None:
            self.feed.stop(timeout=1.0)
        for closer in (self.actions.close, getattr(self._poll_client, "close", None),
                       getattr(self._depths, "close", None)):
            if closer is not None:
                try:
                    closer()
                except Exception:  # noqa: BLE001, S110 - leaving anyway
                    pass

    # -- the live feed ----------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while the event feed is connected (always, for a canned state)."""
        return self.feed.connected if self.feed is not None else True

    def tick(self) -> None:
        """Drain the feed into the model and redraw what changed (unless paused)."""
        if not self._running:
            # A timer can fire while Textual removes the screens at exit.
            return
        if self.feed is not None:
            events = self.feed.drain()
            if events:
                self.cluster.ingest(events)
        self._show_banner()
        if not self.paused:
            self.refresh_now()

    def refresh_now(self, full: bool = False) -> None:
        """Redraw the header, the visible view and an open detail screen."""
        now = self.clock()
        changes = None if full else self.cluster.take_changes()
        if full:
            self.cluster.take_changes()
        self._refresh_header(now)
        view = self.current_view
        if view is not None:
            view.refresh_from(self.cluster, now, changes)
        detail = self.detail_screen
        if detail is not None:
            detail.refresh_from(self.cluster, now)
        self._show_banner()

    def _refresh_header(self, now: float) -> None:
        try:
            header = self.query_one(ClusterHeader)
        except Exception:  # noqa: BLE001 - not mounted yet (or already gone)
            return
        header.refresh_from(self.cluster, now, broker=self.broker_label,
                            connected=self.connected, paused=self.paused,
                            queue_depths=self.queue_depths, read_only=self.read_only)

    def _show_banner(self) -> None:
        text, kind = self.banner()
        if text == self._banner_text:
            return
        self._banner_text = text
        try:
            banner = self.query_one("#banner", Static)
        except Exception:  # noqa: BLE001 - not mounted yet
            return
        banner.update(text)
        banner.set_classes(kind)
        banner.display = bool(text)

    def banner(self) -> tuple[str, str]:
        """The status line shown under the header, and its style class ('' when all is well)."""
        feed = self.feed
        if feed is not None and not feed.connected:
            status = feed.status
            if status.detail == "connecting" and not status.ever_connected:
                return f"Connecting to {self.broker_label}…", "-connecting"
            reason = f": {status.detail}" if status.detail else ""
            shown = "the last known state is shown" if status.ever_connected \
                else "nothing to show yet"
            return (f"DISCONNECTED from {self.broker_label}{reason}. Reconnecting; {shown}.",
                    "-disconnected")
        if self.paused:
            return "PAUSED: the screen is frozen, events are still collected. p resumes.", \
                "-paused"
        if self.poll_error:
            return f"Inspect poll failed: {self.poll_error}", "-warning"
        return "", ""

    # -- inspect polls ------------------------------------------------------------------------
    def _detail_node(self) -> str | None:
        detail = self.detail_screen
        return getattr(detail, "hostname", None) if isinstance(detail, NodeDetailScreen) \
            else None

    def _poll(self, detail: str | None) -> PollResult:
        return run_poll(self._poll_client, detail=detail, depths=self._depths)

    def _apply_poll(self, result: PollResult) -> None:
        now = self.clock()
        for node, command, reply in result.replies:
            try:
                self.cluster.update_inspect(node, command, reply, now=now)
            except ValueError:
                continue
        if result.queue_depths is not None:
            self.queue_depths = result.queue_depths
        self.poll_error = result.error
        self._show_banner()

    # -- where the user is --------------------------------------------------------------------
    @property
    def current_view(self) -> Any:
        """The visible view of the main screen (NodesView or TasksView)."""
        try:
            switcher = self.screen_stack[0].query_one("#views", ContentSwitcher)
        except Exception:  # noqa: BLE001 - not mounted yet
            return None
        current = switcher.current
        return switcher.get_child_by_id(current) if current else None

    @property
    def base_screen(self) -> Screen:
        """The topmost screen that is not a modal (prompt, palette, confirmation)."""
        for screen in reversed(self.screen_stack):
            if not isinstance(screen, ModalScreen):
                return screen
        return self.screen_stack[0]

    @property
    def detail_screen(self) -> Any:
        """The open node or task detail screen, if any."""
        screen = self.base_screen
        return screen if isinstance(screen, NodeDetailScreen | TaskDetailScreen) else None

    def command_context(self) -> CommandContext:
        """What the user has selected: the targets commands are pre-filled with."""
        screen = self.base_screen
        if isinstance(screen, NodeDetailScreen):
            ids = tuple(screen.selected_tasks())
            return CommandContext(nodes=(screen.hostname,), task_ids=ids,
                                  task_names=self._task_names(ids, screen.hostname),
                                  queues=tuple(self.node_queues(screen.hostname)),
                                  scope="node")
        if isinstance(screen, TaskDetailScreen):
            task = self.cluster.tasks.get(screen.task_id)
            return CommandContext(task_ids=(screen.task_id,),
                                  task_names=(task.name,) if task and task.name else (),
                                  scope="task")
        view = self.current_view
        if isinstance(view, TasksView):
            tasks = view.selected_tasks()
            names = tuple(dict.fromkeys(t.name for t in tasks if t.name))
            return CommandContext(task_ids=tuple(t.uuid for t in tasks), task_names=names,
                                  scope="tasks")
        if isinstance(view, NodesView):
            nodes = tuple(view.selected_nodes())
            queues = tuple(dict.fromkeys(q for node in nodes for q in self.node_queues(node)))
            return CommandContext(nodes=nodes, queues=queues, scope="nodes")
        return CommandContext()

    def node_queues(self, hostname: str | None) -> list[str]:
        """The queues ``hostname`` consumes, as its last ``active_queues`` reply said."""
        worker = self.cluster.workers.get(hostname) if hostname else None
        queues = getattr(worker, "queues", None) or []
        return [q["name"] for q in queues if isinstance(q, dict) and q.get("name")]

    def _task_names(self, ids: tuple[str, ...], hostname: str) -> tuple[str, ...]:
        names: dict[str, None] = {}
        worker = self.cluster.workers.get(hostname)
        listed = [*(getattr(worker, "active_tasks", None) or []),
                  *(getattr(worker, "reserved_tasks", None) or [])]
        by_id = {i.get("id"): i.get("name") for i in listed if isinstance(i, dict)}
        for task_id in ids:
            task = self.cluster.tasks.get(task_id)
            name = task.name if task is not None and task.name else by_id.get(task_id)
            if name:
                names[name] = None
        return tuple(names)

    # -- plain actions ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Destructive actions do not exist in read-only mode (hidden from the footer too)."""
        if self.read_only and action in DESTRUCTIVE_ACTIONS:
            return False
        return True

    def action_show_view(self, name: str) -> None:
        """Switch the main screen to the nodes or tasks view."""
        if name not in VIEWS:
            return
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ModalScreen):
            self.pop_screen()
        switcher = self.screen_stack[0].query_one("#views", ContentSwitcher)
        if switcher.current != name:
            switcher.current = name
            view = self.current_view
            if view is not None:
                # It missed every change while hidden.
                view.refresh_from(self.cluster, self.clock(), None)
        self._focus_view()

    def _focus_view(self) -> None:
        view = self.current_view
        if view is not None:
            # The views hand the focus to their table, where their keys act.
            view.focus()

    def action_toggle_pause(self) -> None:
        """Freeze or resume the screen; events keep being collected meanwhile."""
        self.paused = not self.paused
        self._refresh_header(self.clock())
        self._show_banner()
        if not self.paused:
            self.refresh_now()

    def action_help(self) -> None:
        """The key table, for the keys that work here."""
        self.push_screen(HelpScreen(self.read_only))

    def action_back(self) -> None:
        """Close the detail screen."""
        if len(self.screen_stack) > 1:
            self.pop_screen()

    async def action_command_mode(self, text: str = "") -> None:
        """Open the ``:`` command line, and wait until it is up and focused.

        The keys typed right behind ``:`` are still on their way up from the old focus
        (see ``type_ahead``); waiting here holds them back until the line can take them
        (:meth:`on_key`), Enter among them finding the line's bindings.
        """
        await self.push_screen(CommandLineScreen(text, read_only=self.read_only,
                                                 history=self.history),
                               self._command_entered)

    def on_key(self, event: events.Key) -> None:
        """Characters typed right behind ``:`` reach the app from below: into the line."""
        screen = self.screen
        if isinstance(screen, CommandLineScreen):
            screen.type_ahead(event)

    def _command_entered(self, result: Invocation | str | None) -> None:
        if result is None:
            return
        if isinstance(result, str):
            self.run_key_action(result)
            return
        self.confirm_and_run(result)

    def run_key_action(self, action: str, scope: str = "global") -> None:
        """Run a key-table action (``app.toggle_pause``, ``show_view('tasks')``...).

        An action of a view or detail screen (``tag``, ``next_tab``: ``scope`` says
        whose) runs on the one in front, as its key would.
        """
        if scope == "global" or action.startswith("app."):
            self.call_later(self.run_action, action.removeprefix("app."))
        else:
            self.call_later(self._run_scoped_action, action, scope)

    async def _run_scoped_action(self, action: str, scope: str) -> None:
        target = self.base_screen if scope in ("node", "task") else self.current_view
        if target is not None:
            await self.run_action(action, target)

    async def on_nodes_view_opened(self, message: Any) -> None:
        """Enter on a node: its detail screen, polled right away."""
        screen = NodeDetailScreen(message.hostname)
        await self.push_screen(screen)
        screen.refresh_from(self.cluster, self.clock())
        if self.poller is not None:
            self.poller.poll_now()

    async def on_tasks_view_opened(self, message: Any) -> None:
        """Enter on a task: its detail screen."""
        screen = TaskDetailScreen(message.task_id)
        await self.push_screen(screen)
        screen.refresh_from(self.cluster, self.clock())

    # -- control keys -------------------------------------------------------------------------
    def action_ping(self) -> None:
        """Ping the selected nodes."""
        self.begin_command("ping", from_key=True)

    def action_pool_grow(self) -> None:
        """Add one pool process on the selected nodes."""
        self.begin_command("pool_grow", from_key=True)

    def action_pool_shrink(self) -> None:
        """Remove one pool process on the selected nodes."""
        self.begin_command("pool_shrink", from_key=True)

    def action_rate_limit(self) -> None:
        """Set a task type's rate limit (the selected task's type, pre-filled)."""
        self.begin_command("rate_limit", from_key=True)

    def action_time_limit(self) -> None:
        """Set a task type's time limits."""
        self.begin_command("time_limit", from_key=True)

    def action_add_consumer(self) -> None:
        """Make the selected nodes consume a queue."""
        self.begin_command("add_consumer", from_key=True)

    def action_cancel_consumer(self) -> None:
        """Make the selected nodes stop consuming a queue."""
        self.begin_command("cancel_consumer", from_key=True)

    def action_enable_events(self) -> None:
        """Turn task events on for the selected nodes."""
        self.begin_command("enable_events", from_key=True)

    def action_disable_events(self) -> None:
        """Turn task events off for the selected nodes."""
        self.begin_command("disable_events", from_key=True)

    def action_pool_restart(self) -> None:
        """Replace the pool processes of the selected nodes (asks first)."""
        self.begin_command("pool_restart", from_key=True)

    def action_shutdown(self) -> None:
        """Shut the selected nodes down (asks first)."""
        self.begin_command("shutdown", from_key=True)

    def action_purge(self) -> None:
        """Delete the waiting messages of a queue (asks first)."""
        self.begin_command("purge", from_key=True)

    def action_revoke(self) -> None:
        """Revoke the selected tasks on every node."""
        self.begin_command("revoke", from_key=True)

    def action_terminate(self) -> None:
        """Terminate the selected tasks with a signal picked first (asks first)."""
        self.begin_command("terminate", from_key=True)

    def action_retry(self) -> None:
        """Send the selected failed tasks again (same name and arguments, new ids)."""
        context = self.command_context()
        if not context.task_ids:
            self.notify("retry: no task selected", severity="error", markup=False)
            return
        self.retry_tasks(list(context.task_ids))

    # -- running commands -------------------------------------------------------------------
    def begin_command(self, name: str, from_key: bool = False) -> None:
        """Pre-fill ``name`` from the selection, prompt for what is missing, then run it."""
        spec = find(name)
        if spec is None:
            self.notify(f"unknown command: {name!r}", severity="error", markup=False)
            return
        if self.read_only and is_destructive(spec):
            self.notify(f"{spec.name} is not allowed in read-only mode", severity="error",
                        markup=False)
            return
        context = self.command_context()
        values, destination = prefill(spec, context)
        if spec.name == "retry" and context.task_ids and from_key:
            self.retry_tasks(list(context.task_ids))
            return
        if needs_prompt(spec, values, from_key):
            self.push_screen(ArgumentsScreen(spec, values, destination, read_only=self.read_only),
                             self.confirm_and_run)
            return
        try:
            arguments = shape_fields(spec, values)
        except CommandError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.confirm_and_run(Invocation(spec, arguments, parse_nodes(destination),
                                        spec.default_timeout))

    def confirm_and_run(self, invocation: Invocation | None) -> None:
        """Ask first when the invocation is destructive, then run it."""
        if invocation is None:
            return
        if invocation.destructive:
            if self.read_only:
                self.notify(invocation.refusal(), severity="error", markup=False)
                return
            title, question = danger(invocation)
            self.push_screen(ConfirmScreen(title, question, invocation.describe()),
                             partial(self._confirmed, invocation))
            return
        self.run_invocation(invocation)

    def _confirmed(self, invocation: Invocation, confirmed: bool | None) -> None:
        if confirmed:
            self.run_invocation(invocation)
        else:
            self.notify(f"{invocation.name}: cancelled, nothing sent", markup=False)

    def run_invocation(self, invocation: Invocation) -> None:
        """Send it from a thread; the replies are shown when they come back."""
        if invocation.console:
            if invocation.name == "retry":
                self.retry_tasks(list(invocation.arguments.get("task_id") or []))
            elif invocation.name == "purge":
                queues = list(invocation.arguments.get("queue") or [])
                self._in_thread(lambda: self.actions.purge(queues))
            return
        self._in_thread(lambda: self.actions.run(invocation))

    def retry_tasks(self, task_ids: list[str]) -> None:
        """Re-send each task that can be; say in one line why the others cannot."""
        requests, refused = [], []
        for task_id in task_ids:
            task = self.cluster.tasks.get(task_id)
            if task is None:
                refused.append(f"cannot retry {task_id}: it is not in the task list")
                continue
            try:
                requests.append(retry_request(task, self.node_queues(task.hostname)))
            except CommandError as exc:
                refused.append(str(exc))
        if not requests:
            self.show_outcome(Outcome("retry", lines=refused, failed=True))
            return
        self._in_thread(lambda: self.actions.retry(requests, refused))

    def _in_thread(self, job: Callable[[], Outcome]) -> None:
        def work() -> None:
            outcome = job()
            try:
                self.call_from_thread(self.show_outcome, outcome)
            except RuntimeError:
                pass  # the console closed meanwhile

        self.run_worker(work, thread=True, group="tuiq-command", exit_on_error=False)

    def show_outcome(self, outcome: Outcome) -> None:
        """Show each node's reply: a notification for short ones, else a panel."""
        self.last_outcome = outcome
        name = outcome.command
        if outcome.error:
            self.notify(f"{name}: {outcome.error}", severity="error", markup=False)
        elif outcome.lines:
            self.notify("\n".join(outcome.lines), title=name,
                        severity="error" if outcome.failed else "information", markup=False)
        elif fits_notification(outcome.replies):
            lines = summary_lines(name, outcome.replies, outcome.missing, cast=outcome.cast)
            self.notify("\n".join(lines), title=name,
                        severity=severity(outcome.replies, outcome.missing), markup=False)
        else:
            self.push_screen(RepliesScreen(name, outcome.replies, outcome.missing))
        if self.poller is not None and not outcome.error:
            # Show the command's effect (pool size, queues, revoked ids) without waiting.
            self.poller.poll_now()
