"""`python -m voiceguide.cli`: the command line, as the `voiceguide` script runs it."""

from ..__main__ import main

main()
