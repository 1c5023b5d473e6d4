"""`python -m ltigate` runs the command line."""

from ltigate.cli.main import run

run()
