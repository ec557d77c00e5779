"""B&W Tek vendor CSV: a ``key;value`` header, then a ``Pixel;...;Raman Shift;...`` table.

Decimal commas throughout; the intensity is ``Dark Subtracted #1`` unless ``column=``
names another. Rows without a Raman shift (pixels outside the calibrated range) are
dropped and counted in ``meta["dropped_rows"]``.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from .._validation import one_line
from ..errors import ReadError
from ._files import Parsed, Source
from ._text import header_dict, laser_from, pick_column

_X = "Raman Shift"
_Y = "Dark Subtracted #1"


def sniff(source: Source) -> bool:
    """Look for a ``Pixel;`` line that names the Raman Shift column."""
    return any(line.startswith("Pixel;") and _X in line for line in source.lines)


def read_spectrum(source: Source) -> Parsed:
    """Read the Raman shift and one intensity column of a B&W Tek CSV."""
    name, lines = source.name, source.lines
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Pixel;")), None)
    if start is None:
        raise ReadError(f"{name}: no 'Pixel;...' table; not a B&W Tek CSV export.")
    header = header_dict(lines[:start], seps=";")
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
    if _X not in names:
        raise ReadError(
            f"{name}: B&W Tek table without a {_X!r} column (columns: {names[:8]});"
            " export it again with the Raman shift axis."
        )
    x_index = names.index(_X)
    j = pick_column(names, len(names), source.column, x_index, name, default=_Y)
    keep = table[_X].notna().to_numpy()
    model = header.get("model") or header.get("title")
    meta: dict[str, Any] = {
        "format": "bwtek",
        "instrument": f"B&W Tek {model}" if model else "B&W Tek",
        "laser_nm": laser_from(header, source.laser_nm),
        "x_unit_original": "cm-1",
        "y_column": names[j],
        "dropped_rows": int((~keep).sum()),
        "header": header,
    }
    x = table.iloc[:, x_index].to_numpy(dtype=np.float64)[keep]
    return x, table.iloc[:, j].to_numpy(dtype=np.float64)[keep], meta
