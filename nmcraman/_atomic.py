"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted or failed write never leaves a half-written file at the target path.
"""

from __future__ import annotations

import os
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
        If ``path`` exists and ``force`` is False, or its folder cannot be written.
    """
    target = Path(path)
    if target.exists() and not force:
        raise InputError(f"{target} exists; pass force=True (--force) to overwrite it.")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot write {target}: folder {folder} does not exist.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write in {folder}: {exc.strerror}.") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return target
