"""The shell's commands: one line in, output printed, success or one red line out.

:class:`Shell` runs a line: the registry's inspect and control commands (with
the CLI's arguments, errors and rendering, through one kept
:class:`~tuiq.control.client.ControlClient`), and the shell's own ``call``,
``result``, ``purge``, ``nodes``, ``use``, ``events``, ``json``, ``python``,
``help`` and ``exit``. It knows nothing of terminals: the REPL and the
non-interactive runner both feed it lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tuiq import states
from tuiq.control.arguments import NO_REPLY_COMMANDS, shape_arguments, validate_task_id
from tuiq.control.render import output_console
from tuiq.exceptions import TimeoutError as ResultTimeout
from tuiq.exceptions import TuiqError
from tuiq.shell.errors import ExitShell, ShellError
from tuiq.shell.names import NameStore
from tuiq.shell.parsing import Parsed, check_positionals, parse
from tuiq.shell.python import LeavePython, PythonEvaluator, namespace
from tuiq.shell.specs import CommandTable, build_table
from tuiq.shell.values import (
    call_arguments,
    split_nodes,
    to_datetime,
    to_expires,
    to_int,
    to_seconds,
)

#: Seconds to wait for silent nodes when ``-t`` is not given (the CLI's default).
DEFAULT_TIMEOUT = 1.0


class Shell:
    """Runs command lines against one app: its broker, its result backend, its tasks."""

    def __init__(self, app: Any, *, json_mode: bool = False, names: NameStore | None = None,
                 table: CommandTable | None = None, out: Console | None = None,
                 err: Console | None = None,
                 confirm: Callable[[str], bool] | None = None,
                 check_tasks: bool = False) -> None:
        self.app = app
        #: Refuse ``call`` of a name the app does not register (the app came from -A).
        self.check_tasks = check_tasks
        self.client = app.control
        self.table = table or build_table()
        self.names = names or NameStore.for_app(app)
        self.destination: list[str] | None = None
        self.json_mode = json_mode
        self.python_mode = False
        self.out = out or output_console()
        self.err = err or Console(stderr=True, highlight=False, soft_wrap=True)
        #: Asks the operator yes/no; None when nobody is there to answer.
        self.confirm = confirm
        #: Called after ``use`` and when the node list may have changed.
        self.on_nodes_changed: Callable[[], None] | None = None
        #: The background event feed, when one runs (the REPL starts it).
        self.event_feed: Any = None
        self._python: PythonEvaluator | None = None

    @property
    def interactive(self) -> bool:
        """Whether someone is at a terminal to answer questions (the REPL)."""
        return self.confirm is not None

    # -- output ------------------------------------------------------------------------------
    def write(self, text: str) -> None:
        """Print plain text (JSON, ids) exactly as given."""
        stream = self.out.file
        stream.write(text + "\n")
        stream.flush()

    def status(self, text: str) -> None:
        """A remark about the shell itself (destination, modes), on standard error.

        Standard output carries only what commands answer, so ``-c "use n" -c "stats -j"``
        writes JSON a script can read.
        """
        self.err.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def error(self, message: str) -> None:
        """One red line on standard error."""
        line = " ".join(message.split()) if message else "failed"
        self.err.print(f"Error: {line}", style="red", markup=False, highlight=False,
                       emoji=False, soft_wrap=True)

    def note(self, message: str) -> None:
        """A yellow remark that is not a failure."""
        self.err.print(message, style="yellow", markup=False, highlight=False, emoji=False,
                       soft_wrap=True)

    # -- running a line ------------------------------------------------------------------------
    def run_line(self, line: str) -> bool:
        """Run one line; False, after one red line, if it failed.

        Raises :class:`ExitShell` for ``exit`` and lets ``KeyboardInterrupt`` through
        (the REPL cancels the command).
        """
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        try:
            return self._dispatch(text) is not False
        except (ExitShell, KeyboardInterrupt):
            raise
        except TuiqError as exc:
            self._note_broker_trouble(exc)
            self.error(str(exc))
        except Exception as exc:  # noqa: BLE001 - one line, whatever broke; the shell goes on
            self._note_broker_trouble(exc)
            self.error(describe(exc))
        return False

    def _note_broker_trouble(self, exc: BaseException) -> None:
        # The toolbar's node count is stale once the broker is gone: say so at once
        # rather than at the next background refresh.
        from kombu.exceptions import OperationalError

        from tuiq.exceptions import BrokerUnavailable

        if isinstance(exc, BrokerUnavailable | OperationalError | ConnectionError):
            self.names.set_error("broker unreachable")

    def _dispatch(self, text: str) -> bool | None:
        if self.python_mode:
            if text in ("exit", "quit"):
                self.python_mode = False
                return True
            return self.run_python(text)
        if text.startswith("!"):
            return self.run_python(text[1:])
        first, _, rest = text.partition(" ")
        if first == "python":
            if rest.strip():
                return self.run_python(rest)
            if not self.interactive:
                raise ShellError("python mode needs a terminal: use !EXPR or python EXPR")
            self.python_mode = True
            return True
        parsed = parse(self.table, text)
        if parsed.spec.kind in ("inspect", "control"):
            return self.run_remote(parsed)
        check_positionals(parsed)
        handler = getattr(self, f"cmd_{parsed.spec.name}")
        return handler(parsed)

    # -- remote control ---------------------------------------------------------------------------
    def run_remote(self, parsed: Parsed) -> bool:
        """An inspect or control command: broadcast, render, fail if a node failed or was silent."""
        command = parsed.spec.command
        assert command is not None
        options = dict(parsed.options)
        destination = split_nodes(options.pop("destination", None) or ()) or self.destination
        timeout = to_seconds(options.pop("timeout", None), DEFAULT_TIMEOUT, "--timeout")
        limit = to_int(options.pop("limit", None), "--limit", 1)
        as_json = bool(options.pop("json", False)) or self.json_mode
        arguments = shape_arguments(command, parsed.positionals, options)
        if command.name in NO_REPLY_COMMANDS:
            return self._cast(command.name, arguments, destination, timeout)
        replies = self.client.broadcast(command.name, arguments, destination=destination,
                                        reply=True, timeout=timeout, limit=limit)
        assert replies is not None
        self.names.note_replies(command.name, replies, replies.missing)
        self.show(command.name, replies, replies.missing, as_json,
                  as_list=command.kind == "control")
        problem = replies.problem(timeout)
        if problem:
            raise ShellError(problem)
        return True

    def _cast(self, name: str, arguments: dict[str, Any], destination: list[str] | None,
              timeout: float) -> bool:
        # Nodes never reply to these: send to those that answer a ping, and say who.
        pings = self.client.broadcast("ping", destination=destination, reply=True,
                                      timeout=timeout)
        assert pings is not None
        if pings:
            self.client.broadcast(name, arguments, destination=sorted(pings))
            self.status(f"{name} sent to {', '.join(sorted(pings))}")
        problem = pings.problem(timeout)
        if problem:
            raise ShellError(problem)
        return True

    def show(self, command: str, replies: dict[str, Any], missing: list[str], as_json: bool,
             as_list: bool = False) -> None:
        """Replies as JSON (Celery's shapes) or as the CLI's tables."""
        from tuiq.control.render import print_replies, to_json

        if as_json:
            self.write(to_json(replies, as_list=as_list))
        else:
            print_replies(self.out, command, replies, missing)

    # -- the shell's own commands ---------------------------------------------------------------
    def cmd_call(self, parsed: Parsed) -> bool:
        """``call NAME [ARGS...]``: send a task, print its id."""
        name, *words = parsed.positionals
        options = parsed.options
        args, kwargs = call_arguments(words, options.get("args_json"), options.get("kwargs_json"))
        if self.check_tasks and not options.get("force"):
            problem = self.app.unknown_task(name)
            if problem:
                raise ShellError(f"{problem} (call --force sends it anyway)")
        result = self.app.send_task(
            name, args, kwargs,
            countdown=to_seconds(options.get("countdown"), None, "--countdown"),
            eta=to_datetime(options.get("eta"), "--eta"),
            expires=to_expires(options.get("expires")),
            queue=options.get("queue"),
            priority=to_int(options.get("priority"), "--priority", 0, 255),
        )
        self.names.remember_ids([(result.id, name)], "call")
        if options.get("json") or self.json_mode:
            from kombu.utils.json import dumps

            self.write(dumps({"id": result.id, "name": name}))
        else:
            self.write(result.id)
        names = self.names.snapshot
        if names.refreshed is not None and names.online() and name not in names.tasks:
            self.note(f"note: no node that answers has registered {name}")
        return True

    def cmd_result(self, parsed: Parsed) -> bool:
        """``result ID [--wait] [-t SECONDS]``: the task's state and result."""
        task_id = validate_task_id(parsed.positionals[0])
        options = parsed.options
        timeout = to_seconds(options.get("timeout"), None, "--timeout")
        backend = self.app.backend
        if options.get("wait") or timeout is not None:
            try:
                meta = backend.wait_for(task_id, timeout=timeout)
            except ResultTimeout:
                raise ShellError(f"task {task_id} not ready after {timeout:g}s") from None
        else:
            meta = backend.get_task_meta(task_id)
        self.names.remember_ids([(task_id, meta.get("name"))], "result")
        status = meta.get("status")
        if options.get("json") or self.json_mode:
            from kombu.utils.json import dumps

            self.write(dumps(meta))
            return status != states.FAILURE
        if status == states.SUCCESS:
            from kombu.utils.json import dumps

            value = meta.get("result")
            self.write(value if isinstance(value, str) else dumps(value))
        elif status in states.EXCEPTION_STATES:
            exc = meta.get("result") or {}
            if isinstance(exc, dict):
                message = ", ".join(map(str, exc.get("exc_message") or []))
                self.error(f"{status}: {exc.get('exc_type')}: {message}")
            else:
                self.error(f"{status}: {exc}")
            if options.get("traceback") and meta.get("traceback"):
                self.write(str(meta["traceback"]).rstrip())
            return status != states.FAILURE
        else:
            self.write(str(status))
        return True

    def cmd_purge(self, parsed: Parsed) -> bool:
        """``purge [QUEUE...] [-f]``: delete waiting messages, after asking."""
        from tuiq.broker import check_reachable
        from tuiq.purge import purge_lines, purge_queues, purge_total

        names = split_nodes(parsed.positionals) or list(self.app.queues())
        if not parsed.options.get("force"):
            question = (f"Delete every message waiting in {len(names)} queue(s): "
                        f"{', '.join(names)}?")
            if not self.interactive:
                raise ShellError("purge asks for confirmation: add -f/--force when not "
                                 "interactive")
            assert self.confirm is not None
            if not self.confirm(question):
                self.write("Nothing purged.")
                return True
        check_reachable(self.app.broker_url,
                        transport_options=self.app.conf.broker_transport_options)
        with self.app.connection() as connection:
            counts = purge_queues(connection, names)
        for line in purge_lines(counts):
            self.write(line)
        self.write(purge_total(counts))
        return True

    def cmd_nodes(self, parsed: Parsed) -> bool:
        """``nodes``: who answers a ping now, and known nodes that did not."""
        timeout = to_seconds(parsed.options.get("timeout"), DEFAULT_TIMEOUT, "--timeout")
        replies = self.client.broadcast("ping", reply=True, timeout=timeout)
        assert replies is not None
        self.names.note_ping(replies)
        known = self.names.snapshot.nodes
        if parsed.options.get("json") or self.json_mode:
            from kombu.utils.json import dumps

            self.write(dumps({name: {"status": "online" if info.online else "offline",
                                     "reply": replies.get(name), "last_seen": info.last_seen}
                              for name, info in sorted(known.items())}))
        else:
            self.out.print(nodes_table(known, self.destination))
        if not replies:
            raise ShellError(f"no node replied within {timeout:g}s")
        return True

    def cmd_use(self, parsed: Parsed) -> bool:
        """``use NODE...`` / ``use all``: the default destination."""
        nodes = split_nodes(parsed.positionals)
        if not nodes:
            self.status(f"destination: {describe_destination(self.destination)}")
            return True
        if "all" in nodes:
            if len(nodes) > 1:
                raise ShellError("use: 'all' cannot be mixed with node names")
            self.destination = None
        else:
            online = set(self.names.snapshot.online())
            unsure = [node for node in nodes if node not in online]
            if unsure:
                replies = self.client.broadcast("ping", destination=unsure, reply=True,
                                                timeout=DEFAULT_TIMEOUT)
                assert replies is not None
                self.names.note_ping(replies, complete=False)
                silent = [node for node in unsure if node not in replies]
                if silent:
                    raise ShellError(f"unknown node: {', '.join(silent)} (no reply to ping; "
                                     "nodes lists those that answer)")
            self.destination = nodes
        if self.on_nodes_changed is not None:
            self.on_nodes_changed()
        self.status(f"destination: {describe_destination(self.destination)}")
        return True

    def cmd_json(self, parsed: Parsed) -> bool:
        """``json [on|off]``: JSON output for every command, or tables."""
        state = parsed.positionals[0].lower() if parsed.positionals else None
        if state not in (None, "on", "off"):
            raise ShellError(f"json: expected on or off, not {state!r}")
        self.json_mode = (not self.json_mode) if state is None else state == "on"
        self.status(f"json output {'on' if self.json_mode else 'off'}")
        return True

    def cmd_events(self, parsed: Parsed) -> bool:
        """``events``: tail the live event stream until ctrl+c (or --count/--timeout)."""
        from tuiq.shell.events import tail_events

        options = parsed.options
        return tail_events(self, count=to_int(options.get("count"), "--count", 1),
                           seconds=to_seconds(options.get("timeout"), None, "--timeout"),
                           as_json=bool(options.get("json")) or self.json_mode)

    def cmd_help(self, parsed: Parsed) -> bool:
        """``help [COMMAND]``."""
        from tuiq.shell.helptext import render_help

        self.out.print(render_help(self.table, parsed.positionals))
        return True

    def cmd_clear(self, parsed: Parsed) -> bool:
        """``clear``: clear the screen (nothing when the output is not a terminal)."""
        self.out.clear()
        return True

    def cmd_exit(self, parsed: Parsed) -> bool:
        """``exit``: leave the shell."""
        raise ExitShell()

    # -- python ------------------------------------------------------------------------------------
    @property
    def python(self) -> PythonEvaluator:
        """The Python evaluator (its namespace is kept for the whole session)."""
        if self._python is None:
            names = namespace(self.app)
            names["shell"] = self
            self._python = PythonEvaluator(names, self.write)
        return self._python

    def run_python(self, source: str) -> bool:
        """One line of Python; ``exit()`` leaves Python mode."""
        try:
            self.python.run(source)
        except LeavePython:
            self.python_mode = False
        return True

    def reset_connection(self) -> None:
        """Drop the broker connection (after ctrl+c stopped a command halfway)."""
        try:
            self.client.close()
        except Exception:  # noqa: BLE001, S110 - the next command connects afresh anyway
            pass


def describe(exc: BaseException) -> str:
    """One line for an unexpected error, whatever it is."""
    from kombu.exceptions import OperationalError

    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if isinstance(exc, OperationalError):
        return f"broker error: {first}"
    if isinstance(exc, ConnectionError | OSError):
        return f"connection failed: {first or type(exc).__name__}"
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def describe_destination(destination: list[str] | None) -> str:
    """``all nodes`` or the node names."""
    return ", ".join(destination) if destination else "all nodes"


def nodes_table(nodes: dict[str, Any], destination: list[str] | None) -> Table:
    """The ``nodes`` table: name, status, when last seen, whether it is a default target."""
    from tuiq.shell.completer import ago

    table = Table(show_edge=False)
    for column in ("node", "status", "last seen", "destination"):
        table.add_column(column)
    now = time.time()
    for name, info in sorted(nodes.items()):
        status = Text("online", style="green") if info.online else Text("offline", style="red")
        targeted = "yes" if destination is None or name in destination else ""
        table.add_row(Text(name), status, ago(info.last_seen, now), targeted)
    return table
