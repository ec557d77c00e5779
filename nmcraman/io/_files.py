"""From a path to bytes and text lines: the checks every reader shares.

A `Source` is one file opened for reading: its path, its bytes, the caller's options
and, on first use, its text lines. Binary formats read the bytes and never decode;
text formats decode once, however many of them look at the lines. `warn` points a
reader's warnings at the caller's line, however deep in the package the reader is.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ReadError

_MAX_BYTES = 2**30  # a single spectrum is kilobytes; refuse to load gigabytes into memory
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")

#: What a spectrum reader returns: x (cm-1, any order), y, and metadata (None values dropped).
Parsed = tuple[np.ndarray, np.ndarray, dict[str, Any]]


@dataclass(frozen=True)
class Source:
    """One file to read, with the options of the call that reads it.

    Attributes
    ----------
    path : Path
        The file.
    raw : bytes
        Its content.
    laser_nm : float or None
        The caller's excitation wavelength in nm (checked), which overrides the file's.
    column : str, int or None
        The caller's intensity column, for text files with several.
    """

    path: Path
    raw: bytes
    laser_nm: float | None = None
    column: str | int | None = None

    @property
    def name(self) -> str:
        """The file name as messages print it."""
        return shown(self.path.name)

    @cached_property
    def lines(self) -> list[str]:
        """The decoded text lines; `ReadError` if the file is binary."""
        return decode(self.raw, self.path).splitlines()


def as_path(path: Any) -> Path:
    """``path`` as a `Path`; `InputError` if it is not a file name."""
    try:
        return Path(os.fsdecode(os.fspath(path)))
    except TypeError:
        raise InputError(
            f"path must be a file name (str or pathlib.Path), got {type(path).__name__}."
        ) from None


def shown(text: Any) -> str:
    """``text`` as printed in a message: quoted if it holds newlines or other controls."""
    text = str(text)
    return text if text.isprintable() else repr(text)


def read_bytes(path: Path) -> bytes:
    """Return the content of a regular, non-empty file of at most 1 GiB, or `ReadError`."""
    name = shown(path)
    if "\x00" in str(path):
        raise ReadError(f"{name}: not a valid file name (NUL character); check the path.")
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ReadError(
            f"{name}: no such file; check the path and the working directory."
        ) from None
    except OSError as exc:
        raise ReadError(f"{name}: cannot be opened ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise ReadError(f"{name} is a directory; pass the path of one spectrum file.")
    if not stat.S_ISREG(info.st_mode):
        # reading a pipe or a device could block forever or never end
        raise ReadError(
            f"{name} is not a regular file (a device, pipe or socket); pass a spectrum file."
        )
    if info.st_size > _MAX_BYTES:
        raise ReadError(
            f"{shown(path.name)}: {info.st_size / 2**20:.0f} MiB is too large for one spectrum;"
            " use read_map for maps."
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReadError(f"{name}: cannot be opened ({exc.strerror or exc}).") from None
    if not raw.strip():
        raise ReadError(f"{shown(path.name)}: the file is empty; export the spectrum again.")
    return raw


def decode(raw: bytes, path: Path) -> str:
    """Return the text of ``raw``; `ReadError` if it is binary."""
    name = shown(path.name)
    hint = "export the spectrum as text (two columns)"
    if b"\x00" in raw:
        raise ReadError(f"{name}: binary file (NUL bytes), not a text spectrum; {hint}.")
    # Vendor software writes UTF-8 or Windows code pages; latin-1 never fails, so a
    # control-character count is what tells binary from text after it.
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if len(_CONTROL.findall(text)) > max(4, len(text) // 100):
        raise ReadError(f"{name}: binary or undecodable bytes, not a text spectrum; {hint}.")
    return text


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn at the first caller outside nmcraman, however deep the reader that warns."""
    frame, level = sys._getframe(1), 2  # stacklevel 2 is the caller of this function
    while frame is not None and frame.f_globals.get("__name__", "").startswith("nmcraman."):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
