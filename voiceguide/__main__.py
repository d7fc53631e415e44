"""The `voiceguide` program, and `python -m voiceguide`: an up-to-date build is answered from
its manifest (uptodate.py) before the command line itself, click and all, is imported."""

import os
import sys


def main() -> None:
    from .uptodate import HELP, answer, remember_help

    try:
        if answer(sys.argv[1:]):
            return
        if sys.argv[1:] in HELP:
            from .cli import cli

            with cli.make_context("voiceguide", [], resilient_parsing=True) as context:
                text = context.get_help()
            remember_help(text)
            print(text, flush=True)
            return
    except BrokenPipeError:  # `voiceguide --help | head`: the reader has gone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    # numpy's BLAS would start a thread per core and spin them between its small products,
    # taking the cores the encoders and the speech workers need.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from .cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
