"""Console tests: SVG snapshots live in the top-level ``snapshots/`` directory, times read UTC.

pytest-textual-snapshot stores each SVG through its ``SVGImageExtension`` (a syrupy
single-file extension) next to the test, under ``__snapshots__``. Here the extension is
swapped for one whose directory is ``snapshots/<test module>/``, so the SVGs of every
console test sit in one reviewed place; ``--snapshot-update`` writes them there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import pytest_textual_snapshot
from syrupy.location import PyTestLocation
from textual.app import App

from tests.tui.canned import NOW, canned_cluster
from tuiq.events.cluster import ClusterState

#: The repository's top-level snapshot directory.
SNAPSHOTS = Path(__file__).resolve().parents[2] / "snapshots"
#: The terminal the snapshots are taken in: wide enough for every column of the views.
SNAPSHOT_SIZE = (160, 36)
BROKER = "redis://127.0.0.1:6379/0"


class TopLevelSVGExtension(pytest_textual_snapshot.SVGImageExtension):
    """Textual's SVG snapshots, stored in ``snapshots/<test module>/<test>.svg``."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        """One directory per test module under the top-level ``snapshots/``."""
        return str(SNAPSHOTS / Path(test_location.filepath).stem)


@pytest.fixture(autouse=True)
def _snapshots_at_top_level(monkeypatch: pytest.MonkeyPatch) -> None:
    # snap_compare looks the extension up by name in its module at each call.
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", TopLevelSVGExtension)


@pytest.fixture(autouse=True)
def _builtin_commands_only(request: pytest.FixtureRequest) -> Iterator[None]:
    """The registry as a fresh ``tuiq top`` has it: the built-in commands only.

    The registry is process-wide; other tests import modules that register their own
    commands, which would then show in the palette and change what a snapshot holds.
    Tests that load such modules themselves (marked ``user_commands``) keep them.
    """
    from tuiq.control import registry

    if request.node.get_closest_marker("user_commands"):
        yield
        return
    commands, aliases = dict(registry.COMMANDS), dict(registry.ALIASES)
    builtin = {name: command for name, command in commands.items()
               if command.handler.__module__.startswith("tuiq.control.builtin")}
    registry.COMMANDS.clear()
    registry.COMMANDS.update(builtin)
    registry.ALIASES.clear()
    registry.ALIASES.update({alias: name for alias, name in aliases.items() if name in builtin})
    yield
    registry.COMMANDS.clear()
    registry.COMMANDS.update(commands)
    registry.ALIASES.clear()
    registry.ALIASES.update(aliases)


@pytest.fixture(autouse=True)
def _utc() -> Iterator[None]:
    """Wall-clock times render the same on every machine."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture
def canned() -> tuple[ClusterState, float]:
    """A fresh canned cluster state and its time."""
    return canned_cluster()


@pytest.fixture
def console() -> Callable[..., App]:
    """Build the console over a canned state: no broker, no timers, a fixed clock."""
    from tuiq.tui.app import TopApp

    def build(state: ClusterState | None = None, **options: object) -> TopApp:
        state = state if state is not None else canned_cluster()[0]
        return TopApp(state=state, live=False, clock=lambda: NOW, broker_label=BROKER,
                      **options)

    return build
