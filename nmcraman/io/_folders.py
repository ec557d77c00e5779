"""`read_many`: a folder or glob of single-spectrum files as one batch of shape (N,)."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ReadError
from ..spectrum import SpectralMap, check_shift
from ._axis import check_laser
from ._files import as_path, shown, warn
from ._formats import choose
from ._grid import make_map
from ._read import read_spectrum


class SkippedFiles(UserWarning):
    """`read_many` left out files it could not read (listed in ``meta["failed"]``)."""


def read_many(
    pattern_or_folder: str | os.PathLike,
    *,
    laser_nm: float | None = None,
    column: str | int | None = None,
    shift: float = 0.0,
    format: str | None = None,
) -> SpectralMap:
    r"""Read a folder or glob pattern of single-spectrum files as one batch.

    Parameters
    ----------
    pattern_or_folder : str or os.PathLike
        A folder (its regular files sorted by name, without hidden files, README
        files and ``.md`` notes) or a glob pattern (``"maps/*.txt"``; ``**``
        recurses). Each file is read with `nmcraman.io.read_spectrum`.
    laser_nm : float, optional
        Excitation wavelength in nm, for files with an axis in nm. Default is None.
    column : str or int, optional
        Intensity column of files with several (see `nmcraman.io.read_spectrum`).
        Default is None.
    shift : float, optional
        Calibration shift in cm-1 added to every file's axis (see
        `nmcraman.calibration`). Default is 0.
    format : str, optional
        Read every file as this entry of ``nmcraman.io.FORMATS`` instead of
        recognising each from its content. Default is None.

    Returns
    -------
    SpectralMap
        Shape (N,), one spectrum per readable file in sorted order. ``meta`` holds
        ``names`` (file names; paths when names repeat), ``failed`` (list of
        ``(name, reason)`` for files that could not be read) and ``resampled``.
        ``coords`` holds the stage X, Y of each file if every file states them.

    Raises
    ------
    ReadError
        If nothing matches, the folder holds no files, or no file could be read.
    InputError
        If the files' Raman-shift ranges do not overlap, or ``laser_nm``, ``shift`` or
        ``format`` is invalid.

    Warns
    -----
    UserWarning
        When some files could not be read (they are skipped).

    Notes
    -----
    One unreadable file (a stray log, a map export) does not stop a batch of
    hundreds: it is left out and listed in ``meta["failed"]``; only a batch in which
    no file can be read raises. If the axes differ, every spectrum is linearly
    interpolated onto the first file's axis restricted to the range all files cover,
    and ``meta["resampled"]`` is True.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from nmcraman.io import read_many
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(3):
    ...     x = np.arange(150.0 + i, 901.0)
    ...     _ = (folder / f"s{i}.txt").write_text("\n".join(f"{v}\t{v % 7}" for v in x))
    >>> m = read_many(folder)
    >>> m.shape, m.meta["names"], m.meta["resampled"], float(m.x[0])
    ((3,), ['s0.txt', 's1.txt', 's2.txt'], True, 152.0)
    """
    laser_nm, shift = check_laser(laser_nm), check_shift(shift)
    choose(format)  # an unknown name is an error before any file is read
    files, source = _list_files(pattern_or_folder)
    good, paths, failed = [], [], []
    for path in files:
        try:
            options = {"laser_nm": laser_nm, "column": column, "shift": shift, "format": format}
            good.append(read_spectrum(path, **options))
            paths.append(path)
        except (ReadError, InputError) as exc:
            failed.append((path.name, str(exc).removeprefix(f"{path.name}: ")))
    if not good:
        raise ReadError(
            f"{source}: none of the {len(files)} files could be read ({failed[0][0]}:"
            f" {failed[0][1].rstrip('.')})."
        )
    if failed:
        msg = f"{source}: {len(failed)} of {len(files)} files could not be read and were"
        msg += f" skipped (first: {failed[0][0]}); see meta['failed']."
        warn(msg, SkippedFiles)
    names = [p.name for p in paths]
    if len(set(names)) < len(names):  # a recursive glob: names alone are ambiguous
        names = [str(p) for p in paths]
    x, ys, resampled = _common_axis(good, source)
    xy = [(s.meta.get("stage_x_um"), s.meta.get("stage_y_um")) for s in good]
    coords = None if any(None in p for p in xy) else np.array(xy, dtype=np.float64)
    lasers = {s.meta.get("laser_nm") for s in good}
    meta = {
        "source": source, "format": "batch", "names": names, "failed": failed,
        "resampled": resampled, "files": [str(p) for p in paths],
        "laser_nm": lasers.pop() if len(lasers) == 1 else None,
        "shift_cm1": shift or None,
    }  # fmt: skip
    return make_map(source, x, ys, coords, meta)


def _list_files(spec: Any) -> tuple[list[Path], str]:
    path = as_path(spec)
    source = shown(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not _skipped(p))
        if not files:
            raise ReadError(f"{source}: the folder holds no spectrum files.")
        return files, source
    if path.is_file():
        return [path], source
    if not any(c in str(path) for c in "*?["):
        raise ReadError(f"{source}: no such file or folder; check the path.")
    files = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if os.path.isfile(p))
    if not files:
        raise ReadError(f"no file matches {str(path)!r}; check the pattern.")
    return files, source


def _skipped(path: Path) -> bool:
    """Hidden files and notes kept beside the data in a folder are not spectra."""
    name = path.name
    return name.startswith(".") or name.upper().startswith("README") or name.endswith(".md")


def _common_axis(spectra: list, source: str) -> tuple[np.ndarray, np.ndarray, bool]:
    x0 = spectra[0].x
    if all(s.x.shape == x0.shape and np.allclose(s.x, x0, rtol=0, atol=1e-9) for s in spectra):
        return x0, np.stack([s.y for s in spectra]), False
    lo, hi = max(s.x[0] for s in spectra), min(s.x[-1] for s in spectra)
    x = x0[(x0 >= lo) & (x0 <= hi)]
    if x.size < 2:
        raise InputError(
            f"{source}: the files' Raman-shift ranges do not overlap (common range {lo:.1f} to"
            f" {hi:.1f} cm-1); read them in separate batches."
        )
    return x, np.stack([np.interp(x, s.x, s.y) for s in spectra]), True
