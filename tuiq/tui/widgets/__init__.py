"""Widgets the console's views are built from: the live table and the cluster header."""
