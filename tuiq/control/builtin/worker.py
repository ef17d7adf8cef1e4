"""Worker commands: ping, stats, configuration, clock, start-up sync, memory, events, shutdown."""

from __future__ import annotations

from typing import Any

from tuiq.control.builtin.replies import NoReply, nok, ok, to_bool
from tuiq.control.registry import Argument, control_command, inspect_command


@inspect_command(help="Ping the worker.", default_timeout=0.2)
def ping(state, **kwargs: Any) -> dict[str, Any]:
    """Reply pong."""
    return ok("pong")


@inspect_command(help="Statistics: pool, broker, prefetch, task totals and rusage.")
def stats(state, **kwargs: Any) -> dict[str, Any]:
    """Celery's ``stats`` reply, every field."""
    return state.stats()


@inspect_command(
    args=(Argument("with_defaults", type=to_bool, default=False,
                   help="include settings left at their defaults"),),
    aliases=("dump_conf",), help="The worker's configuration (passwords masked).",
)
def conf(state, with_defaults: bool = False, **kwargs: Any) -> dict[str, Any]:
    """Settings as JSON-safe values; only the non-default ones unless asked."""
    return state.conf(with_defaults=to_bool(with_defaults))


@inspect_command(help="Versions and settings, for bug reports.")
def report(state, **kwargs: Any) -> dict[str, Any]:
    """A multi-line text about this installation."""
    return ok(state.report())


@inspect_command(help="The worker's logical (Lamport) clock.")
def clock(state, **kwargs: Any) -> dict[str, Any]:
    """``{"clock": value}``."""
    return {"clock": state.app.clock.value}


@inspect_command(
    args=(Argument("from_node", required=True, help="the node saying hello"),
          Argument("revoked", help="its revoked ids")),
    visible=False, help="Start-up sync: merge revoked ids and the clock (mingle).",
)
def hello(state, from_node: str, revoked: Any = None, **kwargs: Any) -> dict[str, Any] | None:
    """Merge the sender's revoked ids; reply with ours (None to ourselves)."""
    return state.hello(from_node, revoked)


@inspect_command(help="Sample the worker's resident memory.")
def memsample(state, **kwargs: Any) -> str:
    """The current RSS, e.g. ``"59.148MB"``; kept for ``memdump``."""
    return state.memsample()


@inspect_command(
    args=(Argument("samples", type=int, default=10, help="how many samples to show"),),
    help="The memory samples taken so far.",
)
def memdump(state, samples: int = 10, **kwargs: Any) -> str:
    """A text summary of the last ``samples`` memory samples."""
    return state.memdump(int(samples))


@inspect_command(
    args=(Argument("type", default="Request", help="object type to graph"),
          Argument("num", type=int, default=200, help="at most this many objects"),
          Argument("max_depth", type=int, default=10, help="levels of back-references")),
    default_timeout=60.0, help="Graph uncollected objects of a type (needs objgraph).",
)
def objgraph(state, num: int = 200, max_depth: int = 10, type: str = "Request",
             **kwargs: Any) -> dict[str, Any]:
    """Write a back-reference graph to a temporary file; reply with its name."""
    try:
        import objgraph as _objgraph
    except ImportError:
        return nok("objgraph is not installed on the worker (pip install objgraph)")
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="tuiq-objgraph-", suffix=".png",
                                     delete=False) as handle:
        objects = _objgraph.by_type(type)[:int(num)]
        _objgraph.show_backrefs(objects, max_depth=int(max_depth),
                                highlight=lambda value: value in objects, filename=handle.name)
    return {"filename": handle.name}


@control_command(help="Start sending task events.")
def enable_events(state, **kwargs: Any) -> dict[str, Any]:
    """Turn task events on."""
    return state.set_events(True)


@control_command(help="Stop sending task events.")
def disable_events(state, **kwargs: Any) -> dict[str, Any]:
    """Turn task events off."""
    return state.set_events(False)


@control_command(help="Send a worker-heartbeat event now.")
def heartbeat(state, **kwargs: Any) -> None:
    """Ask for an immediate heartbeat (no reply value, as in Celery)."""
    state.heartbeat()


@control_command(
    args=(Argument("id", required=True, help="election id"),
          Argument("topic", required=True, help="election topic"),
          Argument("action", help="action for the elected node")),
    help="Hold an election between workers (gossip).", visible=False,
)
def election(state, id: str, topic: str, action: str | None = None,
             **kwargs: Any) -> dict[str, Any]:
    """tuiq workers do not gossip, so no election is held; say so instead of crashing."""
    return nok("election: this worker does not take part in gossip elections")


@control_command(
    args=(Argument("msg", default="Got shutdown from remote", help="reason to log"),),
    help="Shut the worker down (warm).", destructive=True,
)
def shutdown(state, msg: str = "Got shutdown from remote", **kwargs: Any) -> None:
    """Start a warm shutdown; like Celery, no reply is sent."""
    state.request_shutdown(msg)
    raise NoReply()
