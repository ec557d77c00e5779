"""Text tables: header and data lines, separator and decimal mark, header keys, columns.

The one implementation the text readers share, for spectra and maps alike:
`split_lines` tells header lines from data lines, `numeric_table` sniffs the
separator and decimal mark and parses the data, `header_dict` reads ``key=value``
lines (and `laser_from` / `stage_from` the keys that matter), `column_names` reads the
column names, `named_columns` finds the x and intensity columns they name, and
`pick_column` chooses the intensity column.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import InputError, ReadError
from ._axis import laser_line, to_float, unit

#: Line starts that mark a comment, in the header or between data lines.
COMMENT = ("#", "%", "//", "!")
#: (separator, decimal mark) pairs, tried in this order: a separator that can also be a
#: decimal mark is tried only after the ones that cannot, so "1,5;2,5" is one row of
#: two decimal-comma numbers. None is any run of whitespace.
SEPARATORS = (
    ("\t", "."),
    ("\t", ","),
    (";", "."),
    (";", ","),
    (",", "."),
    (None, "."),
    (None, ","),
)
_NUMERIC_START = re.compile(r"^[\s;,]*[-+]?(?:\d|\.\d|nan\b|inf)", re.IGNORECASE)
_NUMBER_WORDS = re.compile(r"(?<=[\d.])[eE](?=[-+]?\d)|\b(?:nan|inf(?:inity)?)\b", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]")
_LASER_KEY = re.compile(
    r"^(?:laser|excitation)[\s_]*(?:wave\s*length|wl)?\s*(?:[(\[]\s*nm\s*[)\]])?$", re.IGNORECASE
)
_STAGE_KEY = re.compile(
    r"^(?:position\s*)?([xyz])\s*(?:\(\s*(µm|um|mm|nm|m)\s*\))?$", re.IGNORECASE
)
_TO_UM = {"µm": 1.0, "um": 1.0, "nm": 1e-3, "mm": 1e3, "m": 1e6}
#: A column name that says intensity: "Intensity (counts)", "Counts", "cts", "Signal".
_INTENSITY_NAME = re.compile(r"intensit|\bcounts?\b|\bcts\b|\bsignal\b", re.IGNORECASE)
#: Units (as `unit` normalises them) of a column name that says x: the Raman shift
#: ("Raman Shift (cm-1)", "Wavenumber", "Shift") or the wavelength ("Wavelength (nm)").
_X_UNITS = ("cm-1", "nm")


def is_numeric(line: str) -> bool:
    """Tell whether ``line`` is a row of numbers (no words but exponents, nan, inf)."""
    return bool(_NUMERIC_START.match(line)) and not _LETTER.search(_NUMBER_WORDS.sub("", line))


def split_lines(
    lines: list[str], name: str, first: int = 1
) -> tuple[list[str], list[tuple[int, str]]]:
    """Split text into header lines and numbered data lines.

    Parameters
    ----------
    lines : list of str
        The text, one line each.
    name : str
        File name for messages.
    first : int, optional
        Line number of ``lines[0]`` in the file. Default is 1.

    Returns
    -------
    header : list of str
        Comment and text lines before the first numeric line.
    data : list of (int, str)
        Line number and text of each numeric line; comment and blank lines between
        them are skipped. Empty if the file has no numeric line.

    Raises
    ------
    ReadError
        If a text line (not a comment) stands among the data lines.
    """
    header: list[str] = []
    data: list[tuple[int, str]] = []
    for number, raw in enumerate(lines, start=first):
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.lstrip().startswith(COMMENT) or not (data or is_numeric(line)):
            if not data:
                header.append(line)
            continue
        if not is_numeric(line):
            raise ReadError(
                f"{name}: line {number} is text where numbers were expected "
                f"({line.strip()[:40]!r}); fix or remove that line."
            )
        data.append((number, line))
    return header, data


def floats(fields: list[str], dec: str) -> np.ndarray | None:
    """``fields`` as numbers with decimal mark ``dec``, empty ones NaN; None if one is not."""
    try:  # empty cells are NaN: LabSpec tables start with empty corner cells
        return np.array([float(f.replace(dec, ".")) if f.strip() else np.nan for f in fields])
    except ValueError:
        return None


def _parse_rows(lines: list[str], sep: str | None, dec: str) -> np.ndarray | None:
    """Parse ``lines`` with one separator and decimal mark, or None if they do not fit."""
    rows: list[np.ndarray] = []
    for line in lines:
        values = floats(line.split(sep) if sep else line.split(), dec)
        if values is None or (rows and values.size != rows[0].size):
            return None
        rows.append(values)
    table = np.array(rows, dtype=np.float64)
    filled = np.flatnonzero(~np.isnan(table).all(axis=0))  # drop indent or trailing separators
    return table[:, filled[0] : filled[-1] + 1] if filled.size else table[:, :1]


def numeric_table(
    lines: list[str], name: str, first: int = 1
) -> tuple[list[str], np.ndarray, str | None, str]:
    """Header lines, the table of numbers, its separator and decimal mark.

    Raises
    ------
    ReadError
        If there are no data lines, the data are a table of several spectra (a map),
        one column only, or rows that no separator splits alike.
    """
    header, numbered = split_lines(lines, name, first)
    data = [line for _, line in numbered]
    if not data:
        what = "only header or text lines" if header else "no data lines"
        raise ReadError(
            f"{name}: no numeric data found ({what}); export the spectrum as two numeric columns."
        )
    if len(data) > 2 and data[0][0] in "\t;," and data[1][0] != data[0][0]:
        # Axis row after an empty corner cell: a LabSpec table. Refuse a map before
        # parsing what may be millions of numbers.
        raise ReadError(
            f"{name}: a table of {len(data) - 1} spectra (a map or series); use read_map instead."
        )
    one_column = None
    for sep, dec in SEPARATORS:
        if sep is not None and sep not in data[0]:
            continue
        table = _parse_rows(data, sep, dec)
        if table is None:
            continue
        if table.shape[1] >= 2:
            return header, table, sep, dec
        one_column = table
    if one_column is not None:
        raise ReadError(f"{name}: only one column of numbers; the file needs x and y columns.")
    counts = [len(re.split(r"[\t;,]|\s+", ln.strip())) for ln in data]
    bad = next((i for i, c in enumerate(counts) if c != counts[0]), 0)
    raise ReadError(
        f"{name}: rows do not split into the same number of numeric columns "
        f"(see data line {bad + 1}: {data[bad].strip()[:40]!r}); fix the file."
    )


def header_dict(lines: list[str], seps: str = "=:") -> dict[str, str]:
    """``key: value`` of the header lines cut at the first of ``seps``."""
    header = {}
    for line in lines:
        body = line.strip().lstrip("#%/! ")
        cut = min((i for i in (body.find(s) for s in seps) if i > 0), default=-1)
        if cut > 0:
            header[body[:cut].strip()] = body[cut + 1 :].strip()
    return header


def laser_from(header: dict[str, str], laser_nm: float | None = None) -> float | None:
    """``laser_nm`` if given, else the laser wavelength (nm) the header states, or None."""
    if laser_nm is not None:
        return laser_nm
    for key, value in header.items():
        if _LASER_KEY.match(key.strip()):
            laser = laser_line(to_float(value))
            if laser is not None:
                return laser
    return None


def stage_from(header: dict[str, str]) -> dict[str, float]:
    """``stage_x_um`` / ``stage_y_um`` / ``stage_z_um`` from a header's X, Y, Z keys."""
    coords = {}
    for key, value in header.items():
        match = _STAGE_KEY.match(key.strip())
        number = to_float(value)
        if not match or number is None:
            continue
        unit = (match.group(2) or header.get("PositionUnit") or "µm").strip()
        if unit in _TO_UM:
            coords[f"stage_{match.group(1).lower()}_um"] = number * _TO_UM[unit]
    return coords


def column_names(header: list[str], sep: str | None, width: int) -> list[str] | None:
    """Column names from the last header line, if it has one per column."""
    if not header:
        return None
    line = header[-1].strip().lstrip("#%/! ")
    parts = line.split(sep) if sep else re.split(r"\t|\s{2,}", line)
    parts = [p.strip() for p in parts]
    while len(parts) > width and not parts[-1]:
        parts.pop()
    if len(parts) != width or not all(parts) or all(is_numeric(p) for p in parts):
        return None
    return parts


def named_columns(names: list[str] | None) -> tuple[int | None, int | None]:
    """Return the indices of the x and intensity columns that ``names`` name, else None.

    A name says x if it names the Raman shift (``Raman Shift (cm-1)``, ``wavenumber``,
    ``shift``, ``cm-1``) or the wavelength (``nm``), and intensity if it says
    ``intensity``, ``counts``, ``cts`` or ``signal``; a name that says both is
    intensity (``Intensity @ 532 nm``). A role is found only if exactly one column
    takes it; with two columns, the one not named intensity is x.
    """
    if not names:
        return None, None
    said_y = [bool(_INTENSITY_NAME.search(n)) for n in names]
    xs = [i for i, n in enumerate(names) if not said_y[i] and unit(n) in _X_UNITS]
    ys = [i for i, said in enumerate(said_y) if said]
    x_index = xs[0] if len(xs) == 1 else None
    y_index = next(iter(set(ys) - {x_index}), None) if len(ys) == 1 else None
    if x_index is None and y_index is not None and len(names) == 2:
        x_index = 1 - y_index
    return x_index, y_index


def pick_column(
    names: list[str] | None,
    width: int,
    column: str | int | None,
    x_index: int,
    name: str,
    default: str | None = None,
) -> int:
    """Return the index of the intensity column.

    Parameters
    ----------
    names : list of str or None
        Column names, if the file has them.
    width : int
        Number of columns.
    column : str, int or None
        The caller's choice, by name (case-insensitive) or 0-based index.
    x_index : int
        Index of the x column, which cannot be the intensity.
    name : str
        File name for messages.
    default : str, optional
        The format's intensity column, taken when ``column`` is None.

    Raises
    ------
    ReadError
        If ``column`` is None and more than one column could be the intensity.
    InputError
        If ``column`` names no column, is out of range or is the x column.
    """
    if column is None:
        if default is not None and names and default in names:
            return names.index(default)
        if width == 2:
            return 1 - x_index
        listing = f" ({', '.join(repr(n) for n in names)})" if names else ""
        raise ReadError(
            f"{name}: {width} numeric columns{listing} and nothing says which is the intensity;"
            " pass column= (a name or a 0-based index)."
        )
    if isinstance(column, bool) or not isinstance(column, (str, int, np.integer)):
        raise InputError(f"column must be a name, an index or None; got {column!r}.")
    if isinstance(column, str):
        wanted = column.strip().lower()
        found = [i for i, n in enumerate(names or []) if n.strip().lower() == wanted]
        if not names:
            raise InputError(
                f"{name}: the file has no column names; pass column= as an index"
                f" (0 to {width - 1})."
            )
        if not found:
            raise InputError(f"{name}: no column named {column!r}; the columns are {names}.")
        index = found[0]
    else:
        index = int(column) + (width if column < 0 else 0)
    if not 0 <= index < width or index == x_index:
        raise InputError(
            f"{name}: column={column!r} is out of range or is the x axis; choose an intensity"
            f" column among 0 to {width - 1} other than {x_index}."
        )
    return index
