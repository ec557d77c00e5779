"""Read single Raman spectra from instrument files.

`read_spectrum` turns one file into a `Spectrum` with an ascending Raman-shift axis
in cm-1. It sniffs the format from the content, not the name: plain two-column text
(any separator, decimal commas, comment or header lines, Latin-1 bytes, CRLF), Horiba
LabSpec text exports, WITec Project ASCII exports, B&W Tek vendor CSV, Thermo DXR CSV
and, with the optional ``renishawWiRE`` package, Renishaw ``.wdf`` files.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._validation import one_line
from .errors import InputError, ReadError
from .spectrum import Spectrum

__all__ = ["read_spectrum"]

_MAX_BYTES = 2**30  # a single spectrum is kilobytes; refuse to load gigabytes into memory
_SATURATED = 65535.0  # full scale of the 16-bit CCDs these exports come from
_BWTEK_X = "Raman Shift"
_BWTEK_Y = "Dark Subtracted #1"
_COMMENT = ("#", "%", "//", "!")
# Tried in this order: a separator that can also be a decimal mark is tried only
# after the ones that cannot, so "1,5;2,5" is one row of two decimal-comma numbers.
_SEPARATORS = (
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
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_LABSPEC_KEY = re.compile(r"^#[^=]+=")
_LASER_KEY = re.compile(
    r"^(?:laser|excitation)[\s_]*(?:wave\s*length|wl)?\s*(?:[(\[]\s*nm\s*[)\]])?$", re.IGNORECASE
)
_STAGE_KEY = re.compile(
    r"^(?:position\s*)?([xyz])\s*(?:\(\s*(µm|um|mm|nm|m)\s*\))?$", re.IGNORECASE
)
_TO_UM = {"µm": 1.0, "um": 1.0, "nm": 1e-3, "mm": 1e3, "m": 1e6}
_WDF_HEADER = 0x200  # size of the WDF1 header block
_WDF_COUNTS = 0x3C  # points per spectrum (int32), capacity and count (int64), ...
_WDF_UNITS = {"RamanShift": "cm-1", "Nanometre": "nm", "Wavenumber": "cm-1 (absolute)"}
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d*)?(?:[eE][-+]?\d+)?")

_Parsed = tuple[np.ndarray, np.ndarray, dict[str, Any]]


def read_spectrum(
    path: str | os.PathLike, *, laser_nm: float | None = None, column: str | int | None = None
) -> Spectrum:
    r"""Read one Raman spectrum from a file.

    Parameters
    ----------
    path : str or os.PathLike
        File to read. The format is recognised from the content:

        - ``"text"``: two numeric columns (shift, intensity) separated by tabs,
          commas, semicolons or spaces, with ``.`` or ``,`` as decimal mark, optional
          comment (``#``, ``%``, ``//``) or header lines, in any order of x;
        - ``"labspec"``: Horiba LabSpec text export (``#Key=value`` lines, then two
          columns, or a one-spectrum table whose first row is the axis);
        - ``"witec"``: WITec ASCII export (``[Header]``, ``[Data]``, names and units
          lines); an axis in nm is converted to Raman shift;
        - ``"bwtek"``: B&W Tek vendor CSV (``key;value`` header, ``Pixel;...`` table);
        - ``"thermo-csv"``: Thermo DXR CSV (``;`` and decimal commas, no header);
        - ``"wdf"``: Renishaw WiRE single spectrum (needs ``renishawWiRE``).
    laser_nm : float, optional
        Excitation wavelength in nm. Used to convert an axis in absolute wavelength
        (nm) to Raman shift, ``shift = 1e7 / laser_nm - 1e7 / wavelength`` in cm-1;
        when given it takes precedence over the laser stated in the file.
    column : str or int, optional
        Intensity column, by header name or by 0-based index, for files with more
        than one candidate (B&W Tek defaults to ``"Dark Subtracted #1"``). Ignored
        for ``.wdf`` files.

    Returns
    -------
    Spectrum
        ``x`` in cm-1 (ascending), ``y`` as stored in the file. ``meta`` holds
        ``source`` and ``format``, and where the file tells them ``laser_nm``,
        ``instrument``, ``x_unit_original``, ``stage_x_um``/``stage_y_um``/
        ``stage_z_um``, ``header`` (raw header keys and values) and, for WITec,
        ``saturated`` (number of points at 65535 counts, kept in ``y``).

    Raises
    ------
    ReadError
        If the file is missing, a directory, empty, binary, truncated, has no
        two numeric columns, holds a map (use ``read_map``), has an axis in nm
        and no laser wavelength, or has several intensity columns and no
        ``column=``.
    InputError
        If ``laser_nm`` or ``column`` are invalid, or the data are not a valid
        spectrum (NaN, repeated shifts, constant intensity); the message starts
        with the file name.

    Notes
    -----
    An axis of unknown unit is taken as Raman shift unless it looks like a CCD
    wavelength axis: monotonic, all values within 190-1100 and a median step below
    0.3. Such a file needs ``laser_nm=``, or a header naming the x column
    (e.g. ``Raman shift (cm-1)``) if it really is Raman shift.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from nmcraman.io import read_spectrum
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "thermo.csv"
    >>> rows = [f"{1000 - 2 * i:.1f};{50 + i % 7},5" for i in range(100)]
    >>> _ = path.write_text("\n".join(rows).replace(".", ","))
    >>> s = read_spectrum(path)
    >>> s.meta["format"], len(s), float(s.x[0]), float(s.y[-1])
    ('thermo-csv', 100, 802.0, 50.5)
    """
    path = _as_path(path)
    laser_nm = _check_laser(laser_nm)
    raw = _read_bytes(path)
    if raw[:4] == b"WDF1" or path.suffix.lower() == ".wdf":
        x, y, meta = _read_wdf(path, raw, laser_nm)
    else:
        lines = _decode(raw, path).splitlines()
        x, y, meta = _pick_reader(lines)(lines, _shown(path.name), laser_nm, column)
    meta = {"source": str(path), **{k: v for k, v in meta.items() if v is not None}}
    try:
        return Spectrum(x, y, meta)
    except InputError as exc:
        raise InputError(f"{_shown(path.name)}: {exc}") from exc


def _as_path(path: Any) -> Path:
    try:
        return Path(os.fsdecode(os.fspath(path)))
    except TypeError:
        raise InputError(
            f"path must be a file name (str or pathlib.Path), got {type(path).__name__}."
        ) from None


def _shown(text: Any) -> str:
    """``text`` as printed in a message: quoted if it holds newlines or other controls."""
    text = str(text)
    return text if text.isprintable() else repr(text)


def _check_laser(laser_nm: float | None) -> float | None:
    if laser_nm is None:
        return None
    try:
        value = float(laser_nm)
    except (TypeError, ValueError):
        value = float("nan")
    if not 100.0 <= value <= 3000.0:
        raise InputError(
            f"laser_nm must be the excitation wavelength in nm (e.g. 532 or 785); got {laser_nm!r}."
        )
    return value


def _read_bytes(path: Path) -> bytes:
    shown = _shown(path)
    if "\x00" in str(path):
        raise ReadError(f"{shown}: not a valid file name (NUL character); check the path.")
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ReadError(
            f"{shown}: no such file; check the path and the working directory."
        ) from None
    except OSError as exc:
        raise ReadError(f"{shown}: cannot be opened ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise ReadError(f"{shown} is a directory; pass the path of one spectrum file.")
    if not stat.S_ISREG(info.st_mode):
        # reading a pipe or a device could block forever or never end
        raise ReadError(
            f"{shown} is not a regular file (a device, pipe or socket); pass a spectrum file."
        )
    if info.st_size > _MAX_BYTES:
        raise ReadError(
            f"{_shown(path.name)}: {info.st_size / 2**20:.0f} MiB is too large for one spectrum;"
            " use read_map for maps."
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReadError(f"{shown}: cannot be opened ({exc.strerror or exc}).") from None
    if not raw.strip():
        raise ReadError(f"{_shown(path.name)}: the file is empty; export the spectrum again.")
    return raw


def _decode(raw: bytes, path: Path) -> str:
    name = _shown(path.name)
    hint = (
        "Galactic SPC is not supported, export the spectrum as text"
        if path.suffix.lower() == ".spc"
        else "export the spectrum as text (two columns)"
    )
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


def _pick_reader(lines: list[str]) -> Callable[..., _Parsed]:
    stripped = [ln.strip() for ln in lines[:400]]
    if "[Data]" in stripped or any(ln.startswith("[Header]") for ln in stripped[:5]):
        return _read_witec
    if any(ln.startswith("Pixel;") and _BWTEK_X in ln for ln in lines):
        return _read_bwtek
    return _read_text


def _is_numeric(line: str) -> bool:
    return bool(_NUMERIC_START.match(line)) and not _LETTER.search(_NUMBER_WORDS.sub("", line))


def _split_rows(lines: list[str], sep: str | None, dec: str) -> np.ndarray | None:
    """Parse ``lines`` with one separator and decimal mark, or None if they do not fit."""
    rows = []
    width = None
    for line in lines:
        fields = line.split(sep) if sep else line.split()
        if width is None:
            width = len(fields)
        elif len(fields) != width:
            return None
        try:
            # Empty fields become NaN: LabSpec tables start with an empty corner cell.
            rows.append(
                [
                    float(f.replace(",", ".") if dec == "," else f) if f.strip() else np.nan
                    for f in fields
                ]
            )
        except ValueError:
            return None
    table = np.array(rows, dtype=np.float64)
    filled = np.flatnonzero(~np.isnan(table).all(axis=0))  # drop indent or trailing separators
    return table[:, filled[0] : filled[-1] + 1] if filled.size else table[:, :1]


def _numeric_block(lines: list[str], name: str) -> tuple[list[str], np.ndarray, str | None, str]:
    """Split ``lines`` into header lines and a numeric table; sniff separator and decimal."""
    header: list[str] = []
    data: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.lstrip().startswith(_COMMENT) or not (data or _is_numeric(line)):
            if not data:
                header.append(line)
            continue
        if not _is_numeric(line):
            raise ReadError(
                f"{name}: line {number} is text where numbers were expected "
                f"({line.strip()[:40]!r}); fix or remove that line."
            )
        data.append(line)
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
    for sep, dec in _SEPARATORS:
        if sep is not None and sep not in data[0]:
            continue
        table = _split_rows(data, sep, dec)
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


def _header_dict(lines: list[str], seps: str = "=:") -> dict[str, str]:
    header = {}
    for line in lines:
        body = line.strip().lstrip("#%/! ")
        cut = min((i for i in (body.find(s) for s in seps) if i > 0), default=-1)
        if cut > 0:
            header[body[:cut].strip()] = body[cut + 1 :].strip()
    return header


def _to_float(text: str | None) -> float | None:
    match = _NUMBER.search(text or "")
    return float(match.group().replace(",", ".")) if match else None


def _laser_from(header: dict[str, str]) -> float | None:
    for key, value in header.items():
        if _LASER_KEY.match(key.strip()):
            laser = _to_float(value)
            if laser is not None and 100.0 <= laser <= 3000.0:
                return laser
    return None


def _stage_from(header: dict[str, str]) -> dict[str, float]:
    coords = {}
    for key, value in header.items():
        match = _STAGE_KEY.match(key.strip())
        number = _to_float(value)
        if not match or number is None:
            continue
        unit = (match.group(2) or header.get("PositionUnit") or "µm").strip()
        if unit in _TO_UM:
            coords[f"stage_{match.group(1).lower()}_um"] = number * _TO_UM[unit]
    return coords


def _unit(text: str | None) -> str | None:
    """Normalise an axis label or unit to "cm-1", "nm", another string, or None."""
    if not text or not text.strip():
        return None
    low = text.lower().replace(" ", "")
    if re.search(r"1/cm|cm-1|cm\^-1|cm⁻¹|cm-¹|cm\^\{-1\}|ramanshift|wavenumber|shift", low):
        return "cm-1"
    if re.search(r"(?<![a-z])nm(?![a-z])|wavelength|nanomet", low):
        return "nm"
    if "pixel" in low:
        return "pixel"
    return text.strip()


def _median_step(x: np.ndarray) -> float:
    return float(np.median(np.abs(np.diff(x))))


def _looks_like_nm(x: np.ndarray) -> bool:
    # A CCD wavelength axis (1024-2048 pixels over ~100-200 nm) steps by < 0.3 nm;
    # Raman-shift axes in cm-1 step by ~0.5-3 cm-1.
    step = np.diff(x)
    monotonic = bool(np.all(step > 0) or np.all(step < 0))
    in_range = bool(np.nanmin(x) >= 190.0 and np.nanmax(x) <= 1100.0)
    return monotonic and in_range and _median_step(x) < 0.3


def _to_shift(
    x: np.ndarray, unit: str | None, laser: float | None, name: str, meta: dict[str, Any]
) -> np.ndarray:
    """Return ``x`` as Raman shift in cm-1, converting from nm when the unit says so."""
    if unit is None and x.size > 2 and np.isfinite(x).all() and _looks_like_nm(x):
        if laser is None:
            raise ReadError(
                f"{name}: x ({x.min():.1f} to {x.max():.1f}, step {_median_step(x):.3g})"
                " looks like absolute wavelength in nm; pass laser_nm= to convert it, or name"
                " the x column 'Raman shift (cm-1)' in a header line if it is Raman shift."
            )
        warnings.warn(
            f"{name}: x looks like wavelength in nm; converted to Raman shift with "
            f"laser_nm={laser:g}.",
            UserWarning,
            stacklevel=4,
        )
        meta["x_unit_inferred"] = True
        unit = "nm"
    if unit is None:
        return x
    meta["x_unit_original"] = unit
    if unit == "cm-1":
        return x
    if unit != "nm":
        raise ReadError(
            f"{name}: x axis unit {unit!r} is not supported; export in Raman shift (cm-1) or nm."
        )
    if laser is None:
        raise ReadError(
            f"{name}: the x axis is absolute wavelength in nm and the file gives no laser"
            " wavelength; pass laser_nm= to convert it to Raman shift."
        )
    if np.any(x <= 0):
        raise ReadError(f"{name}: wavelengths must be positive; the x column is not in nm.")
    return 1e7 / laser - 1e7 / x


def _pick_column(
    names: list[str] | None,
    width: int,
    column: str | int | None,
    x_index: int,
    name: str,
    default: str | None = None,
) -> int:
    """Return the index of the intensity column."""
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


def _names(header: list[str], sep: str | None, width: int) -> list[str] | None:
    """Column names from the last header line, if it has one per column."""
    if not header:
        return None
    line = header[-1].strip().lstrip("#%/! ")
    parts = line.split(sep) if sep else re.split(r"\t|\s{2,}", line)
    parts = [p.strip() for p in parts]
    while len(parts) > width and not parts[-1]:
        parts.pop()
    if len(parts) != width or not all(parts) or all(_is_numeric(p) for p in parts):
        return None
    return parts


def _read_text(lines: list[str], name: str, laser_nm: float | None, column: Any) -> _Parsed:
    header_lines, table, sep, dec = _numeric_block(lines, name)
    header = _header_dict(header_lines)
    labspec = any(_LABSPEC_KEY.match(ln.strip()) for ln in header_lines)
    laser = laser_nm if laser_nm is not None else _laser_from(header)
    meta: dict[str, Any] = {"format": "labspec" if labspec else "text", "laser_nm": laser}
    meta.update(_stage_from(header))
    rows, width = table.shape
    unit: str | None = None
    if labspec:
        meta["instrument"] = header.get("Instrument")
        axis = [k for k, v in header.items() if k.startswith("AxisType") and v == "Spectr"]
        unit = _unit(header.get(axis[0].replace("Type", "Unit"))) if axis else None
    k = int(np.argmax(~np.isnan(table[0])))
    if rows == 2 and width >= 3 and k > 0 and not np.isnan(table[1, :k]).any():
        # LabSpec one-spectrum table: row 0 is the axis after k empty corner cells,
        # row 1 is k coordinates (X, Y or an index) then the spectrum. Longer tables
        # (maps) were refused by _numeric_block.
        x, y = table[0, k:], table[1, k:]
        if k == 2:
            meta["stage_x_um"], meta["stage_y_um"] = float(table[1, 0]), float(table[1, 1])
        meta["format"] = "labspec"
    else:
        names = _names(header_lines, sep, width)
        j = _pick_column(names, width, column, 0, name)
        x, y = table[:, 0], table[:, j]
        if names:
            meta["columns"] = [names[0], names[j]]
            # A free-text name ("X", "Intensity") is no unit: trust only known ones.
            named = _unit(names[0])
            unit = unit or (named if named in ("cm-1", "nm", "pixel") else None)
        if not header_lines and sep == ";" and dec == "," and width == 2:
            meta["format"] = "thermo-csv"
    if header:
        meta["header"] = header
    return _to_shift(x, unit, laser, name, meta), y, meta


def _read_witec(lines: list[str], name: str, laser_nm: float | None, column: Any) -> _Parsed:
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "[Data]"), None)
    if start is None:
        raise ReadError(f"{name}: WITec export without a [Data] section; export it again.")
    header = _header_dict(lines[:start], seps="=")
    header_lines, table, sep, _ = _numeric_block(lines[start + 1 :], name)
    names = _names(header_lines[:1], sep, table.shape[1])
    units = [u.strip() for u in header_lines[1].split(sep)] if len(header_lines) > 1 else []
    laser = laser_nm if laser_nm is not None else _laser_from(header)
    x_unit = header.get("XAxisUnit") or (units[0] if units else None)
    j = _pick_column(names, table.shape[1], column, 0, name)
    y = table[:, j]
    meta: dict[str, Any] = {
        "format": "witec",
        "instrument": "WITec",
        "laser_nm": laser,
        "saturated": int(np.count_nonzero(y >= _SATURATED)),
        "y_unit": header.get("DataUnit") or (units[j] if len(units) > j else None),
        "header": header,
        **_stage_from(header),
    }
    return _to_shift(table[:, 0], _unit(x_unit), laser, name, meta), y, meta


def _read_bwtek(lines: list[str], name: str, laser_nm: float | None, column: Any) -> _Parsed:
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Pixel;"))
    header = _header_dict(lines[:start], seps=";")
    text = "\n".join(lines[start:])
    try:
        table = pd.read_csv(io.StringIO(text), sep=";", decimal=",", skipinitialspace=True)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ReadError(f"{name}: the B&W Tek table cannot be parsed ({one_line(exc)}).") from exc
    table = table.loc[:, ~table.columns.astype(str).str.startswith("Unnamed")]
    for col in table.columns:
        # Text columns (object, or pandas' string dtype): decimal commas, or junk -> NaN.
        if not pd.api.types.is_numeric_dtype(table[col]):
            text_col = table[col].astype(str).str.replace(",", ".")
            table[col] = pd.to_numeric(text_col, errors="coerce")
    names = [str(c) for c in table.columns]
    if _BWTEK_X not in names:
        raise ReadError(
            f"{name}: B&W Tek table without a {_BWTEK_X!r} column (columns: {names[:8]});"
            " export it again with the Raman shift axis."
        )
    x_index = names.index(_BWTEK_X)
    j = _pick_column(names, len(names), column, x_index, name, default=_BWTEK_Y)
    keep = table[_BWTEK_X].notna().to_numpy()
    laser = laser_nm if laser_nm is not None else _laser_from(header)
    model = header.get("model") or header.get("title")
    meta: dict[str, Any] = {
        "format": "bwtek",
        "instrument": f"B&W Tek {model}" if model else "B&W Tek",
        "laser_nm": laser,
        "x_unit_original": "cm-1",
        "y_column": names[j],
        "dropped_rows": int((~keep).sum()),
        "header": header,
    }
    x = table.iloc[:, x_index].to_numpy(dtype=np.float64)[keep]
    return x, table.iloc[:, j].to_numpy(dtype=np.float64)[keep], meta


def _to_laser(value: Any) -> float | None:
    """Return the laser wavelength a file states, or None if missing or implausible."""
    try:
        laser = float(value)
    except (TypeError, ValueError):
        return None
    return laser if 100.0 <= laser <= 3000.0 else None


def _check_wdf_blocks(raw: bytes, name: str) -> None:
    # renishawWiRE reads a cut file without complaint (and returns a partial spectrum),
    # so walk the block chain first: each block header gives its own length.
    if raw[:4] != b"WDF1":
        raise ReadError(f"{name}: not a Renishaw .wdf file (no WDF1 signature); check the file.")
    offset, sizes = 0, {}
    while offset < len(raw):
        size = struct.unpack_from("<Q", raw, offset + 8)[0] if offset + 16 <= len(raw) else 0
        if size < 16 or offset + size > len(raw):
            raise ReadError(
                f"{name}: the .wdf file is truncated or damaged (block at byte {offset} runs past"
                f" the end of {len(raw)} bytes); copy it again from the instrument."
            )
        sizes.setdefault(raw[offset : offset + 4], size)
        offset += size
    if not {b"DATA", b"XLST"} <= sizes.keys():
        raise ReadError(
            f"{name}: the .wdf file has no DATA or XLST block; it is incomplete, export it again."
        )
    # renishawWiRE trusts the header counts: a damaged one makes it allocate (and loop
    # over) billions of items. Check them against the block sizes first.
    if sizes[b"WDF1"] != _WDF_HEADER:
        raise ReadError(
            f"{name}: the .wdf header block has {sizes[b'WDF1']} bytes, not {_WDF_HEADER}; the"
            " file is damaged, copy it again from the instrument."
        )
    points, capacity, count = struct.unpack_from("<iqq", raw, _WDF_COUNTS)
    origins = struct.unpack_from("<i", raw, _WDF_COUNTS + 32)[0]
    consistent = (
        points > 0
        and 0 <= count <= capacity
        and 16 + 4 * points * count <= sizes[b"DATA"]
        and 0 <= origins
        and (b"ORGN" not in sizes or 20 + origins * (24 + 8 * capacity) <= sizes[b"ORGN"])
    )
    if not consistent:
        raise ReadError(
            f"{name}: the .wdf header does not match its data blocks ({points} points,"
            f" {count} of {capacity} spectra, {origins} origin lists); the file is damaged,"
            " copy it again from the instrument."
        )


def _read_wdf(path: Path, raw: bytes, laser_nm: float | None) -> _Parsed:
    name = _shown(path.name)
    _check_wdf_blocks(raw, name)
    try:
        from renishawWiRE import WDFReader
    except ImportError:
        raise ReadError(
            f"{name}: reading .wdf files needs renishawWiRE; "
            "pip install nmcraman[io] (or pip install renishawWiRE)."
        ) from None
    try:
        reader = WDFReader(str(path))
    except Exception as exc:  # the package raises struct.error, ValueError, EOFError...
        raise ReadError(
            f"{name}: renishawWiRE cannot read it ({one_line(exc)}); the file is damaged or of"
            " an unsupported WiRE version: export it as text from WiRE."
        ) from exc
    try:
        kind = getattr(reader.measurement_type, "name", str(reader.measurement_type))
        with np.errstate(invalid="ignore", over="ignore"):  # damaged values become NaN/inf
            spectra = np.asarray(reader.spectra, dtype=np.float64)
        if reader.count > 1 or spectra.ndim > 1 or kind in ("Mapping", "Series"):
            raise ReadError(
                f"{name}: a {kind.lower()} of {reader.count} spectra; use read_map to read it."
            )
        unit = getattr(reader.xlist_unit, "name", str(reader.xlist_unit))
        with np.errstate(invalid="ignore", over="ignore"):
            x = np.asarray(reader.xdata, dtype=np.float64)
        laser = laser_nm if laser_nm is not None else _to_laser(reader.laser_length)
        version = ".".join(map(str, reader.application_version))
        meta: dict[str, Any] = {
            "format": "wdf",
            "instrument": "Renishaw",
            "software": f"{reader.application_name} {version}",
            "laser_nm": laser,
            "title": reader.title,
            "x_unit_original": _WDF_UNITS.get(unit, unit),
        }
        for axis in "xyz":
            pos = np.ravel(getattr(reader, f"{axis}pos", []))
            if pos.size == 1:
                meta[f"stage_{axis}_um"] = float(pos[0])
    except (AttributeError, TypeError, ValueError) as exc:
        # renishawWiRE skips the attribute of a missing block, or keeps garbage
        raise ReadError(
            f"{name}: the .wdf file is incomplete or damaged ({one_line(exc)}); copy it again"
            " from the instrument."
        ) from exc
    finally:
        reader.close()
    if unit == "Wavenumber":  # absolute cm-1
        if laser is None:
            raise ReadError(
                f"{name}: the x axis is absolute wavenumber and the file gives no laser"
                " wavelength; pass laser_nm= to convert it to Raman shift."
            )
        x = 1e7 / laser - x
    elif unit != "RamanShift":
        x = _to_shift(x, _unit(meta["x_unit_original"]), laser, name, meta)
    if x.size != spectra.size:
        raise ReadError(
            f"{name}: {x.size} axis points but {spectra.size} intensities; the file is damaged,"
            " copy it again from the instrument."
        )
    return x, spectra.ravel(), meta
