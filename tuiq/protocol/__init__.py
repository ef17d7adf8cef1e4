"""Celery 5 wire protocol: task messages, exception dicts and serialization."""
