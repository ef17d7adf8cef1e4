"""``tuiq shell``: an operator's REPL over the remote-control registry, with completion."""
