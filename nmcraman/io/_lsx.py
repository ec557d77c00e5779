"""Horiba LabSpec XML exports (``<LSX_Data>``): single spectra, lines and maps.

LabSpec names its XML elements by hexadecimal ``ID`` attributes rather than by tag
(the layout below is the one HyperSpy's RosettaSciIO ``jobinyvon`` reader documents).
``<LSX_Tree>`` holds the title (ID 0x6C7469D9), the axes under ID 0x7B697861 (0x1 the
spectral axis, 0x2 and 0x3 the stage axes of a line or map, each with its values
0x7D6CD4DB, name 0x6D707974 and unit 0x7C696E75) and the acquisition setup under ID
0x8716361 (entries of name 0x6D6D616E, displayed value 0x7D6C61DB and numeric value
0x8736F70, such as ``Laser (nm)`` 632.817). ``<LSX_Matrix>`` holds one ``<LSX_Row>``
of intensities per spectrum, the first stage axis varying fastest (X or Y: rows are Y
and columns X either way). The spectral axis is in ``1/cm`` (Raman shift) or ``nm``
(converted with the laser line); stage positions in µm, nm, mm or m come out in µm.
Parsed with the standard library's ``xml.etree``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import numpy as np

from ..errors import ReadError
from ..spectrum import SpectralMap
from ._axis import ABSOLUTE_CM1, to_shift, unit
from ._files import Parsed, Source
from ._grid import grid, make_map
from ._text import _TO_UM, laser_from, stage_from

_AXES, _SPECTRAL, _STAGES = "0x7B697861", "0x1", ("0x2", "0x3")
_SETUP, _FILE_INFO, _TITLE = "0x8716361", "0x7C73E2D2", "0x6C7469D9"
_VALUES, _NAME, _UNIT = "0x7D6CD4DB", "0x6D707974", "0x7C696E75"
_KEY, _SHOWN, _NUMBER = "0x6D6D616E", "0x7D6C61DB", "0x8736F70"
#: Setup entries whose numeric value is more precise than the displayed one ("633 ").
_NUMERIC_KEYS = ("Laser (nm)", "Spectro (nm)")


def sniff(source: Source) -> bool:
    """Look for the ``<LSX_Data>`` root element near the start of the file."""
    return b"<LSX_Data" in source.raw[:4096]


def read_spectrum(source: Source) -> Parsed:
    """Read the one spectrum of a LabSpec XML export; `ReadError` for a line or map."""
    name = source.name
    root = _parse(source)
    rows, stages = _rows(root, name), _stage_axes(root, name)
    if len(rows) > 1 or stages:
        raise ReadError(f"{name}: a LabSpec map or line of {len(rows)} spectra; use read_map.")
    x, meta = _axis_and_meta(root, source)
    meta.update(stage_from(meta["header"]))
    return _shift(x, meta, name), _checked(rows[0], x.size, name), meta


def read_map(source: Source) -> SpectralMap | None:
    """Read a LabSpec XML line or map; None if the file holds one spectrum."""
    name = source.name
    root = _parse(source)
    rows, stages = _rows(root, name), _stage_axes(root, name)
    if len(rows) == 1 and not stages:
        return None
    x, meta = _axis_and_meta(root, source)
    spectra = np.vstack([_checked(row, x.size, name) for row in rows])
    meta.update(source=str(source.path), format="labspec-xml-map")
    x = _shift(x, meta, name)
    sizes = [values.size for _, values in stages]
    if int(np.prod(sizes)) != len(rows):
        raise ReadError(
            f"{name}: the stage axes have {' x '.join(map(str, sizes))} positions but the file"
            f" has {len(rows)} spectra; the export is incomplete, export it again."
        )
    if len(stages) == 1:
        meta["position"] = stages[0][1]
        meta["position_name"] = stages[0][0]
        return make_map(name, x, spectra, None, meta)
    (first, fast), (_, slow) = stages
    coords = np.column_stack([np.tile(fast, slow.size), np.repeat(slow, fast.size)])
    if first.upper().startswith("Y"):  # the fast axis is Y: columns are X all the same
        coords = coords[:, ::-1]
    shape, order = grid(coords)
    if shape is None:
        return make_map(name, x, spectra, coords, meta)
    return make_map(name, x, spectra[order].reshape(*shape, -1), coords[order], meta)


def _parse(source: Source) -> ET.Element:
    try:
        root = ET.fromstring(source.raw)
    except ET.ParseError as exc:
        raise ReadError(
            f"{source.name}: not well-formed XML ({exc}); the export is damaged or truncated."
        ) from None
    if root.tag != "LSX_Data":
        raise ReadError(f"{source.name}: XML root is <{root.tag}>, not a LabSpec <LSX_Data>.")
    return root


def _by_id(parent: ET.Element | None, ident: str) -> ET.Element | None:
    """Return the first child of ``parent`` with this ``ID``, or None."""
    if parent is None:
        return None
    return next((child for child in parent if child.get("ID") == ident), None)


def _text(parent: ET.Element | None, ident: str) -> str | None:
    found = _by_id(parent, ident)
    return found.text.strip() if found is not None and found.text else None


def _numbers(text: str | None, what: str, name: str) -> np.ndarray:
    try:
        values = np.array((text or "").split(), dtype=np.float64)
    except ValueError:
        raise ReadError(f"{name}: the {what} holds text where numbers belong.") from None
    if values.size == 0:
        raise ReadError(f"{name}: the {what} is empty; the export is incomplete.")
    return values


def _axes(root: ET.Element, name: str) -> ET.Element:
    axes = next((e for e in root.iter() if e.get("ID") == _AXES), None)
    if axes is None or _by_id(axes, _SPECTRAL) is None:
        raise ReadError(f"{name}: LabSpec XML without a spectral axis; export it again.")
    return axes


def _stage_axes(root: ET.Element, name: str) -> list[tuple[str, np.ndarray]]:
    """(name, positions in µm) of each stage axis with more than one position."""
    found = []
    for ident in _STAGES:
        axis = _by_id(_axes(root, name), ident)
        if axis is None:
            continue
        values = _numbers(_text(axis, _VALUES), f"stage axis {ident}", name)
        scale = _TO_UM.get(_text(axis, _UNIT) or "µm", 1.0)
        if values.size > 1:
            found.append((_text(axis, _NAME) or "", values * scale))
    return found


def _rows(root: ET.Element, name: str) -> list[str]:
    matrix = root.find("LSX_Matrix")
    rows = [] if matrix is None else [row.text or "" for row in matrix.findall("LSX_Row")]
    if not rows:
        raise ReadError(f"{name}: LabSpec XML without data rows (<LSX_Row>); export it again.")
    return rows


def _checked(row: str, size: int, name: str) -> np.ndarray:
    values = _numbers(row, "data row", name)
    if values.size != size:
        raise ReadError(
            f"{name}: a data row has {values.size} values for {size} axis points; the export"
            " is damaged, export it again."
        )
    return values


def _setup(root: ET.Element) -> dict[str, str]:
    """Return the setup and file entries (``Laser (nm)``, ``X (µm)``, ...) by name."""
    header = {}
    for block in (e for e in root.iter() if e.get("ID") in (_SETUP, _FILE_INFO)):
        for entry in block:
            key = _text(entry, _KEY)
            number = _text(entry, _NUMBER) if key in _NUMERIC_KEYS else None
            value = number or _text(entry, _SHOWN)
            if key and value is not None:
                header[key] = value
    return header


def _axis_and_meta(root: ET.Element, source: Source) -> tuple[np.ndarray, dict[str, Any]]:
    spectral = _by_id(_axes(root, source.name), _SPECTRAL)
    x = _numbers(_text(spectral, _VALUES), "spectral axis", source.name)
    header = _setup(root)
    tree = root.find("LSX_Tree")
    meta: dict[str, Any] = {
        "format": "labspec-xml",
        "instrument": header.get("Instrument"),
        "laser_nm": laser_from(header, source.laser_nm),
        "title": _text(tree, _TITLE),
        "x_unit_stored": _text(spectral, _UNIT),
        "header": header,
    }
    return x, meta


def _shift(x: np.ndarray, meta: dict[str, Any], name: str) -> np.ndarray:
    stored = meta.pop("x_unit_stored") or ""
    axis_unit = ABSOLUTE_CM1 if stored.lower().endswith("abs") else unit(stored)
    return to_shift(x, axis_unit, meta["laser_nm"], name, meta)
