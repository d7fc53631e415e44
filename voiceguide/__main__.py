"""The `voiceguide` program, and `python -m voiceguide`: an up-to-date build is answered from
its manifest (uptodate.py) before the command line itself, click and all, is imported."""

import sys


def main() -> None:
    from .uptodate import answer

    if not answer(sys.argv[1:]):
        from .cli import main as command_line

        command_line()


if __name__ == "__main__":
    main()
