"""An example tuiq project: ``tuiq -A proj worker`` from this folder."""

from proj.app import app

__all__ = ["app"]
