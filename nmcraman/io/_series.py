"""`read_series`: one map file per step (time, voltage, temperature) as one `SpectralMap`.

Each file is read by `read_map`; the steps must share the Raman-shift axis and the map
shape, and are stacked along a new first navigation dimension. The step values come
from the caller (a sequence or a CSV file), else from the acquisition time the files
record, else from the file order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ReadError
from ..spectrum import SpectralMap, check_shift
from ._axis import check_laser
from ._files import as_path, decode, read_bytes, shown
from ._folders import _list_files
from ._formats import choose
from ._grid import make_map
from ._read import read_map

#: Navigation names a map file already uses; the series dimension must differ from them.
_MAP_DIMS = ("y", "x", "pixel")
#: Header keys (any case) that hold the acquisition date and time, most specific first.
_DATE_KEYS = ("acquired", "date")
#: Date formats of the vendor headers: LabSpec's day.month.year, then ISO 8601.
_DATE_FORMATS = (
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
)  # fmt: skip
#: Axes of two steps are one axis if no point moves by more than this fraction of a channel.
AXIS_TOL = 1e-3


def read_series(
    files_or_folder_or_glob: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    times: Sequence[float] | str | os.PathLike | None = None,
    dim: str = "time",
    laser_nm: float | None = None,
    column: str | int | None = None,
    shift: float = 0.0,
    format: str | None = None,
) -> SpectralMap:
    r"""Read a series of maps, one file per step, as one `SpectralMap`.

    Parameters
    ----------
    files_or_folder_or_glob : str, os.PathLike or sequence of them
        Map files, each read by `nmcraman.io.read_map`, in natural order (``map2``
        before ``map10``): a list, a folder or a glob.
    times : sequence of float, str or os.PathLike, optional
        The steps' values along ``dim``, or a CSV of them (one per line in file order,
        or ``file,time``). None: the times the files record (hours since the first),
        else 0, 1, ..., n - 1; ``meta["time_source"]`` says which.
    dim, laser_nm, column, shift, format : optional
        The series dimension's name (``"voltage"``); the rest as for `read_spectrum`.

    Returns
    -------
    SpectralMap
        ``spectra`` (steps, rows, cols, channels) for maps; ``meta["dims"]`` names the
        dimensions and ``meta["dim_coords"]`` holds their values (docs: "Reading files").

    Raises
    ------
    ReadError, InputError
        A file unread, or whose axis or shape differs from the first's (steps are never
        interpolated); times that are not one finite number per file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nmcraman.io import read_series
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> axis = "\t\t" + "\t".join(str(150.0 + i) for i in range(20))
    >>> for step in (1, 2, 10):
    ...     rows = [f"{x}\t{y}\t" + "\t".join([str(step)] * 20)
    ...             for y in (0.0, 2.0) for x in (0.0, 1.0, 2.0)]
    ...     _ = (folder / f"map{step}.txt").write_text("\n".join([axis, *rows]))
    >>> s = read_series(folder, times=[0.0, 0.25, 2.5])
    >>> s.spectra.shape, s.meta["dims"], s.meta["names"]
    ((3, 2, 3, 20), ('time', 'y', 'x'), ['map1.txt', 'map2.txt', 'map10.txt'])
    """
    laser_nm, shift = check_laser(laser_nm), check_shift(shift)
    choose(format)  # an unknown name is an error before any file is read
    dim = _check_dim(dim)
    times_path = as_path(times) if isinstance(times, (str, os.PathLike)) else None
    paths, source = _series_files(files_or_folder_or_glob, times_path)
    given = _given_values(times, times_path, paths)  # a bad times file fails before any map
    options = {"laser_nm": laser_nm, "column": column, "shift": shift, "format": format}
    first = read_map(paths[0], **options)
    spectra = np.empty((len(paths), *first.spectra.shape), dtype=np.float64)
    spectra[0] = first.spectra
    metas, coords = [first.meta], [first.coords]
    for i, path in enumerate(paths[1:], start=1):
        step = read_map(path, **options)
        _check_same(step, first, path, paths[0])
        spectra[i] = step.spectra
        metas.append(step.meta)
        coords.append(step.coords)
    values, meta = given or _values_from_files(metas)
    names = [p.name for p in paths]
    if len(set(names)) < len(names):  # files of several folders: names alone are ambiguous
        names = [str(p) for p in paths]
    lasers = {m.get("laser_nm") for m in metas}
    dims, dim_coords = _navigation(dim, values, first)
    if first.shape == (1,):  # single spectra: one navigation dimension, the series
        spectra = spectra[:, 0]
    meta.update(
        source=source, format="series", step_format=first.meta.get("format"),
        files=[str(p) for p in paths], names=names, dims=dims, dim_coords=dim_coords,
        laser_nm=lasers.pop() if len(lasers) == 1 else None, shift_cm1=shift or None,
    )  # fmt: skip
    stacked = None if any(c is None for c in coords) else np.concatenate(coords)
    return make_map(source, first.x, spectra, stacked, meta)


def _check_dim(dim: Any) -> str:
    if not isinstance(dim, str) or not dim.strip() or dim.strip() in _MAP_DIMS:
        raise InputError(
            f"dim must name the series dimension (such as 'time' or 'voltage'), not {dim!r};"
            " 'y', 'x' and 'pixel' name the map's own dimensions."
        )
    return dim.strip()


def _natural(path: Path) -> tuple[list[Any], str]:
    """Sort key that orders the numbers in names by value: ``map2`` before ``map10``."""
    # re.split with a group alternates text and digits, so the types line up between keys
    parts = re.split(r"(\d+)", str(path))
    return [int(p) if i % 2 else p.lower() for i, p in enumerate(parts)], str(path)


def _series_files(spec: Any, times_path: Path | None) -> tuple[list[Path], str]:
    """Return the map files of a series in natural order, and the name messages use."""
    if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
        paths = [as_path(p) for p in spec]
        if not paths:
            raise ReadError("no map files given; pass a list of files, a folder or a glob.")
        source = f"{shown(paths[0].name)} and {len(paths) - 1} more files"
    else:
        paths, source = _list_files(spec)
    if times_path is not None:  # a times.csv kept beside the maps is not a step
        paths = [p for p in paths if p.resolve() != times_path.resolve()]
        if not paths:
            raise ReadError(f"{source}: holds no map files besides the times file.")
    return sorted(paths, key=_natural), source


def _check_same(step: SpectralMap, first: SpectralMap, path: Path, first_path: Path) -> None:
    """Refuse a step whose map shape or Raman-shift axis is not the first step's."""
    name, first_name = shown(path.name), shown(first_path.name)
    if step.shape != first.shape:
        raise ReadError(
            f"{name}: a map of shape {step.shape} where {first_name} has {first.shape}; every"
            " step of a series must be the same map (export the same area and step)."
        )
    tol = AXIS_TOL * float(np.median(np.diff(first.x)))
    moved = np.inf if step.x.size != first.x.size else float(np.abs(step.x - first.x).max())
    if moved > tol:
        detail = (
            f"{step.x.size} channels where {first_name} has {first.x.size}"
            if step.x.size != first.x.size
            else f"moved by up to {moved:.3g} cm-1 from {first_name}'s"
        )
        raise ReadError(
            f"{name}: its Raman-shift axis differs ({detail}); every step of a series must"
            " share one axis: export the steps on the same axis."
        )


def _navigation(
    dim: str, values: np.ndarray, first: SpectralMap
) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """Navigation names and their coordinates, from the step values and the first map."""
    coords: dict[str, np.ndarray] = {dim: values}
    if len(first.shape) == 2:
        if first.coords is not None:
            grid = first.coords.reshape(*first.shape, 2)
            coords.update(y=grid[:, 0, 1].copy(), x=grid[0, :, 0].copy())
        return (dim, "y", "x"), coords
    if first.shape == (1,):
        return (dim,), coords
    if first.meta.get("position") is not None:
        coords["pixel"] = np.asarray(first.meta["position"], dtype=np.float64)
    return (dim, "pixel"), coords


def _given_values(
    times: Any, times_path: Path | None, paths: list[Path]
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Return the caller's step values and where they came from, or None if not given."""
    if times_path is not None:
        return _times_csv(times_path, paths), {"time_source": "csv", "times_file": str(times_path)}
    if times is not None:
        try:
            values = np.array(times, dtype=np.float64)
        except (TypeError, ValueError):
            values = None
        if values is None or values.shape != (len(paths),) or not np.isfinite(values).all():
            raise InputError(
                f"times must be {len(paths)} finite numbers, one per file in natural order,"
                " or the path of a CSV file of them."
            )
        return values, {"time_source": "times"}
    return None


def _values_from_files(metas: list[dict[str, Any]]) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the step values the files' acquisition times give, else their order."""
    acquired = [_acquired(meta) for meta in metas]
    if None not in acquired and len(set(acquired)) == len(acquired):
        start = min(acquired)
        hours = [(t - start).total_seconds() / 3600.0 for t in acquired]
        iso = [t.isoformat() for t in acquired]
        return np.array(hours), {"time_source": "metadata", "time_unit": "h", "acquired": iso}
    return np.arange(len(metas), dtype=np.float64), {"time_source": "order"}


def _acquired(meta: dict[str, Any]) -> datetime | None:
    """Return the acquisition time a file's header records, or None."""
    header = {str(k).strip().lower(): str(v).strip() for k, v in meta.get("header", {}).items()}
    for key in _DATE_KEYS:
        for fmt in _DATE_FORMATS if key in header else ():
            try:
                return datetime.strptime(header[key], fmt)
            except ValueError:
                continue
    return None


def _times_csv(path: Path, paths: list[Path]) -> np.ndarray:
    """Step values from a CSV file: one per line in file order, or ``file,time`` pairs."""
    name = shown(path.name)
    lines = [
        (n, line.strip())
        for n, line in enumerate(decode(read_bytes(path), path).splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    sep = next((s for s in ("\t", ";", ",") if any(s in line for _, line in lines)), None)
    rows = [(n, [f.strip() for f in line.split(sep)] if sep else [line]) for n, line in lines]
    if rows and _number(rows[0][1][-1], sep) is None:  # a header line
        rows = rows[1:]
    widths = {len(fields) for _, fields in rows}
    if not rows or not widths <= {1, 2} or len(widths) > 1:
        raise ReadError(
            f"{name}: expected one time per line, or two columns file,time; found"
            f" {sorted(widths) or 'no data lines'} columns."
        )
    values = []
    for n, fields in rows:
        value = _number(fields[-1], sep)
        if value is None:
            raise ReadError(f"{name}: line {n} has {fields[-1]!r} where a time belongs.")
        values.append(value)
    if widths == {1}:
        if len(values) != len(paths):
            raise ReadError(
                f"{name}: {len(values)} times for {len(paths)} files; give one time per file,"
                " in the files' natural order, or two columns file,time."
            )
        return np.array(values)
    by_name: dict[str, float] = {}
    for (_, fields), value in zip(rows, values, strict=True):
        if Path(fields[0]).name in by_name:
            raise ReadError(f"{name}: {fields[0]!r} has two times; keep one.")
        by_name[Path(fields[0]).name] = value
    out = []
    for p in paths:
        found = by_name.get(p.name, by_name.get(p.stem))
        if found is None:
            raise ReadError(f"{name}: no time for {shown(p.name)}; add a line '{p.name},<time>'.")
        out.append(found)
    return np.array(out)


def _number(text: str, sep: str | None) -> float | None:
    """Return ``text`` as a finite float (decimal comma unless ``,`` separates), or None."""
    try:
        value = float(text if sep == "," else text.replace(",", "."))
    except ValueError:
        return None
    return value if np.isfinite(value) else None
