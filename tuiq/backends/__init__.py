"""Result backends: where task states and return values are stored."""

from __future__ import annotations

from tuiq.backends.base import DisabledBackend, ResultBackend


def backend_from_url(url: str | None, app) -> ResultBackend:
    """Create the backend for ``url`` (``redis://``, ``rediss://``, ``redis+socket://``)."""
    if not url or url in ("disabled", "none"):
        return DisabledBackend(app)
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis", "rediss", "redis+socket", "socket", "unix", "valkey", "valkeys"):
        from tuiq.backends.redis import RedisBackend

        return RedisBackend(app, url)
    from tuiq.exceptions import ConfigurationError

    raise ConfigurationError(f"unsupported result backend: {scheme}:// (use redis:// or rediss://)")


__all__ = ["ResultBackend", "DisabledBackend", "backend_from_url"]
