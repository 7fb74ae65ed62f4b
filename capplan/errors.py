"""What capplan raises for bad input: ValueErrors that say where and what to do.

Every refusal at a boundary (a file, a plan read back, a function's arguments, the
command line) is an :class:`InputError`, so ``except ValueError`` catches them all; a
missing file is also a FileNotFoundError and a wrong argument also a TypeError, as
Python code expects.
"""

from __future__ import annotations

__all__ = ["ArgumentError", "InputError", "MissingFileError"]


class InputError(ValueError):
    """Bad input, refused with where it is (file, column, rows, field or argument) and
    what to do about it."""


class ArgumentError(InputError, TypeError):
    """A bad argument, named by ``argument``: a ValueError, and for a wrong type also a
    TypeError. :func:`~capplan.load_plan` uses ``argument`` to name a file's field."""

    def __init__(self, argument: str, message: str):
        super().__init__(message)
        self.argument = argument


class MissingFileError(FileNotFoundError, InputError):
    """A file or folder that does not exist: a FileNotFoundError and a ValueError."""
