"""Wire compatibility with stock Celery 5.7, both directions, on Redis and RabbitMQ."""
