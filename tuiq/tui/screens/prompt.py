"""The argument prompt: one field per argument of a command, checked before anything is sent.

Fields are pre-filled from the selection (task ids, task name, queue,
destination); a ``signal`` argument is a picker. Values go through the same
parsing as ``tuiq control`` and the ``:`` command line, so a bad value gets the
CLI's one-line message and the prompt stays open.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tuiq.control.arguments import CommandError
from tuiq.control.registry import Argument, Command
from tuiq.tui.commands import SIGNALS, Invocation, parse_nodes, shape_fields

#: What each signal on the terminate picker does to a task's process.
SIGNAL_HELP = {
    "TERM": "ask the process to stop (default)",
    "KILL": "kill it at once",
    "INT": "interrupt (KeyboardInterrupt in the task)",
    "QUIT": "quit, with a core dump where enabled",
    "HUP": "hang up",
    "USR1": "user signal 1",
    "USR2": "user signal 2",
}
#: Arguments left out of the prompt in read-only mode (they would make it destructive).
READ_ONLY_HIDDEN = frozenset({"terminate"})


class SignalPicker(OptionList):
    """The signals a task can be terminated with; the highlighted one is the choice."""

    def __init__(self, initial: str = "TERM", **kwargs) -> None:
        options = [Option(f"{name:<5} {SIGNAL_HELP[name]}", id=name) for name in SIGNALS]
        super().__init__(*options, compact=True, **kwargs)
        initial = initial.upper().removeprefix("SIG")
        self._initial = SIGNALS.index(initial) if initial in SIGNALS else 0

    def on_mount(self) -> None:
        """Highlight the pre-filled signal."""
        self.highlighted = self._initial

    @property
    def value(self) -> str:
        """The chosen signal's name."""
        option = self.highlighted_option
        return option.id if option is not None and option.id else "TERM"


class ArgumentsScreen(ModalScreen[Invocation | None]):
    """Ask for a command's arguments and destination; dismissed with the invocation."""

    DEFAULT_CSS = """
    ArgumentsScreen { align: center middle; }
    ArgumentsScreen > #dialog {
        width: 80; max-width: 95%; height: auto; max-height: 95%;
        border: thick $primary; background: $surface; padding: 0 2;
    }
    ArgumentsScreen #title { text-style: bold; margin: 1 0 0 0; }
    ArgumentsScreen #help { color: $text-muted; }
    ArgumentsScreen Label { margin: 1 0 0 0; }
    ArgumentsScreen Input { margin: 0; background: $boost; }
    ArgumentsScreen SignalPicker { height: auto; max-height: 9; background: $boost; }
    ArgumentsScreen #error { color: $error; height: auto; margin: 1 0 0 0; display: none; }
    ArgumentsScreen #buttons { height: auto; align-horizontal: right; margin: 1 0 1 0; }
    ArgumentsScreen Button { margin: 0 0 0 2; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="prompt_cancel"),
        # Priority: the app moves the focus before it hands the next key to a field, so
        # text typed or pasted right after Tab lands in the next field, not this one.
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False,
                priority=True),
    ]

    def __init__(self, spec: Command, values: dict[str, str], destination: str = "", *,
                 read_only: bool = False, timeout: float | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.values = values
        self.destination = destination
        self.read_only = read_only
        self.timeout = timeout or spec.default_timeout

    @property
    def fields(self) -> list[Argument]:
        """The arguments asked for."""
        hidden = READ_ONLY_HIDDEN if self.read_only else frozenset()
        return [arg for arg in self.spec.args if arg.name not in hidden]

    def compose(self) -> ComposeResult:
        """A field per argument, the destination, the error line and the buttons."""
        spec = self.spec
        with Vertical(id="dialog"):
            yield Static(f"{spec.name} {spec.signature}".strip(), id="title", markup=False)
            if spec.help:
                yield Static(spec.help, id="help", markup=False)
            for arg in self.fields:
                yield Label(_label(arg), markup=False)
                if arg.name == "signal":
                    yield SignalPicker(self.values.get("signal", "TERM"), id="arg-signal")
                else:
                    yield Input(self.values.get(arg.name, ""), placeholder=_placeholder(arg),
                                id=f"arg-{arg.name}", compact=True)
            if spec.kind != "console":
                yield Label("destination: node names, comma-separated (empty: every node)",
                            markup=False)
                yield Input(self.destination, placeholder="every node", id="destination",
                            compact=True)
            yield Static("", id="error", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Cancel (esc)", id="cancel", compact=True)
                yield Button("Send (enter)", id="send", variant="primary", compact=True)

    def on_mount(self) -> None:
        """Focus the first field still empty (the signal picker for terminate)."""
        focus_order = [w for w in self.query("#dialog Input, #dialog SignalPicker")]
        for widget in focus_order:
            if isinstance(widget, SignalPicker) or not widget.value:
                widget.focus()
                return
        if focus_order:
            focus_order[0].focus()

    def collect(self) -> dict[str, str]:
        """The typed values by argument name."""
        values: dict[str, str] = {}
        for arg in self.fields:
            widget = self.query_one(f"#arg-{arg.name}")
            values[arg.name] = widget.value if isinstance(widget, SignalPicker | Input) else ""
        return values

    def submit(self) -> None:
        """Check the values; dismiss with the invocation, or show the one-line error."""
        try:
            arguments = shape_fields(self.spec, self.collect())
        except CommandError as exc:
            self.show_error(str(exc))
            return
        destination = None
        if self.spec.kind != "console":
            destination = parse_nodes(self.query_one("#destination", Input).value)
        self.dismiss(Invocation(self.spec, arguments, destination, self.timeout))

    def show_error(self, message: str) -> None:
        """Show why the values cannot be sent."""
        error = self.query_one("#error", Static)
        error.update(message)
        error.display = bool(message)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any field sends."""
        event.stop()
        self.submit()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a signal sends with it."""
        event.stop()
        self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Send or cancel."""
        event.stop()
        if event.button.id == "send":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Send nothing."""
        self.dismiss(None)


def _label(arg: Argument) -> str:
    need = "required" if arg.required else "optional"
    many = ", several allowed" if arg.variadic else ""
    text = f"{arg.name} ({need}{many})"
    return f"{text}: {arg.help}" if arg.help else text


def _placeholder(arg: Argument) -> str:
    if arg.default not in (None, False, ""):
        return f"default: {arg.default}"
    if arg.type is bool or getattr(arg.type, "__name__", "") == "to_bool":
        return "yes / no (default: no)"
    return arg.help or arg.name
