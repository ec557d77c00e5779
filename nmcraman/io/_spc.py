"""Galactic SPC (``.spc``) files: one or many subfiles, evenly spaced or XY, float or integer y.

Written from the Thermo Galactic SPC file format specification (1996, "new" format,
``fversn`` 0x4B little-endian or 0x4C big-endian). A 512-byte main header gives the
flags ``ftflgs``, the y exponent ``fexp``, the point count and x range, the number of
subfiles and the axis types; then come the x values if ``TXVALS`` is set, then each
subfile: a 32-byte subheader, its own x values if ``TXYXYS`` is set, and its y
values. Integer y is a fixed-point fraction: ``y = int * 2**(exp - 32)`` for 32-bit
and ``y = int * 2**(exp - 16)`` for 16-bit (``TSPREC``) values, with ``exp`` the
main-header ``fexp`` for single files and each subfile's ``subexp`` for multifiles
(``TMULTI``); an exponent of -128 (0x80) means IEEE float32 y. The old LabCalc
format (0x4D) is refused.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ReadError
from ..spectrum import SpectralMap
from ._axis import to_shift
from ._files import Parsed, Source
from ._grid import make_map
from ._text import laser_from

_HEAD = 512
_SUBHEAD = 32
_VERSIONS = {0x4B: "<", 0x4C: ">"}
_OLD = 0x4D
_TSPREC, _TMULTI, _TXVALS, _TXYXYS = 0x01, 0x04, 0x80, 0x40
_FLOAT = -128  # 0x80 as a signed char: y is float32
#: SPC x-axis type codes (``fxtype``) nmcraman can turn into Raman shift. Wavenumber (1)
#: is what many Raman programs write for Raman shift: it is read as Raman shift.
_X_UNITS = {1: "cm-1", 13: "cm-1", 2: "µm", 3: "nm"}
_X_NAMES = {0: "arbitrary", 1: "wavenumber", 2: "micrometers", 3: "nanometers", 13: "Raman shift"}
_LOG_LINE = re.compile(r"^([^=]+)=(.*)$")


@dataclass(frozen=True)
class _Header:
    order: str  # struct byte order
    flags: int
    exponent: int
    points: int
    first: float
    last: float
    subfiles: int
    x_type: int
    log_offset: int
    comment: str


def sniff(source: Source) -> bool:
    """Look for an SPC version byte with a consistent header, or a ``.spc`` name."""
    raw = source.raw
    if source.path.suffix.lower() == ".spc":
        return True
    if len(raw) < _HEAD + _SUBHEAD or raw[1] not in _VERSIONS:
        return False
    header = _header(raw, source.name)
    return header.points > 0 and header.subfiles >= 1 and b"\x00" in raw[:_HEAD]


def read_spectrum(source: Source) -> Parsed:
    """Read the one subfile of an SPC file; `ReadError` if it holds several."""
    header = _header(source.raw, source.name)
    x, spectra, _ = _subfiles(source.raw, header, source.name)
    if len(spectra) > 1:
        raise ReadError(
            f"{source.name}: an SPC file of {len(spectra)} subfiles (spectra); use read_map."
        )
    meta = _meta(source, header)
    return _shift(x[0], header, meta, source.name), spectra[0], meta


def read_map(source: Source) -> SpectralMap | None:
    """Read a multifile SPC as spectra of shape (N,); None if it holds one spectrum."""
    name = source.name
    header = _header(source.raw, name)
    x, spectra, z = _subfiles(source.raw, header, name)
    if len(spectra) == 1:
        return None
    orders = [np.argsort(a, kind="stable") for a in x]  # XYXY subfiles may differ in order
    x = [a[o] for a, o in zip(x, orders, strict=True)]
    spectra = [y[o] for y, o in zip(spectra, orders, strict=True)]
    if any(a.shape != x[0].shape or not np.array_equal(a, x[0]) for a in x[1:]):
        raise ReadError(
            f"{name}: the {len(spectra)} subfiles have different x axes; export them as"
            " separate files and read them with read_many."
        )
    meta = _meta(source, header)
    meta.update(source=str(source.path), format="spc-multi", z=np.asarray(z))
    return make_map(name, _shift(x[0], header, meta, name), np.vstack(spectra), None, meta)


def _header(raw: bytes, name: str) -> _Header:
    if len(raw) < _HEAD + _SUBHEAD:
        raise ReadError(f"{name}: {len(raw)} bytes is too short for a Galactic SPC file.")
    if raw[1] == _OLD:
        raise ReadError(
            f"{name}: old-format (LabCalc, 0x4D) SPC file; save it again as a new-format SPC"
            " or export it as text."
        )
    if raw[1] not in _VERSIONS:
        raise ReadError(
            f"{name}: not a Galactic SPC file (version byte 0x{raw[1]:02X}); check the file."
        )
    order = _VERSIONS[raw[1]]
    flags, _, _, exponent, points = struct.unpack_from(order + "BBBbI", raw, 0)
    first, last, subfiles = struct.unpack_from(order + "ddI", raw, 8)
    comment = raw[88:218].split(b"\x00")[0].decode("latin-1").strip()
    log_offset = struct.unpack_from(order + "I", raw, 248)[0]
    return _Header(
        order, flags, exponent, points, first, last, subfiles, raw[28], log_offset, comment
    )


def _subfiles(
    raw: bytes, header: _Header, name: str
) -> tuple[list[np.ndarray], list[np.ndarray], list[float]]:
    """Return x and y of each subfile, and its z value (subheader ``subtime``)."""
    order, flags = header.order, header.flags
    if flags & _TXYXYS and not flags & _TMULTI:
        flags |= _TMULTI  # XYXY files are multifiles by definition
    count = header.subfiles if flags & _TMULTI else 1
    if not 1 <= count <= len(raw) // _SUBHEAD or 2 * header.points > len(raw):
        raise ReadError(
            f"{name}: the SPC header states {header.points} points and {header.subfiles}"
            f" subfiles in {len(raw)} bytes; the file is damaged, copy it again."
        )
    reader = _Reader(raw, order, name)
    reader.offset = _HEAD
    shared = None
    if flags & _TXVALS and not flags & _TXYXYS:
        shared = reader.array("f4", header.points, "x values")
    elif not flags & _TXYXYS:
        shared = np.linspace(header.first, header.last, header.points)
    xs, ys, zs = [], [], []
    for _ in range(count):
        _, sub_exp, _, z, _, _, sub_points = struct.unpack_from(
            order + "BbHfffI", reader.take(_SUBHEAD, "subfile header"), 0
        )
        if flags & _TXYXYS:
            points = sub_points
            x = reader.array("f4", points, "x values")
        else:
            points, x = header.points, shared
        exponent = sub_exp if flags & _TMULTI else header.exponent
        ys.append(_y_values(reader, points, exponent, bool(flags & _TSPREC)))
        xs.append(np.asarray(x, dtype=np.float64))
        zs.append(float(z))
    return xs, ys, zs


def _y_values(reader: _Reader, points: int, exponent: int, short: bool) -> np.ndarray:
    if exponent == _FLOAT:
        return reader.array("f4", points, "y values")
    if short:
        return reader.array("i2", points, "y values") * 2.0 ** (exponent - 16)
    return reader.array("i4", points, "y values") * 2.0 ** (exponent - 32)


class _Reader:
    """Consecutive reads from the bytes of a file; `ReadError` when they run past its end."""

    def __init__(self, raw: bytes, order: str, name: str) -> None:
        self.raw, self.order, self.name, self.offset = raw, order, name, 0

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.offset + size > len(self.raw):
            raise ReadError(
                f"{self.name}: the SPC file ends before its {what} (byte {self.offset} +"
                f" {size} of {len(self.raw)}); it is truncated, copy it again."
            )
        chunk = self.raw[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def array(self, kind: str, count: int, what: str) -> np.ndarray:
        dtype = np.dtype(self.order + kind)
        return np.frombuffer(self.take(count * dtype.itemsize, what), dtype).astype(np.float64)


def _log(raw: bytes, header: _Header) -> dict[str, str]:
    """``key=value`` lines of the log block, where vendors store the instrument setup."""
    if not header.log_offset or header.log_offset + 64 > len(raw):
        return {}
    text_offset = struct.unpack_from(header.order + "I", raw, header.log_offset + 8)[0]
    text = raw[header.log_offset + text_offset :].split(b"\x00")[0].decode("latin-1")
    found = (_LOG_LINE.match(line) for line in text.splitlines())
    return {m.group(1).strip(): m.group(2).strip() for m in found if m}


def _meta(source: Source, header: _Header) -> dict[str, Any]:
    log = _log(source.raw, header)
    return {
        "format": "spc",
        "laser_nm": laser_from(log, source.laser_nm),
        "title": header.comment or None,
        "x_type": _X_NAMES.get(header.x_type, f"SPC x type {header.x_type}"),
        "header": log or None,
    }


def _shift(x: np.ndarray, header: _Header, meta: dict[str, Any], name: str) -> np.ndarray:
    if header.x_type not in _X_UNITS and header.x_type != 0:
        raise ReadError(
            f"{name}: the SPC x axis is {meta['x_type']}, not Raman shift or a wavelength;"
            " export it in Raman shift (cm-1)."
        )
    axis_unit = _X_UNITS.get(header.x_type)  # arbitrary (0): to_shift tells nm from shift
    if axis_unit == "µm":
        x, axis_unit = x * 1e3, "nm"
    return to_shift(x, axis_unit, meta["laser_nm"], name, meta)
