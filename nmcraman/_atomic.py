"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted or failed write never leaves a half-written file at the target path.
The file gets the mode a plain ``open(path, "w")`` would give it: that of the file it
replaces, else ``0o666`` less the umask (the temporary file itself is ``0o600``).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import InputError


def atomic_write(
    path: str | os.PathLike, write: Callable[[Path], None], force: bool = True
) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path``.

    Raises
    ------
    InputError
        If ``path`` is not a valid file name, is a folder, exists and ``force`` is
        False, or its folder is missing, is a file or cannot be written.
    """
    try:
        target = Path(os.fspath(path))
    except TypeError:
        raise InputError(f"output path must be a str or path, got {path!r}.") from None
    if not target.name or "\x00" in str(target):
        raise InputError(f"cannot write {str(target)!r}: not a file name; give a file path.")
    try:
        exists, is_dir = target.exists(), target.is_dir()
    except OSError as exc:  # e.g. ENAMETOOLONG
        raise InputError(f"cannot write {target}: {exc.strerror or exc}.") from None
    if is_dir:
        raise InputError(f"cannot write {target}: it is a folder; give a file name inside it.")
    if exists and not force:
        raise InputError(f"{target} exists; pass force=True to overwrite it.")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise InputError(f"cannot write {target}: folder {folder} does not exist.")
    if not folder.is_dir():
        raise InputError(f"cannot write {target}: {folder} is a file, not a folder.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:64]}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write in {folder}: {exc.strerror or exc}.") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        mode = _output_mode(target)
        write(tmp_path)
        # After the write, not before: a read-only mode would stop it, and a writer may
        # replace the file it was given.
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror or exc}.") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return target


def _output_mode(target: Path) -> int:
    """Return the mode ``open(target, "w")`` would leave: the old one if it exists."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # The umask can only be read by setting it. Set the strictest one meanwhile: a file
    # that another thread creates in between gets fewer permissions, never more.
    mask = os.umask(0o077)
    os.umask(mask)
    return mask
