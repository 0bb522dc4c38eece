"""Named, expected failures.

Each carries the offending value (file, line, value) and what the user should do;
the CLI prints ``str(error)`` as one line and exits with code 1. Anything else
that escapes is a bug and is allowed to show a traceback.
"""

from __future__ import annotations


class SafeguardingError(Exception):
    """Base class of the errors the CLI reports as one line."""

    def __init__(self, message: str, *, path: str | None = None,
                 line: int | None = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.fix = fix

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path + (f":{self.line}" if self.line is not None else "") + ": "
        text = where + self.message
        if self.fix:
            text += f" ({self.fix})"
        return text.replace("\n", " ")


class InputError(SafeguardingError):
    """A document that cannot be read as an inspection letter."""


class LabelsError(SafeguardingError):
    """A bad themes, labels or patterns file."""


class ModelError(SafeguardingError):
    """A model artifact that is missing, altered or from other library versions."""


class ParamsError(SafeguardingError):
    """A parameter out of range or of the wrong type."""


class OutputError(SafeguardingError):
    """An output that cannot be written (permissions, full disk, locked)."""


class PartlyReplacedError(OutputError):
    """Outputs that must agree were left part new, part old: reported even when Ctrl-C
    was pressed meanwhile, which would otherwise say that nothing was changed."""
