"""The collector settings the console runs with, applied once it has started.

A console holding ten thousand tasks keeps hundreds of thousands of container objects
alive for its whole life. Python's collector walks all of them on each full
(generation 2) pass, which then costs tens of milliseconds: a frame that a pass lands
in takes three or four times the usual, a stutter the eye notices. Two settings
make such passes rarer and cheaper:

* ``gc.freeze()`` once the first screen is up moves everything alive then (Textual,
  Rich, the imported modules, the first screen's widgets) out of the collector's
  sight; it is never garbage, and no later pass walks it again;
* higher thresholds make the young generation collect every few tens of thousands of
  allocations rather than every 700, so the older generations (and the full passes
  they lead to) come round far less often. A frame allocates tens of thousands of
  short-lived objects (strips, segments, cells); they mostly die young either way.

:class:`GcTuning` applies both and puts the previous settings back when the console
exits, so a process that runs several consoles one after another (the tests, the
frame benchmark) ends as it began. ``bench/console_frame.py`` uses the same object, so
its figures are those of the console's settings.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

#: Generation thresholds while the console runs: (young, middle, old) as
#: ``gc.set_threshold`` takes them. Young is the allocation count that starts a
#: collection (Python's default is 700); the other two count collections of the
#: generation below (defaults 10 and 10). Measured with 10,000 tasks at 5,000 events/s:
#: a young pass then takes some 25 ms every few seconds, and middle and full passes
#: hardly ever come; 100,000 doubles that pause, 20,000 brings middle passes of 60 ms.
THRESHOLDS: tuple[int, int, int] = (50_000, 20, 20)


@dataclass
class GcTuning:
    """Collector settings for the console's lifetime, and the ones they replaced."""

    thresholds: tuple[int, int, int] = THRESHOLDS
    freeze: bool = True
    _previous: tuple[int, int, int] | None = field(default=None, init=False, repr=False)
    _froze: bool = field(default=False, init=False, repr=False)
    _over: bool = field(default=False, init=False, repr=False)

    @classmethod
    def untuned(cls) -> GcTuning:
        """Settings that change nothing: the interpreter's current ones, nothing frozen."""
        return cls(thresholds=_current_thresholds(), freeze=False)

    @property
    def active(self) -> bool:
        """True between :meth:`apply` and :meth:`restore`."""
        return self._previous is not None

    def apply(self) -> None:
        """Freeze what is alive now and raise the thresholds.

        Once only, and never after :meth:`restore`: a console that exits before its
        first paint must not leave its settings behind when the late call comes.
        """
        if self.active or self._over:
            return
        self._previous = _current_thresholds()
        # gc.unfreeze() cannot tell whose objects it releases: when something else has
        # frozen objects already, the freeze is left to it, and so is undoing it.
        self._froze = self.freeze and gc.get_freeze_count() == 0
        if self._froze:
            gc.freeze()
        gc.set_threshold(*self.thresholds)

    def restore(self) -> None:
        """Put the thresholds back and release what :meth:`apply` froze."""
        self._over = True
        if self._previous is None:
            return
        gc.set_threshold(*self._previous)
        if self._froze:
            # Back into the oldest generation: the next full pass sees them again.
            gc.unfreeze()
        self._previous, self._froze = None, False

    def describe(self) -> dict[str, object]:
        """The settings, as the frame benchmark reports them."""
        return {"thresholds": list(self.thresholds), "freeze_after_startup": self.freeze}


def _current_thresholds() -> tuple[int, int, int]:
    young, middle, old = gc.get_threshold()
    return young, middle, old
