"""Read Raman maps and batches of spectra into a `SpectralMap`.

`read_map` reads one file that holds many spectra: a Horiba LabSpec text map (or line
or series) export, or a Renishaw WiRE ``.wdf`` map; a file holding one spectrum
becomes a map of one pixel. `read_many` reads a folder or glob of single-spectrum
files as a batch of shape (N,).
"""

from __future__ import annotations

import glob
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import io as _sio  # the single-spectrum readers: reuse their sniffing helpers
from ._validation import one_line
from .errors import InputError, ReadError
from .io import read_spectrum
from .spectrum import SpectralMap

__all__ = ["read_many", "read_map"]

#: Positions closer than this fraction of the map's span are one grid line.
_GRID_TOL = 1e-4
_WDF_TO_UM = {"Micron": 1.0, "Millimetres": 1e3, "Metres": 1e6, "Nanometre": 1e-3}


class _SkippedFiles(UserWarning):
    """`read_many` left out files it could not read (listed in ``meta["failed"]``)."""


def read_map(path: str | os.PathLike, *, laser_nm: float | None = None) -> SpectralMap:
    r"""Read a Raman map (or line, series or single spectrum) from one file.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Recognised from its content:

        - Horiba LabSpec text map: optional ``#Key=value`` header lines (kept in
          ``meta["header"]``), the Raman axis as first row (after one empty cell per
          coordinate column, or shorter by that many values), then one row per
          spectrum starting with its X and Y stage positions (µm); tab, ``;``, ``,``
          or space separated, ``.`` or ``,`` decimal marks. With one coordinate
          column (line scan or time series; the file does not say which) the shape
          is (N,) and the values go to ``meta["position"]``;
        - Renishaw WiRE ``.wdf`` map or series (needs ``renishawWiRE``);
        - any single-spectrum file `nmcraman.io.read_spectrum` reads: shape (1,).
    laser_nm : float, optional
        Excitation wavelength in nm, to convert an axis in nm to Raman shift; it takes
        precedence over the file's. Default is None.

    Returns
    -------
    SpectralMap
        ``coords`` holds stage X, Y (µm) per pixel where the file gives them.

    Raises
    ------
    ReadError
        If the file is missing, a folder (use `read_many`), empty, binary, has ragged
        rows, text where numbers belong or an axis row that does not match the rows,
        or a ``.wdf`` file cannot be read.
    InputError
        If ``laser_nm`` is invalid or the data are not a valid map.

    Warns
    -----
    UserWarning
        When stage positions do not fill a grid, or a ``.wdf`` map was interrupted.

    Notes
    -----
    Grid rule: rows are the distinct Y positions and columns the distinct X
    positions, both ascending; pixels go in row-major order whatever the scan order
    (serpentine included). Positions within 1e-4 of the span, or failing that
    within a quarter of the largest step (stage jitter), count as one. If the
    positions do not fill the grid once each (aborted or irregular map), the
    spectra stay in file order as shape (N,) with ``coords`` and a warning: such a
    map can still be fitted and plotted from x, y. An interrupted ``.wdf`` map keeps
    its (rows, cols) shape in acquisition order, unmeasured pixels NaN (fits flag
    them ``bad_input``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nmcraman.io_maps import read_map
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "map.txt"
    >>> axis = "\t\t" + "\t".join(str(150.0 + i) for i in range(20))
    >>> rows = [f"{x}\t{y}\t" + "\t".join(["1"] * 19 + [str(x + y)])
    ...         for y in (0.0, 2.0) for x in (0.0, 1.0, 2.0)]
    >>> _ = path.write_text("#Laser (nm)=532\n" + "\n".join([axis, *rows]))
    >>> m = read_map(path)
    >>> m.shape, m.meta["laser_nm"], m.coords[4].tolist()
    ((2, 3), 532.0, [1.0, 2.0])
    """
    path = _sio._as_path(path)
    laser_nm = _sio._check_laser(laser_nm)
    name = _sio._shown(path.name)
    if path.is_dir():
        raise ReadError(f"{_sio._shown(path)} is a folder; use read_many for a folder of spectra.")
    raw = _sio._read_bytes(path)  # up to 1 GiB: 1e8 numbers, a 300 x 300 x 1000 map
    if raw[:4] == b"WDF1" or path.suffix.lower() == ".wdf":
        return _read_wdf_map(path, raw, laser_nm)
    header, data = _data_lines(_sio._decode(raw, path).splitlines(), name)
    layout = _sniff(data)
    if layout is None:  # columns, not a table of spectra: one spectrum
        return _single(read_spectrum(path, laser_nm=laser_nm))
    return _labspec_map(path, name, header, data, *layout, laser_nm)


def _data_lines(lines: list[str], name: str) -> tuple[list[str], list[tuple[int, str]]]:
    """Split into header lines and (line number, text) data lines; refuse text in data."""
    header: list[str] = []
    data: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.lstrip().startswith(_sio._COMMENT) or not (data or _sio._is_numeric(line)):
            if not data:
                header.append(line)
            continue
        if not _sio._is_numeric(line):
            raise ReadError(
                f"{name}: line {number} is text where numbers were expected "
                f"({line.strip()[:40]!r}); fix or remove that line."
            )
        data.append((number, line))
    if not data:
        raise ReadError(f"{name}: no numeric data found; export the map as text.")
    return header, data


def _fields(line: str, sep: str | None) -> list[str]:
    # Trailing separators are padding, not empty values (leading ones are corner cells).
    return line.rstrip(sep).split(sep) if sep else line.split()


def _floats(fields: list[str], dec: str) -> np.ndarray | None:
    try:  # empty cells are NaN: LabSpec tables start with empty corner cells
        return np.array([float(f.replace(dec, ".")) if f.strip() else np.nan for f in fields])
    except ValueError:
        return None


def _sniff(data: list[tuple[int, str]]) -> tuple[str | None, str, int, int] | None:
    """Separator, decimal mark, coordinate columns and corner cells; None if no table."""
    if len(data) < 2:
        return None
    row0, row1 = data[0][1], data[1][1]
    for sep, dec in _sio._SEPARATORS:
        if sep is not None and sep not in row1:
            continue
        f0, f1 = _fields(row0, sep), _fields(row1, sep)
        if _floats(f1, dec) is None or _floats(f0, dec) is None:
            continue
        lead = next((i for i, f in enumerate(f0) if f.strip()), len(f0))
        # Empty corner cells, or an axis row shorter by one value per coordinate column.
        k = lead or len(f1) - len(f0)
        if lead == 0 and k not in (1, 2):
            return None
        return sep, dec, k, lead
    return None


def _labspec_map(path, name, header_lines, data, sep, dec, k, lead, laser_nm) -> SpectralMap:
    number, row0 = data[0]
    axis = _floats(_fields(row0, sep)[lead:], dec)
    width = len(_fields(data[1][1], sep))
    if k not in (1, 2) or axis.size != width - k:
        raise ReadError(
            f"{name}: the axis row (line {number}) has {axis.size} values but line"
            f" {data[1][0]} has {width} numbers; expected 1 or 2 coordinate columns, then one"
            " value per axis point."
        )
    if not np.isfinite(axis).all():
        raise ReadError(f"{name}: the axis row (line {number}) has empty or non-finite values.")
    rows = [(n, line.rstrip(sep) if sep else line) for n, line in data[1:]]
    for n, line in rows:
        found = line.count(sep) + 1 if sep else len(line.split())
        if found != width:
            raise ReadError(
                f"{name}: line {n} has {found} values where line {data[1][0]} has {width};"
                " the rows are ragged (a truncated export?), fix the file."
            )
    try:
        table = pd.read_csv(
            io.StringIO("\n".join(line for _, line in rows)), sep=sep or r"\s+", decimal=dec,
            header=None, dtype=np.float64,
        ).to_numpy()  # fmt: skip
    except (ValueError, pd.errors.ParserError):
        n, line = next(r for r in rows if _floats(_fields(r[1], sep), dec) is None)
        raise ReadError(
            f"{name}: line {n} has a value that is not a number ({line.strip()[:40]!r})."
        ) from None
    coords, spectra = table[:, :k], table[:, k:]
    missing = np.flatnonzero(~np.isfinite(coords).all(axis=1))
    if missing.size:
        raise ReadError(f"{name}: line {rows[missing[0]][0]} has no valid stage coordinate.")
    header = _sio._header_dict(header_lines)
    laser = laser_nm if laser_nm is not None else _sio._laser_from(header)
    meta: dict[str, Any] = {"source": str(path), "format": "labspec-map", "laser_nm": laser}
    if header:
        meta.update(header=header, instrument=header.get("Instrument"))
    spectral = [key for key, v in header.items() if key.startswith("AxisType") and v == "Spectr"]
    unit = _sio._unit(header.get(spectral[0].replace("Type", "Unit"))) if spectral else None
    x = _sio._to_shift(axis, unit, laser, name, meta)
    if k == 1:
        meta["position"] = coords[:, 0]
        return _make(name, x, spectra, None, meta)
    shape, order = _grid(coords)
    if len(table) == 1 or shape is None:  # one spectrum, or not a grid: a list of spectra
        if shape is None:
            meta["grid"] = False
            msg = f"{name}: the {len(coords)} stage positions do not fill a grid (an aborted or"
            msg += " irregular map); kept as a list of spectra, positions in coords."
            warnings.warn(msg, UserWarning, stacklevel=3)
        return _make(name, x, spectra, coords, meta)
    return _make(name, x, spectra[order].reshape(*shape, -1), coords[order], meta)


def _grid(coords: np.ndarray) -> tuple[tuple[int, int] | None, np.ndarray | None]:
    """Map shape (distinct Y, distinct X) and row-major pixel order, or (None, None)."""
    # Exact positions first, then a quarter of the largest step for jittered read-backs.
    # Either way a wrong merge or split leaves cells empty or doubled: never a false grid.
    orders = [np.argsort(values, kind="stable") for values in coords.T]
    steps = [np.diff(values[order]) for values, order in zip(coords.T, orders, strict=True)]
    coarse_tol = 0.25 * max(s.max(initial=0.0) for s in steps)
    for coarse in (False, True):
        levels = []
        for values, order, step in zip(coords.T, orders, steps, strict=True):
            tol = coarse_tol if coarse else _GRID_TOL * np.ptp(values)
            levels.append(np.empty(values.size, dtype=np.int64))
            levels[-1][order] = np.concatenate([[0], np.cumsum(step > tol + 1e-12)])
        (ix, iy), cols, rows = levels, levels[0].max() + 1, levels[1].max() + 1
        cell = iy * cols + ix
        if rows * cols == len(coords) and np.unique(cell).size == len(coords):
            return (rows, cols), np.argsort(cell, kind="stable")
    return None, None


def _make(name: str, x, spectra, coords, meta) -> SpectralMap:
    try:
        return SpectralMap(x, spectra, coords, {k: v for k, v in meta.items() if v is not None})
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from exc


def _single(s) -> SpectralMap:
    xy = (s.meta.get("stage_x_um"), s.meta.get("stage_y_um"))
    coords = None if None in xy else np.array([xy], dtype=np.float64)
    return SpectralMap(s.x, s.y[None, :], coords, s.meta)


def _read_wdf_map(path: Path, raw: bytes, laser_nm: float | None) -> SpectralMap:
    name = _sio._shown(path.name)
    _sio._check_wdf_blocks(raw, name)
    try:
        from renishawWiRE import WDFReader
    except ImportError:
        msg = f"{name}: reading .wdf files needs renishawWiRE; pip install nmcraman[io]."
        raise ReadError(msg) from None
    try:
        reader = WDFReader(str(path))
    except Exception as exc:  # the package raises struct.error, ValueError, EOFError...
        raise ReadError(f"{name}: renishawWiRE cannot read it ({one_line(exc)}).") from exc
    try:
        count = int(reader.count)
        kind = getattr(reader.measurement_type, "name", str(reader.measurement_type))
        single = count <= 1 and kind not in ("Mapping", "Series")
        with np.errstate(invalid="ignore", over="ignore"):  # damaged values become NaN/inf
            x = np.asarray(reader.xdata, dtype=np.float64)
            # renishawWiRE reshapes complete maps to (h, w, n), anything else to (count, n)
            flat = np.asarray(reader.spectra, dtype=np.float64).reshape(count, x.size)
        pos = [np.ravel(getattr(reader, f"{a}pos", np.zeros(count)))[:count] for a in "xy"]
        coords = np.column_stack(pos) if all(p.size == count for p in pos) else None
        pos_unit = getattr(getattr(reader, "xpos_unit", None), "name", "Micron")
        unit = getattr(reader.xlist_unit, "name", str(reader.xlist_unit))
        laser = laser_nm if laser_nm is not None else _sio._to_laser(reader.laser_length)
        width, height = (int(v) for v in getattr(reader, "map_shape", (0, 0)))
        meta: dict[str, Any] = {
            "source": str(path), "format": "wdf-map", "instrument": "Renishaw",
            "laser_nm": laser, "title": reader.title, "measurement": kind,
            "x_unit_original": _sio._WDF_UNITS.get(unit, unit),
        }  # fmt: skip
    except (AttributeError, TypeError, ValueError) as exc:
        msg = f"{name}: the .wdf file is incomplete or damaged ({one_line(exc)})."
        raise ReadError(msg) from exc
    finally:
        reader.close()
    if single:
        return _single(read_spectrum(path, laser_nm=laser_nm))
    if unit == "Wavenumber":  # absolute cm-1
        if laser is None:
            raise ReadError(f"{name}: the axis is absolute wavenumber; pass laser_nm= to convert.")
        x = 1e7 / laser - x
    elif unit != "RamanShift":
        x = _sio._to_shift(x, _sio._unit(meta["x_unit_original"]), laser, name, meta)
    if coords is not None:
        coords = coords * _WDF_TO_UM.get(pos_unit, 1.0)
        meta["stage_unit"] = "µm" if pos_unit in _WDF_TO_UM else pos_unit
    size = width * height
    if kind != "Mapping" or not size >= count > 0 or coords is None:
        return _make(name, x, flat, coords, meta)
    if count < size:  # interrupted: the rest of the grid was never measured
        meta["measured"] = count
        msg = f"{name}: the map was interrupted after {count} of {size} spectra; the rest are NaN."
        warnings.warn(msg, UserWarning, stacklevel=3)
        flat = np.vstack([flat, np.full((size - count, x.size), np.nan)])
        coords = np.vstack([coords, np.full((size - count, 2), np.nan)])
    else:
        shape, order = _grid(coords)
        if shape == (height, width):  # same rule as text maps: ascending Y, then X
            flat, coords = flat[order], coords[order]
    return _make(name, x, flat.reshape(height, width, x.size), coords, meta)


def read_many(
    pattern_or_folder: str | os.PathLike, *, laser_nm: float | None = None
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
        If the files' Raman-shift ranges do not overlap, or ``laser_nm`` is invalid.

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
    >>> from nmcraman.io_maps import read_many
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(3):
    ...     x = np.arange(150.0 + i, 901.0)
    ...     _ = (folder / f"s{i}.txt").write_text("\n".join(f"{v}\t{v % 7}" for v in x))
    >>> m = read_many(folder)
    >>> m.shape, m.meta["names"], m.meta["resampled"], float(m.x[0])
    ((3,), ['s0.txt', 's1.txt', 's2.txt'], True, 152.0)
    """
    laser_nm = _sio._check_laser(laser_nm)
    files, source = _list_files(pattern_or_folder)
    good, paths, failed = [], [], []
    for path in files:
        try:
            good.append(read_spectrum(path, laser_nm=laser_nm))
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
        warnings.warn(msg, _SkippedFiles, stacklevel=2)
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
    }  # fmt: skip
    return _make(source, x, ys, coords, meta)


def _list_files(spec: Any) -> tuple[list[Path], str]:
    path = _sio._as_path(spec)
    source = _sio._shown(path)
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
