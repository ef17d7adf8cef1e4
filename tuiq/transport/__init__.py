"""kombu transports tuned for tuiq (same wire format, fewer round trips)."""

from __future__ import annotations


def transport_for(url: str):
    """tuiq's transport class for ``url``, or None to let kombu choose."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss", "redis+socket"):
        from tuiq.transport.redis import Transport

        return Transport
    if scheme in ("amqp", "pyamqp", "amqps"):
        from tuiq.transport.amqp import Transport

        return Transport
    return None


def enable_batching(channel) -> None:
    """Let ``channel`` batch acks and bookkeeping; its owner must call :func:`flush`."""
    if hasattr(channel, "flush_acks"):
        channel.batch_acks = True
        return
    qos = getattr(channel, "qos", None)
    if hasattr(qos, "batching"):
        qos.batching = True


def flush(channel) -> None:
    """Send what ``channel`` batched during the last loop pass (acks, bookkeeping)."""
    flush_acks = getattr(channel, "flush_acks", None)
    if flush_acks is not None:
        flush_acks()
        return
    qos = getattr(channel, "_qos", None)
    flush_qos = getattr(qos, "flush", None)
    if flush_qos is not None:
        flush_qos()
