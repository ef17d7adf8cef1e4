"""Snapshots of the console's own screens over the canned cluster: help, palette,
confirmation, argument prompt with the signal picker, command mode with an error,
a replies panel, and the read-only and paused states."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette

from tests.tui.canned import ALPHA, BETA, LEGACY, RUNNING_ID
from tests.tui.conftest import SNAPSHOT_SIZE
from tuiq.tui.actions import Outcome


async def _palette_settled(pilot) -> None:
    """Wait until the palette has listed its commands (they are gathered asynchronously)."""
    app = pilot.app
    for _ in range(100):
        if CommandPalette.is_open(app) and app.screen.query_one(CommandList).option_count:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.3)


def test_help_screen(snap_compare, console):
    """``?``: every key of the table, by where it works, with the command it sends."""
    assert snap_compare(console(), press=["question_mark"], terminal_size=(160, 80))


def test_help_screen_read_only(snap_compare, console):
    """``--read-only``: the destructive keys are gone from help and footer."""
    assert snap_compare(console(read_only=True), press=["question_mark"],
                        terminal_size=(160, 80))


def test_command_palette(snap_compare, console):
    """``ctrl+p`` then ``rate``: the commands matching, registry and console alike."""
    async def settle(pilot) -> None:
        await pilot.press("ctrl+p", *"rate")
        await _palette_settled(pilot)

    assert snap_compare(console(), run_before=settle, terminal_size=SNAPSHOT_SIZE)


def test_confirm_shutdown(snap_compare, console):
    """``X`` on the first node: the confirmation, focus on Cancel."""
    assert snap_compare(console(), press=["home", "X"], terminal_size=SNAPSHOT_SIZE)


def test_terminate_signal_picker(snap_compare, console):
    """``k`` on a running task: the prompt with the task id filled in and the signal picker."""
    keys = ["2", "slash", *RUNNING_ID[:13], "enter", "k", "down"]
    assert snap_compare(console(), press=keys, terminal_size=(160, 40))


def test_command_mode_error(snap_compare, console):
    """``:`` with a malformed rate limit: the one-line error above the prompt."""
    keys = ["colon", *"rate_limit shop.cart.add_item 10/q", "enter"]
    assert snap_compare(console(), press=keys, terminal_size=SNAPSHOT_SIZE)


def test_command_mode_usage(snap_compare, console):
    """``:`` while typing a command: its usage and help above the prompt."""
    assert snap_compare(console(), press=["colon", *"revoke "], terminal_size=SNAPSHOT_SIZE)


def test_replies_panel(snap_compare, console):
    """A reply too large for a notification: each node's, and the node that stayed silent."""
    app = console()

    async def reply(pilot) -> None:
        app.show_outcome(Outcome("active_queues", {
            ALPHA: [{"name": "celery", "exchange": {"name": "celery", "type": "direct"},
                     "routing_key": "celery"}],
            BETA: [{"name": "exports", "exchange": {"name": "exports", "type": "direct"},
                    "routing_key": "exports"}],
        }, missing=[LEGACY]))
        await pilot.pause()

    assert snap_compare(app, run_before=reply, terminal_size=SNAPSHOT_SIZE)


def test_paused(snap_compare, console):
    """``p``: the banner says the screen is frozen."""
    assert snap_compare(console(), press=["p"], terminal_size=SNAPSHOT_SIZE)
