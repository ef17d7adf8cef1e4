"""``python -m tuiq`` runs the command line."""

from tuiq.cli.main import main

main()
