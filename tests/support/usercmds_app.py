"""An app whose ``imports`` register a user-defined control command."""

from tuiq import App

app = App("usercmds", imports=["tests.support.usercmds"])
