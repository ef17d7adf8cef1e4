"""The worker engine: consumer, pool, node identity and rate limiting."""
