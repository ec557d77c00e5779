"""JASCO Spectra Manager text exports: a ``KEY<TAB>value`` header, ``XYDATA``, rows, sections.

The header lines (``TITLE``, ``DATA TYPE``, ``XUNITS``, ``YUNITS``, ``FIRSTX``,
``LASTX``, ``NPOINTS``, ...) are separated from their value by a tab (``.txt``
export) or a comma (``.csv`` export). ``XYDATA`` opens the data rows, which end at a
blank line or at the trailing blocks JASCO software appends (``##### Extended
Information``, then ``[Comments]``, ``[Detailed Information]``, ``[Measurement
Information]`` sections of ``key,value`` lines); those blocks are kept in
``meta["sections"]``, never parsed as data. ``NPOINTS`` is checked against the rows,
so a truncated export is refused.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ReadError
from ._axis import to_float, to_shift, unit
from ._files import Parsed, Source
from ._text import laser_from, numeric_table, pick_column

_DATA = "XYDATA"
_SECTION = re.compile(r"^\[(.+)\]$")
_KEY_VALUE = re.compile(r"^([^\t,]+)[\t,](.*)$")


def sniff(source: Source) -> bool:
    """Look for an ``XYDATA`` line after ``XUNITS`` or ``NPOINTS`` keys."""
    head = [line.strip() for line in source.lines[:100]]
    if _DATA not in head:
        return False
    keys = head[: head.index(_DATA)]
    return any(line.startswith(("XUNITS", "NPOINTS")) for line in keys)


def read_spectrum(source: Source) -> Parsed:
    """Read the rows after ``XYDATA``; header keys and trailing sections go to meta."""
    name, lines = source.name, source.lines
    start = next((i for i, line in enumerate(lines) if line.strip() == _DATA), None)
    if start is None:
        raise ReadError(f"{name}: no XYDATA line; not a JASCO text export.")
    header = _pairs(lines[:start])
    end = next(
        (
            i
            for i in range(start + 1, len(lines))
            if not lines[i].strip() or lines[i].lstrip().startswith(("#####", "["))
        ),
        len(lines),
    )
    _, table, _, _ = numeric_table(lines[start + 1 : end], name, first=start + 2)
    _check_count(header, table.shape[0], name)
    sections = _sections(lines[end:])
    details = {k: v for section in sections.values() for k, v in section.items()}
    laser = laser_from(details, source.laser_nm)
    j = pick_column(None, table.shape[1], source.column, 0, name)
    meta: dict[str, Any] = {
        "format": "jasco",
        "instrument": _instrument(header, details),
        "laser_nm": laser,
        "title": header.get("TITLE") or None,
        "y_unit": header.get("YUNITS") or None,
        "header": header,
        "sections": sections or None,
    }
    return to_shift(table[:, 0], unit(header.get("XUNITS")), laser, name, meta), table[:, j], meta


def _pairs(lines: list[str]) -> dict[str, str]:
    """``key: value`` of ``KEY<TAB>value`` or ``KEY,value`` lines (a bare key has "")."""
    found = {}
    for line in lines:
        text = line.strip()
        match = _KEY_VALUE.match(text)
        if match:
            found[match.group(1).strip()] = match.group(2).strip()
        elif text:
            found[text] = ""
    return found


def _sections(lines: list[str]) -> dict[str, dict[str, str]]:
    """Return the ``[Name]`` blocks after the data, each a dict of its ``key,value`` lines."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in lines:
        match = _SECTION.match(line.strip())
        if match:
            current = match.group(1).strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return {key: _pairs(body) for key, body in sections.items()}


def _check_count(header: dict[str, str], rows: int, name: str) -> None:
    stated = to_float(header.get("NPOINTS"))
    if stated is not None and int(stated) != rows:
        raise ReadError(
            f"{name}: NPOINTS says {int(stated)} points but XYDATA has {rows} rows; the export"
            " is truncated or edited, export it again."
        )


def _instrument(header: dict[str, str], details: dict[str, str]) -> str:
    model = details.get("Model Name") or header.get("SPECTROMETER/DATA SYSTEM")
    return f"JASCO {model}" if model and "JASCO" not in model.upper() else model or "JASCO"
