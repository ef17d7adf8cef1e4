"""The console's views: nodes, the task stream, node detail and task detail."""
