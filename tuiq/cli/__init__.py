"""The ``tuiq`` command line."""
