"""kombu's AMQP (py-amqp) transport with acknowledgements grouped per loop pass.

Each ``basic_ack`` frame costs the worker and RabbitMQ a round of work. Acks
made during one event-loop pass are held and sent at :func:`flush` time:
the longest run of consecutive outstanding delivery tags that are all acked
goes out as one ``basic_ack(multiple=True)``, the rest one by one. A tag
that is still running, reserved or rejected is never covered by a multiple
ack, so the broker sees exactly the acks a plain worker would send.
"""

from __future__ import annotations

import collections

from kombu.transport import pyamqp


class Channel(pyamqp.Channel):
    """A channel that batches acks into ``multiple=True`` frames once ``batch_acks`` is on.

    Off by default, so a consumer that never calls :func:`tuiq.transport.flush`
    acks like kombu's; the worker turns it on for its task channel.
    """

    batch_acks = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._outstanding: collections.deque[int] = collections.deque()
        self._pending_acks: set[int] = set()

    def message_to_python(self, raw_message):
        """Record the delivery tag of every consumed message, in order."""
        message = super().message_to_python(raw_message)
        tag = message.delivery_tag
        consumer_tag = (message.delivery_info or {}).get("consumer_tag")
        # Recorded even before batching is on: a multiple ack must never cover
        # a delivery it does not know about.
        if isinstance(tag, int) and consumer_tag not in self.no_ack_consumers:
            self._outstanding.append(tag)
        return message

    def basic_ack(self, delivery_tag, multiple=False, argsig="Lb"):
        """Hold the ack until the next flush (a multiple ack flushes first)."""
        if not self.batch_acks or multiple or delivery_tag not in self._outstanding:
            self.flush_acks()
            if not multiple:
                self._forget(delivery_tag)
            return super().basic_ack(delivery_tag, multiple=multiple, argsig=argsig)
        self._pending_acks.add(delivery_tag)
        return None

    def basic_reject(self, delivery_tag, requeue, argsig="Lb"):
        """Reject now; the tag leaves the outstanding run."""
        self.flush_acks()
        self._forget(delivery_tag)
        return super().basic_reject(delivery_tag, requeue, argsig=argsig)

    def _forget(self, delivery_tag: int) -> None:
        try:
            self._outstanding.remove(delivery_tag)
        except ValueError:
            pass

    def flush_acks(self) -> None:
        """Send held acks: one multiple ack for the leading run, single ones after."""
        pending = self._pending_acks
        if not pending:
            return
        self._pending_acks = set()
        outstanding = self._outstanding
        last = None
        while outstanding and outstanding[0] in pending:
            last = outstanding.popleft()
            pending.discard(last)
        if last is not None:
            super().basic_ack(last, multiple=True)
        for tag in sorted(pending):
            try:
                outstanding.remove(tag)
            except ValueError:
                pass
            super().basic_ack(tag, multiple=False)


class Connection(pyamqp.Connection):
    """py-amqp connection whose channels batch acks."""

    Channel = Channel


class Transport(pyamqp.Transport):
    """kombu's pyamqp transport with :class:`Channel`."""

    Connection = Connection
