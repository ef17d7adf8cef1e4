"""The collector settings the console runs with: applied once it is up, undone on exit,
and the very ones the frame benchmark measures with."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tests.tui.app_pilot import SIZE, pilot_test, until
from tuiq.tui.gc_tuning import THRESHOLDS, GcTuning


@pytest.fixture(autouse=True)
def _collector_as_found() -> Iterator[None]:
    """Each test starts with nothing frozen, and the collector is left as it was found.

    Earlier tests in the same process may have frozen objects (the prefork pool freezes
    before it forks): a console then leaves that freeze alone, which is not what these
    tests are about.
    """
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    if frozen:
        gc.unfreeze()
    yield
    gc.set_threshold(*thresholds)
    if gc.get_freeze_count() and not frozen:
        gc.unfreeze()
    elif frozen and not gc.get_freeze_count():
        gc.freeze()


@pilot_test
async def test_the_console_tunes_the_collector_while_it_runs_and_restores_it(console):
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.gc_tuning.active, timeout=5.0)
        assert gc.get_threshold() == THRESHOLDS
        # Start-up's objects (the app, its screen, Textual's) are out of the passes.
        assert gc.get_freeze_count() > 0
        assert before[0] < THRESHOLDS[0]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0

    # Another console in the same process (as in these tests) does the same again.
    app = console()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.gc_tuning.active, timeout=5.0)
        assert gc.get_threshold() == THRESHOLDS
    assert gc.get_threshold() == before


def test_applied_once_and_never_after_restore():
    before = gc.get_threshold()
    tuning = GcTuning(thresholds=(12_345, 11, 12))
    tuning.apply()
    tuning.apply()
    assert gc.get_threshold() == (12_345, 11, 12)
    tuning.restore()
    tuning.restore()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

    # A console closed before its first paint: the late call must change nothing.
    late = GcTuning()
    late.restore()
    late.apply()
    assert not late.active
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_someone_elses_freeze_is_left_to_them():
    gc.freeze()
    theirs = gc.get_freeze_count()
    tuning = GcTuning()
    tuning.apply()
    assert gc.get_freeze_count() == theirs
    tuning.restore()
    assert gc.get_freeze_count() == theirs
    gc.unfreeze()


def test_the_frame_benchmark_measures_with_the_console_settings(console):
    from bench.console_frame import gc_tuning

    assert gc_tuning(True).describe() == console().gc_tuning.describe()
    untuned = gc_tuning(False)
    assert untuned.thresholds == gc.get_threshold() and not untuned.freeze
