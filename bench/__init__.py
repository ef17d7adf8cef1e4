"""Benchmarks: tuiq and Celery side by side; each script prints one JSON object."""
