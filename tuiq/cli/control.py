"""``tuiq control``: commands with side effects sent to workers (revoke, rate_limit...)."""

from __future__ import annotations

from tuiq.cli.remote import remote_group

control = remote_group(
    "control",
    "Change workers at runtime (revoke, rate limits, consumers, pool); replies per node.",
)
