"""WITec Project ASCII exports: ``[Header]`` keys, then ``[Data]`` with names and units lines.

The axis is often absolute wavelength in nm, converted to Raman shift with the laser
line of the header or of ``laser_nm=``. Saturated points (65535 counts) are kept in y
and counted in ``meta["saturated"]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ReadError
from ._axis import to_shift, unit
from ._files import Parsed, Source
from ._text import column_names, header_dict, laser_from, numeric_table, pick_column, stage_from

_SATURATED = 65535.0  # full scale of the 16-bit CCDs these exports come from


def sniff(source: Source) -> bool:
    """Look for a ``[Data]`` line, or ``[Header]`` among the first lines."""
    stripped = [line.strip() for line in source.lines[:400]]
    return "[Data]" in stripped or any(line.startswith("[Header]") for line in stripped[:5])


def read_spectrum(source: Source) -> Parsed:
    """Read the x column and one intensity column of a WITec export."""
    name, lines = source.name, source.lines
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "[Data]"), None)
    if start is None:
        raise ReadError(f"{name}: WITec export without a [Data] section; export it again.")
    header = header_dict(lines[:start], seps="=")
    header_lines, table, sep, _ = numeric_table(lines[start + 1 :], name, first=start + 2)
    names = column_names(header_lines[:1], sep, table.shape[1])
    units = [u.strip() for u in header_lines[1].split(sep)] if len(header_lines) > 1 else []
    laser = laser_from(header, source.laser_nm)
    x_unit = header.get("XAxisUnit") or (units[0] if units else None)
    j = pick_column(names, table.shape[1], source.column, 0, name)
    y = table[:, j]
    meta: dict[str, Any] = {
        "format": "witec",
        "instrument": "WITec",
        "laser_nm": laser,
        "saturated": int(np.count_nonzero(y >= _SATURATED)),
        "y_unit": header.get("DataUnit") or (units[j] if len(units) > j else None),
        "header": header,
        **stage_from(header),
    }
    return to_shift(table[:, 0], unit(x_unit), laser, name, meta), y, meta
