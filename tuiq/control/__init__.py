"""Remote control: the command registry, the worker's node and the broadcast client."""
