"""Monitoring events: the worker's dispatcher, the receiver, and the cluster model fed by them."""
