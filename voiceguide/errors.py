"""Errors: one root, a few kinds; the CLI turns them into one-line messages."""

from __future__ import annotations

from dataclasses import dataclass

from .text import printable


class VoiceguideError(Exception):
    """Root of every error voiceguide reports to a user (no traceback)."""


@dataclass(frozen=True)
class Problem:
    """One problem in a routine file, with the place it was found."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        # Always one line: a file name or value with a newline or an escape sequence in it
        # must not start a line of its own or change the terminal.
        where = f"{self.path}:{self.line}" if self.line else self.path
        if self.line and self.column:
            where += f":{self.column}"
        return printable(f"{where}: {self.message}")


class RoutineError(VoiceguideError):
    """One or more problems in routine files; each is printed on its own line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class LanguageError(VoiceguideError):
    """A language without a phrase pack, or a voice that does not speak the routine's language."""


class SpeechError(VoiceguideError):
    """The speech engine is missing, hung, or produced a bad clip."""


class ToolError(VoiceguideError):
    """An external program (ffmpeg) is missing or failed."""


class OutputError(VoiceguideError):
    """The output could not be written (read-only directory, full disk, ...)."""
