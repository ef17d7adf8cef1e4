"""Pool commands: grow, shrink, restart and autoscale."""

from __future__ import annotations

from typing import Any

from tuiq.control.builtin.replies import nok, positive_int, to_bool
from tuiq.control.registry import Argument, control_command


@control_command(
    args=(Argument("n", type=positive_int, default=1, help="processes or threads to add"),),
    help="Grow the pool by n.",
)
def pool_grow(state, n: int = 1, **kwargs: Any) -> dict[str, Any]:
    """Add ``n`` pool processes (not with autoscale)."""
    return _resize(state, n, 1)


@control_command(
    args=(Argument("n", type=positive_int, default=1,
                   help="processes or threads to remove"),),
    help="Shrink the pool by n.",
)
def pool_shrink(state, n: int = 1, **kwargs: Any) -> dict[str, Any]:
    """Remove ``n`` idle pool processes (not with autoscale)."""
    return _resize(state, n, -1)


def _resize(state, n: Any, direction: int) -> dict[str, Any]:
    # A zero or negative count from any client (Celery's CLI sends what it is given)
    # would turn a grow into a shrink, or shrink past what the pool can drop.
    try:
        count = positive_int(n)
    except (TypeError, ValueError):
        return nok(f"n must be a positive whole number, not {n!r}")
    return state.resize_pool(direction * count)


@control_command(
    args=(Argument("modules", variadic=True, help="modules to import or reload"),
          Argument("reload", type=to_bool, default=False, help="reload modules already imported"),
          Argument("reloader", help="ignored (Celery compatibility)")),
    help="Replace every pool process (needs worker_pool_restarts).", destructive=True,
)
def pool_restart(state, modules: Any = None, reload: bool = False, reloader: Any = None,
                 **kwargs: Any) -> dict[str, Any]:
    """Import or reload ``modules``, then replace each pool process after its task."""
    return state.restart_pool(modules, to_bool(reload))


@control_command(
    args=(Argument("max", type=int, help="most processes"),
          Argument("min", type=int, help="fewest processes")),
    help="Change the autoscale range.",
)
def autoscale(state, max: Any = None, min: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Set the autoscaler's max and min."""
    return state.autoscale(None if max is None else int(max), None if min is None else int(min))
