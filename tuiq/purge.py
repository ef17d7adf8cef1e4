"""Deleting the messages waiting in task queues, for `tuiq purge`, the shell and the console."""

from __future__ import annotations


def purge_queues(connection, names: list[str]) -> dict[str, int | None]:
    """Purge each queue; the count deleted, or None for a queue that does not exist."""
    counts: dict[str, int | None] = {}
    channel = connection.channel()
    try:
        for name in names:
            try:
                counts[name] = channel.queue_purge(name) or 0
            except connection.channel_errors:
                # AMQP closes the channel on a missing queue (404): open another.
                counts[name] = None
                channel = connection.channel()
    finally:
        channel.close()
    return counts


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def purge_lines(counts: dict[str, int | None]) -> list[str]:
    """One line per queue (``name: N messages deleted`` or ``name: no such queue``)."""
    return [f"{name}: no such queue" if count is None
            else f"{name}: {_plural(count, 'message')} deleted"
            for name, count in counts.items()]


def purge_total(counts: dict[str, int | None]) -> str:
    """The closing line: how many messages left how many queues."""
    total = sum(count for count in counts.values() if count is not None)
    return f"Purged {_plural(total, 'message')} from {_plural(len(counts), 'queue')}."
