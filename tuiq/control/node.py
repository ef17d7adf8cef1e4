"""The worker side of remote control: the pidbox node that runs commands.

It listens on ``<nodename>.celery.pidbox`` (kombu's pidbox, declared exactly as
Celery 5.7 declares it) and answers from :mod:`tuiq.control.registry`.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu import pidbox

from tuiq.control import builtin  # noqa: F401  (registers the built-in commands)
from tuiq.control.builtin import NoReply
from tuiq.control.registry import lookup

logger = logging.getLogger("tuiq.worker")


def make_mailbox(app) -> pidbox.Mailbox:
    """The control mailbox with Celery 5.7's settings."""
    conf = app.conf
    return pidbox.Mailbox(
        conf.control_exchange, type="fanout", accept=["json"], clock=app.clock,
        queue_ttl=conf.control_queue_ttl, reply_queue_ttl=conf.control_queue_ttl,
        queue_expires=conf.control_queue_expires, reply_queue_expires=conf.control_queue_expires,
    )


class UnknownCommand(KeyError):
    """No command of that name is registered."""


class BadArguments(TypeError):
    """The arguments do not fit the command."""


class ControlNode(pidbox.Node):
    """A pidbox node that dispatches to the command registry."""

    def handle(self, method: str, arguments: dict[str, Any] | None = None) -> Any:
        """Run the command; unknown names and bad arguments become error replies."""
        command = lookup(method)
        if command is None:
            raise UnknownCommand(method)
        if not isinstance(arguments or {}, dict):
            raise BadArguments(f"arguments must be a mapping, not {type(arguments).__name__}")
        try:
            return command.handler(self.state, **(arguments or {}))
        except TypeError as exc:
            if exc.__traceback__ is not None and exc.__traceback__.tb_next is None:
                # Raised by the call itself: the arguments do not fit the handler.
                raise BadArguments(str(exc)) from exc
            raise

    def handle_message(self, body, message=None):
        """Move the Lamport clock past the sender's, then run the command."""
        clock = getattr(getattr(self.state, "app", None), "clock", None)
        if clock is not None:
            remote = (getattr(message, "headers", None) or {}).get("clock")
            try:
                clock.adjust(int(remote)) if remote else clock.forward()
            except (TypeError, ValueError):
                clock.forward()
        return super().handle_message(body, message)

    def dispatch(self, method, arguments=None, reply_to=None, ticket=None, **kwargs):
        """Run a command and reply unless the handler says not to."""
        arguments = arguments or {}
        try:
            reply = self.handle(method, arguments)
        except NoReply:
            return None
        except UnknownCommand:
            reply = {"error": f"unknown command: {method}"}
        except BadArguments as exc:
            reply = {"error": f"bad arguments for {method}: {exc}"}
        except Exception as exc:  # noqa: BLE001 - a command must never take the worker down
            logger.exception("Control command %s failed", method)
            reply = {"error": repr(exc)}
        if reply_to:
            if not isinstance(reply_to, dict) or not {"exchange", "routing_key"} <= set(reply_to):
                logger.error("Control command %s has an unusable reply_to: %r", method, reply_to)
                return reply
            self.reply({self.hostname: reply}, exchange=reply_to["exchange"],
                       routing_key=reply_to["routing_key"], ticket=ticket)
        return reply


def create_node(app, mailbox: pidbox.Mailbox, hostname: str, state: Any, channel) -> ControlNode:
    """Create the node for ``hostname`` bound to ``channel``."""
    return ControlNode(hostname, state=state, channel=channel, handlers={}, mailbox=mailbox)
