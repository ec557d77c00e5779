"""Renishaw WiRE ``.wdf`` files, single spectra and maps, through ``renishawWiRE``.

One opener serves both: `_opened` checks the block chain and the header counts (the
package trusts them and would read past the end or loop over billions of items),
opens the file, turns the package's exceptions into one-line `ReadError` exceptions
and closes it. The axis always comes back as Raman shift in cm-1.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .._validation import one_line
from ..errors import ReadError
from ..spectrum import SpectralMap
from ._axis import ABSOLUTE_CM1, laser_line, to_shift, unit
from ._files import Parsed, Source, warn
from ._grid import grid, make_map

_HEADER = 0x200  # size of the WDF1 header block
_COUNTS = 0x3C  # points per spectrum (int32), capacity and count (int64), ...
_UNITS = {"RamanShift": "cm-1", "Nanometre": "nm", "Wavenumber": ABSOLUTE_CM1}
_TO_UM = {"Micron": 1.0, "Millimetres": 1e3, "Metres": 1e6, "Nanometre": 1e-3}
_MANY = ("Mapping", "Series")  # measurement types that hold many spectra


def sniff(source: Source) -> bool:
    """Look for the WDF1 signature or a ``.wdf`` name (then no signature is an error)."""
    return source.raw[:4] == b"WDF1" or source.path.suffix.lower() == ".wdf"


def read_spectrum(source: Source) -> Parsed:
    """Read the one spectrum of a ``.wdf`` file; `ReadError` for a map or series."""
    name = source.name
    with _opened(source) as reader:
        kind = _kind(reader)
        with np.errstate(invalid="ignore", over="ignore"):  # damaged values become NaN/inf
            spectra = np.asarray(reader.spectra, dtype=np.float64)
        if reader.count > 1 or spectra.ndim > 1 or kind in _MANY:
            raise ReadError(
                f"{name}: a {kind.lower()} of {reader.count} spectra; use read_map to read it."
            )
        x, meta = _axis_and_meta(reader, source.laser_nm)
        for axis in "xyz":
            pos = np.ravel(getattr(reader, f"{axis}pos", []))
            if pos.size == 1:
                meta[f"stage_{axis}_um"] = float(pos[0])
    meta["format"] = "wdf"
    x = _shift(x, name, meta)
    if x.size != spectra.size:
        raise ReadError(
            f"{name}: {x.size} axis points but {spectra.size} intensities; the file is damaged,"
            " copy it again from the instrument."
        )
    return x, spectra.ravel(), meta


def read_map(source: Source) -> SpectralMap | None:
    """Read a ``.wdf`` map or series; None if the file holds one spectrum."""
    name = source.name
    with _opened(source) as reader:
        count = int(reader.count)
        kind = _kind(reader)
        if count <= 1 and kind not in _MANY:
            return None
        x, meta = _axis_and_meta(reader, source.laser_nm)
        with np.errstate(invalid="ignore", over="ignore"):  # damaged values become NaN/inf
            # renishawWiRE reshapes complete maps to (h, w, n), anything else to (count, n)
            flat = np.asarray(reader.spectra, dtype=np.float64).reshape(count, x.size)
        pos = [np.ravel(getattr(reader, f"{a}pos", np.zeros(count)))[:count] for a in "xy"]
        coords = np.column_stack(pos) if all(p.size == count for p in pos) else None
        pos_unit = getattr(getattr(reader, "xpos_unit", None), "name", "Micron")
        width, height = (int(v) for v in getattr(reader, "map_shape", (0, 0)))
    meta.update(source=str(source.path), format="wdf-map", measurement=kind)
    x = _shift(x, name, meta)
    if coords is not None:
        coords = coords * _TO_UM.get(pos_unit, 1.0)
        meta["stage_unit"] = "µm" if pos_unit in _TO_UM else pos_unit
    size = width * height
    if kind != "Mapping" or not size >= count > 0 or coords is None:
        return make_map(name, x, flat, coords, meta)
    if count < size:  # interrupted: the rest of the grid was never measured
        meta["measured"] = count
        warn(f"{name}: the map was interrupted after {count} of {size} spectra; the rest are NaN.")
        flat = np.vstack([flat, np.full((size - count, x.size), np.nan)])
        coords = np.vstack([coords, np.full((size - count, 2), np.nan)])
    else:
        shape, order = grid(coords)
        if shape == (height, width):  # same rule as text maps: ascending Y, then X
            flat, coords = flat[order], coords[order]
    return make_map(name, x, flat.reshape(height, width, x.size), coords, meta)


@contextmanager
def _opened(source: Source) -> Iterator[Any]:
    """Open a checked ``renishawWiRE.WDFReader``; its errors become `ReadError`."""
    name = source.name
    _check_blocks(source.raw, name)
    try:
        from renishawWiRE import WDFReader
    except ImportError:
        raise ReadError(
            f"{name}: reading .wdf files needs renishawWiRE, a dependency of nmcraman that"
            " is missing; reinstall nmcraman (or pip install renishawWiRE)."
        ) from None
    try:
        reader = WDFReader(str(source.path))
    except Exception as exc:  # the package raises struct.error, ValueError, EOFError...
        raise ReadError(
            f"{name}: renishawWiRE cannot read it ({one_line(exc)}); the file is damaged or of"
            " an unsupported WiRE version: export it as text from WiRE."
        ) from exc
    try:
        yield reader
    except (AttributeError, TypeError, ValueError) as exc:
        # renishawWiRE skips the attribute of a missing block, or keeps garbage
        raise ReadError(
            f"{name}: the .wdf file is incomplete or damaged ({one_line(exc)}); copy it again"
            " from the instrument."
        ) from exc
    finally:
        reader.close()


def _kind(reader: Any) -> str:
    return getattr(reader.measurement_type, "name", str(reader.measurement_type))


def _axis_and_meta(reader: Any, laser_nm: float | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the stored axis, and the metadata spectra and maps share."""
    axis_unit = getattr(reader.xlist_unit, "name", str(reader.xlist_unit))
    with np.errstate(invalid="ignore", over="ignore"):
        x = np.asarray(reader.xdata, dtype=np.float64)
    application = getattr(reader, "application_name", None)
    version = ".".join(map(str, getattr(reader, "application_version", ())))
    meta: dict[str, Any] = {
        "instrument": "Renishaw",
        "software": f"{application} {version}" if application else None,
        "laser_nm": laser_nm if laser_nm is not None else laser_line(reader.laser_length),
        "title": reader.title,
        "x_unit_original": _UNITS.get(axis_unit, axis_unit),
    }
    return x, meta


def _shift(x: np.ndarray, name: str, meta: dict[str, Any]) -> np.ndarray:
    stored = meta["x_unit_original"]
    return to_shift(
        x, stored if stored == ABSOLUTE_CM1 else unit(stored), meta["laser_nm"], name, meta
    )


def _check_blocks(raw: bytes, name: str) -> None:
    """Refuse a file whose block chain or header counts do not hold together."""
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
    if sizes[b"WDF1"] != _HEADER:
        raise ReadError(
            f"{name}: the .wdf header block has {sizes[b'WDF1']} bytes, not {_HEADER}; the"
            " file is damaged, copy it again from the instrument."
        )
    points, capacity, count = struct.unpack_from("<iqq", raw, _COUNTS)
    origins = struct.unpack_from("<i", raw, _COUNTS + 32)[0]
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
