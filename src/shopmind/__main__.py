"""`python -m shopmind` runs the CLI."""

from shopmind.cli import main

main()
