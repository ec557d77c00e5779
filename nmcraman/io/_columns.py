"""Numeric columns: the reader for any text file that no vendor module claims.

Two or more numeric columns (shift, intensity, ...) with optional comment or header
lines. Column names in the last header line say which column is x and which the
intensity, in any order (`._text.named_columns`); without them x is the first column.
The format it reports says what the file looked like: ``"labspec"`` for a
Horiba LabSpec export (``#Key=value`` header, or a one-spectrum table),
``"thermo-csv"`` for a Thermo DXR CSV (``;`` and decimal commas, no header) and
``"text"`` otherwise.
"""

from __future__ import annotations

from typing import Any

from .._validation import check_xy
from ..errors import InputError
from . import _labspec
from ._axis import to_shift, unit
from ._files import Parsed, Source
from ._text import (
    column_names,
    header_dict,
    laser_from,
    named_columns,
    numeric_table,
    pick_column,
    stage_from,
)

_KNOWN_UNITS = ("cm-1", "nm", "pixel")


def sniff(source: Source) -> bool:
    """Any text file: this reader is the last one tried."""
    return True


def read_spectrum(source: Source) -> Parsed:
    """Read the x column and one intensity column of a text file."""
    name = source.name
    header_lines, table, sep, dec = numeric_table(source.lines, name)
    header = header_dict(header_lines)
    labspec = _labspec.is_labspec(header_lines)
    laser = laser_from(header, source.laser_nm)
    meta: dict[str, Any] = {"format": "labspec" if labspec else "text", "laser_nm": laser}
    meta.update(stage_from(header))
    axis_unit: str | None = None
    if labspec:
        meta["instrument"], axis_unit = _labspec.describe(header)
    found = _labspec.one_spectrum(table)
    if found is not None:
        x, y, coords = found
        if coords.size == 2:
            meta["stage_x_um"], meta["stage_y_um"] = float(coords[0]), float(coords[1])
        meta["format"] = "labspec"
        guessed = False
    else:
        width = table.shape[1]
        names = column_names(header_lines, sep, width)
        named_x, named_y = named_columns(names)
        i = 0 if named_x is None else named_x
        default = None if named_y is None or names is None else names[named_y]
        j = pick_column(names, width, source.column, i, name, default)
        x, y = table[:, i], table[:, j]
        if names:
            meta["columns"] = [names[i], names[j]]
            # A free-text name ("X", "Intensity") is no unit: trust only known ones.
            named = unit(names[i])
            axis_unit = axis_unit or (named if named in _KNOWN_UNITS else None)
        if not header_lines and sep == ";" and dec == "," and width == 2:
            meta["format"] = "thermo-csv"
        guessed = named_x is None
    if header:
        meta["header"] = header
    shift = to_shift(x, axis_unit, laser, name, meta)
    if guessed:
        _check_guess(shift, y, name)
    return shift, y, meta


def _check_guess(x, y, name: str) -> None:
    """Refuse x taken from the first column, as no name says x, if it makes no spectrum.

    With repeated or missing x values the columns may be the other way round: the
    error says which column was taken as x and how to name the columns. Other errors
    are left to `Spectrum`.
    """
    try:
        check_xy(x, y)
    except InputError as exc:
        if not str(exc).startswith("x has"):
            return
        raise InputError(
            f"{name}: {str(exc).rstrip('.')}; x was taken from the first column, as no column"
            " name says which is the Raman shift (if it is another column, name the columns"
            " in a header line such as 'Raman shift (cm-1)<TAB>Intensity')."
        ) from None
