"""``python -m faultcast`` runs the command line."""

from faultcast.cli import main

main()
