"""Commands the ``-A`` app's modules declare are the console's commands too."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette

from tests.tui.app_pilot import SIZE, pilot_test, redis_urls, send_burst, start_cluster, until
from tuiq.cli.remote import load_user_commands
from tuiq.tui.app import TopApp
from tuiq.tui.screens.prompt import ArgumentsScreen


@pytest.mark.user_commands
@pilot_test
async def test_user_commands_in_the_palette_and_command_mode(tmp_path):
    broker, backend = redis_urls()
    # What ``tuiq top -A tests.support.usercmds_app`` does before the console starts.
    load_user_commands("tests.support.usercmds_app")
    cluster = start_cluster(tmp_path, broker, backend, app_spec="tests.support.usercmds_app")
    try:
        before = cluster.ask("current_prefetch_count")["prefetch_count"]
        app = TopApp(cluster.app, refresh=0.5)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("ctrl+p", *"user_hello")
            await until(pilot, lambda: CommandPalette.is_open(app))
            await until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0)
            await pilot.pause(0.3)
            entries = [o.hit.text for o in app.screen.query_one(CommandList).options]
            assert entries[0] == "user_hello [greeting]"
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ArgumentsScreen))
            send_burst(app, "bonjour")
            send_burst(app, "", "tab")
            send_burst(app, cluster.node, "enter")
            await until(pilot, lambda: app.last_outcome is not None)
            assert app.last_outcome.replies == {cluster.node: {"ok": "bonjour"}}

            app.last_outcome = None
            send_burst(app, f":increase_prefetch_count 3 -d {cluster.node}", "enter")
            await until(pilot, lambda: app.last_outcome is not None)
            assert app.last_outcome.replies == {
                cluster.node: {"ok": "prefetch count incremented"}}
        after = cluster.ask("current_prefetch_count")["prefetch_count"]
        assert after == before + 3
    finally:
        cluster.close()
