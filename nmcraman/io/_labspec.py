"""Horiba LabSpec text exports: ``#Key=value`` headers, one-spectrum tables and maps.

A LabSpec export is either two columns after ``#Key=value`` lines, which the plain
column reader reads with `describe` for the header, or a table: the Raman axis as
first row (after one empty corner cell per coordinate column, or shorter by that
many values), then one row per spectrum starting with its coordinates. `read_map`
reads such a table as a map, line or series.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ReadError
from ..spectrum import SpectralMap
from ._axis import to_shift, unit
from ._files import Source, warn
from ._grid import grid, make_map
from ._text import SEPARATORS, floats, header_dict, laser_from, split_lines

_KEY = re.compile(r"^#[^=]+=")


def is_labspec(header_lines: list[str]) -> bool:
    """Tell whether a header has LabSpec's ``#Key=value`` lines."""
    return any(_KEY.match(line.strip()) for line in header_lines)


def describe(header: dict[str, str]) -> tuple[str | None, str | None]:
    """Return the instrument and the spectral axis unit a LabSpec header states."""
    spectral = [key for key, v in header.items() if key.startswith("AxisType") and v == "Spectr"]
    axis_unit = unit(header.get(spectral[0].replace("Type", "Unit"))) if spectral else None
    return header.get("Instrument"), axis_unit


def one_spectrum(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """x, y and the coordinates of a one-spectrum table, or None if ``table`` is not one.

    Row 0 is the axis after k empty corner cells, row 1 is k coordinates (X, Y or an
    index) then the spectrum. Longer tables (maps) are refused before parsing.
    """
    rows, width = table.shape
    k = int(np.argmax(~np.isnan(table[0])))
    if rows == 2 and width >= 3 and k > 0 and not np.isnan(table[1, :k]).any():
        return table[0, k:], table[1, k:], table[1, :k]
    return None


def read_map(source: Source) -> SpectralMap | None:
    """Read a LabSpec text map, line or series; None if the text is not a table of spectra."""
    name = source.name
    header, data = split_lines(source.lines, name)
    if not data:
        raise ReadError(f"{name}: no numeric data found; export the map as text.")
    layout = _layout(data)
    if layout is None:  # columns, not a table of spectra: one spectrum
        return None
    axis, coords, spectra = _table(name, data, *layout)
    header = header_dict(header)
    laser = laser_from(header, source.laser_nm)
    meta: dict[str, Any] = {"source": str(source.path), "format": "labspec-map", "laser_nm": laser}
    if header:
        instrument, axis_unit = describe(header)
        meta.update(header=header, instrument=instrument)
    else:
        axis_unit = None
    x = to_shift(axis, axis_unit, laser, name, meta)
    if coords.shape[1] == 1:
        meta["position"] = coords[:, 0]
        return make_map(name, x, spectra, None, meta)
    shape, order = grid(coords)
    if len(coords) == 1 or shape is None:  # one spectrum, or not a grid: a list of spectra
        if shape is None:
            meta["grid"] = False
            warn(
                f"{name}: the {len(coords)} stage positions do not fill a grid (an aborted or"
                " irregular map); kept as a list of spectra, positions in coords."
            )
        return make_map(name, x, spectra, coords, meta)
    return make_map(name, x, spectra[order].reshape(*shape, -1), coords[order], meta)


def _fields(line: str, sep: str | None) -> list[str]:
    # Trailing separators are padding, not empty values (leading ones are corner cells).
    return line.rstrip(sep).split(sep) if sep else line.split()


def _layout(data: list[tuple[int, str]]) -> tuple[str | None, str, int, int] | None:
    """Separator, decimal mark, coordinate columns and corner cells; None if no table."""
    if len(data) < 2:
        return None
    row0, row1 = data[0][1], data[1][1]
    for sep, dec in SEPARATORS:
        if sep is not None and sep not in row1:
            continue
        f0, f1 = _fields(row0, sep), _fields(row1, sep)
        if floats(f1, dec) is None or floats(f0, dec) is None:
            continue
        lead = next((i for i, f in enumerate(f0) if f.strip()), len(f0))
        # Empty corner cells, or an axis row shorter by one value per coordinate column.
        k = lead or len(f1) - len(f0)
        if lead == 0 and k not in (1, 2):
            return None
        return sep, dec, k, lead
    return None


def _table(
    name: str, data: list[tuple[int, str]], sep: str | None, dec: str, k: int, lead: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse a table into its axis row, coordinates (N, k) and spectra (N, channels)."""
    number, row0 = data[0]
    axis = floats(_fields(row0, sep)[lead:], dec)
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
        n, line = next(r for r in rows if floats(_fields(r[1], sep), dec) is None)
        raise ReadError(
            f"{name}: line {n} has a value that is not a number ({line.strip()[:40]!r})."
        ) from None
    coords = table[:, :k]
    missing = np.flatnonzero(~np.isfinite(coords).all(axis=1))
    if missing.size:
        raise ReadError(f"{name}: line {rows[missing[0]][0]} has no valid stage coordinate.")
    return axis, coords, table[:, k:]
