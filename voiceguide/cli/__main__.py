"""`python -m voiceguide.cli`: the command line, as the `voiceguide` script runs it."""

from . import main

main()
