"""The library's own exceptions.

Every error nmcraman raises on bad input is one of these, with a one-line message
that says what is wrong and what to change. They subclass the built-in exception a
caller would expect (``ValueError`` for bad values, ``OSError`` for unreadable
files), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = ["BandError", "InputError", "NmcramanError", "ReadError"]


class NmcramanError(Exception):
    """Base class of every exception raised by nmcraman."""


class InputError(NmcramanError, ValueError):
    """Spectral data or an option that cannot be used as given."""


class BandError(InputError):
    """Band priors that are invalid, contradictory or outside the data."""


class ReadError(NmcramanError, OSError):
    """A file that cannot be read as a spectrum or a map."""
