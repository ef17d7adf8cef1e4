"""Helpers shared by the integration and compatibility tests: brokers and worker processes."""
