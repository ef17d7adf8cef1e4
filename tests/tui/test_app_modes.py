"""The console's own behaviour over a canned cluster: keys, help, palette, command mode,
read-only mode and pause. Nothing here reaches a broker: a refused command must be
refused before anything is sent.
"""

from __future__ import annotations

from textual import events
from textual.command import CommandList, CommandPalette
from textual.widgets import Input

from tests.tui.app_pilot import SIZE, pilot_test, screen_text, send_burst, until
from tests.tui.canned import ALPHA, FAILED_ID, RESERVED_ID
from tuiq.tui.commands import CONSOLE_COMMANDS
from tuiq.tui.keys import KEYS, keys_for
from tuiq.tui.screens.command_line import CommandLineScreen
from tuiq.tui.screens.confirm import ConfirmScreen
from tuiq.tui.screens.help import HelpScreen
from tuiq.tui.screens.prompt import ArgumentsScreen
from tuiq.tui.views.node_detail import NodeDetailScreen
from tuiq.tui.views.nodes import NodesView
from tuiq.tui.views.tasks import TasksView

DESTRUCTIVE = ("terminate", "shutdown", "pool_restart", "purge")


async def command_error(pilot, app, line: str) -> str:
    """Type ``:line`` and Enter (as one burst of keys); the one-line error shown."""
    send_burst(app, ":" + line, "enter")
    await until(pilot, lambda: isinstance(app.screen, CommandLineScreen) and app.screen.error,
                message=lambda: f"no error shown for {line!r}; screen {app.screen!r}")
    await pilot.pause()
    assert isinstance(app.screen, CommandLineScreen), "a refused line keeps the prompt open"
    error = app.screen.error
    await pilot.press("escape")
    return error


async def palette_entries(pilot, app, query: str = "") -> list[str]:
    """Open the palette, type ``query``; the texts of the commands it offers."""
    await pilot.press("ctrl+p")
    await until(pilot, lambda: CommandPalette.is_open(app))
    if query:
        await pilot.press(*query)
    palette = app.screen
    await until(pilot, lambda: palette.query_one(CommandList).option_count > 0)
    await pilot.pause(0.3)
    entries = [option.hit.text for option in palette.query_one(CommandList).options]
    return entries


@pilot_test
async def test_command_mode_errors_are_one_line(console):
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        assert await command_error(pilot, app, "frobnicate now") == \
            "unknown command: 'frobnicate' (ctrl+p lists them)"
        assert await command_error(pilot, app, "rate_limit shop.cart.add_item 10/q") == \
            "malformed rate limit: '10/q' (use e.g. 10/s, 100/m, 1000/h, or 0 to disable)"
        assert await command_error(pilot, app, "rate_limit shop.cart.add_item") == \
            "rate_limit: missing argument rate_limit (usage: rate_limit <task_name> <rate_limit>)"
        assert await command_error(pilot, app, "ping -t soon") == \
            "ping: invalid timeout: 'soon' (seconds, e.g. 2.5)"
        assert await command_error(pilot, app, "pool_grow many") == \
            "pool_grow: invalid n: 'many' (expected a positive whole number)"
        assert await command_error(pilot, app, "terminate BOGUS abc") == \
            "unknown signal: 'BOGUS' (use e.g. TERM, KILL, INT)"
        assert await command_error(pilot, app, "ping --frob") == "ping: unknown option --frob"
        assert app.last_outcome is None


@pilot_test
async def test_command_mode_switches_views_and_quits(console):
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", *"tasks", "enter")
        await pilot.pause()
        assert isinstance(app.current_view, TasksView)
        await pilot.press("colon", *"nodes", "enter")
        await pilot.pause()
        assert isinstance(app.current_view, NodesView)
        await pilot.press("colon", "q", "enter")
        await pilot.pause()
    assert app.return_code == 0


@pilot_test
async def test_keys_typed_in_one_burst_after_colon_land_in_the_command_line(console):
    """Every key is queued before ``:`` has opened the command line; none is lost."""
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        # From the nodes view, where most of these letters are keys of their own.
        line = "rate_limit shop.cart.add_item 10/q"
        send_burst(app, ":" + line, "enter")
        await until(pilot, lambda: isinstance(app.screen, CommandLineScreen) and app.screen.error,
                    message=lambda: f"no error shown; screen {app.screen!r}")
        assert app.screen.query_one("#command", Input).value == line
        assert app.screen.error.startswith("malformed rate limit: '10/q'")
        await pilot.press("escape")

        # A line that runs: Enter, in the same burst, runs it with every character.
        send_burst(app, ":tasks", "enter")
        await until(pilot, lambda: isinstance(app.current_view, TasksView)
                    and not isinstance(app.screen, CommandLineScreen))
        assert app.history[-1] == "tasks"
        assert app.last_outcome is None


@pilot_test
async def test_a_burst_with_tab_fills_each_field_of_a_form(console):
    """A paste or fast typing across Tab: the text after Tab goes to the next field."""
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        await pilot.pause()
        send_burst(app, "shop.cart.add_item")
        app._driver.send_message(events.Key("tab", "\t"))
        send_burst(app, "10/s")
        await until(pilot, lambda: app.screen.query_one("#arg-rate_limit", Input).value)
        await pilot.pause()
        assert app.screen.query_one("#arg-task_name", Input).value == "shop.cart.add_item"
        assert app.screen.query_one("#arg-rate_limit", Input).value == "10/s"
        await pilot.press("escape")


def test_characters_typed_before_the_command_line_is_composed_start_it():
    screen = CommandLineScreen("ra")
    for character in "te":
        assert screen.type_ahead(events.Key(character, character))
    assert not screen.type_ahead(events.Key("enter", "\r"))
    assert screen.text == "rate"


@pilot_test
async def test_number_keys_switch_views_and_p_pauses(console):
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.current_view, NodesView)
        await pilot.press("2")
        assert isinstance(app.current_view, TasksView)
        assert isinstance(app.focused.parent, TasksView) or app.focused is app.current_view
        await pilot.press("1")
        assert isinstance(app.current_view, NodesView)
        await pilot.press("p")
        await pilot.pause()
        assert app.paused
        assert "PAUSED" in screen_text(app)
        await pilot.press("p")
        await pilot.pause()
        assert not app.paused
        assert "PAUSED" not in screen_text(app)


@pilot_test
async def test_help_lists_every_key_of_the_table(console):
    app = console()
    async with app.run_test(size=(160, 200)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        shown = screen_text(app)
        for key in KEYS:
            assert key.explanation in shown, key
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pilot_test
async def test_read_only_hides_and_refuses_destructive_actions(console):
    app = console(read_only=True)
    async with app.run_test(size=(160, 200)) as pilot:
        # The header says so.
        await pilot.pause()
        assert "tuiq top (read-only)" in screen_text(app).splitlines()[0]
        # Keys: not in the footer, and pressing them does nothing.
        footer = next(line for line in screen_text(app).splitlines() if "? Help" in line)
        assert "Shutdown" not in footer and "Ping" in footer
        for key in ("X", "ctrl+r", "u"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.screen_stack[0], key
        await pilot.press("2", "k")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]

        # Help: the destructive keys are not listed.
        await pilot.press("question_mark")
        await pilot.pause()
        shown = screen_text(app)
        assert "(read-only)" in shown and "Revoke the tasks on every node" in shown
        for key in KEYS:
            if key.destructive:
                assert key.explanation not in shown, key
        await pilot.press("escape")

        # Palette: not offered.
        entries = await palette_entries(pilot, app)
        names = {entry.split()[0] for entry in entries}
        assert "revoke" in names and "ping" in names
        assert not names & set(DESTRUCTIVE)
        await pilot.press("escape")

        # Command mode: refused in one line.
        for line in ("shutdown", "terminate KILL abc", "pool_restart", "purge celery"):
            name = line.split()[0]
            assert await command_error(pilot, app, line) == \
                f"{name} is not allowed in read-only mode", line
        assert await command_error(pilot, app, "revoke abc --terminate") == \
            "revoke --terminate is not allowed in read-only mode (a plain revoke is)"
        assert app.last_outcome is None


@pilot_test
async def test_palette_offers_every_command_and_prefills_from_the_selection(console):
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        names = {entry.split()[0] for entry in await palette_entries(pilot, app)}
        assert {"revoke", "terminate", "rate_limit", "stats", "shutdown", "retry",
                "purge", "add_consumer", "registered"} <= names
        await pilot.press("escape")

        # From the tasks view, revoke is pre-filled with the task under the cursor.
        await pilot.press("2", "slash", *FAILED_ID[:13], "enter")
        await pilot.press("ctrl+p", *"revoke")
        await until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        prompt = app.screen
        assert prompt.query_one("#arg-task_id").value == FAILED_ID
        assert prompt.query_one("#destination").value == ""
        await pilot.press("escape")

        # From the nodes view, pool_grow goes to the node under the cursor.
        await pilot.press("1", "home")
        await pilot.press("ctrl+p", *"pool_grow")
        await until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        assert app.screen.query_one("#destination").value == ALPHA
        await pilot.press("escape")
        assert app.last_outcome is None


@pilot_test
async def test_palette_offers_the_keys_of_the_screen_in_front(console):
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, NodeDetailScreen)
        entries = await palette_entries(pilot, app)
        for key in keys_for("node"):
            # The keys sending a command are there as that command ("revoke ...").
            as_command = key.command is not None or key.app_action in CONSOLE_COMMANDS
            assert (key.explanation in entries) != as_command, key
        await pilot.press("escape")

        # Chosen, they act on the screen as their key would.
        await pilot.press("ctrl+p", *"tab to the right")
        await until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: screen.active_tab == "reserved")
        assert app.focused is screen.tables["reserved"]
        await pilot.press("ctrl+p", *"tag / untag the task")
        await until(pilot, lambda: CommandPalette.is_open(app))
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: screen.tables["reserved"].tagged)
        assert screen.selected_tasks() == [RESERVED_ID]


@pilot_test
async def test_a_bad_prompt_value_keeps_the_prompt_open(console):
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("home", "t")
        await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
        await pilot.press(*"shop.cart.add_item", "tab", *"soon", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ArgumentsScreen)
        assert str(app.screen.query_one("#error").content) == \
            "time_limit: invalid soft: 'soon' (expected optional_float)"
        await pilot.press("escape")
        assert app.last_outcome is None


@pilot_test
async def test_cancelling_a_confirmation_sends_nothing(console):
    app = console()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("home", "X")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert f"Shut down 1 node ({ALPHA})?" in screen_text(app)
        # The safe choice has the focus: Enter cancels.
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.last_outcome is None
        await until(pilot, lambda: "shutdown: cancelled, nothing sent" in screen_text(app))
