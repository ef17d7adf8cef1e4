"""An app module whose own import fails (for the CLI error tests)."""

import a_dependency_that_is_not_installed  # noqa: F401

from tuiq import App

app = App("broken")
