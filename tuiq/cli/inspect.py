"""``tuiq inspect``: read-only commands sent to workers (stats, active, registered...)."""

from __future__ import annotations

from tuiq.cli.remote import remote_group

inspect = remote_group(
    "inspect",
    "Ask workers about themselves (no side effects); each node's reply is shown.",
)
