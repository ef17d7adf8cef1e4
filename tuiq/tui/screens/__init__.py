"""The console's pushed screens: help, confirmation, argument prompt, command line, replies."""
