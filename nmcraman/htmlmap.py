"""Self-contained HTML page of a map fit: parameter images, QC flags, each pixel's bands.

`MapResult.to_html` calls `map_page`. As the fit pages (`nmcraman.htmlpage`), the page
is one file with its style, script (``_html/map.js``, no dependencies) and data inline
and no network allowed. The data are every pixel's band parameters with their errors
and flags, and the pixel statistics, rounded to `SIGNIFICANT` digits of each
parameter's largest value; the script draws the image chosen (band and quantity, a
ratio of two bands' areas, or a pixel statistic) with a colour bar, and shows a
pixel's band table when it is clicked.

A `MapResult` holds no spectra nor baselines, so the page cannot draw a pixel's fit:
fit that pixel's spectrum with `nmcraman.deconvolve` and use `Result.to_html`.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ._stats import TABLE_ROWS
from .htmlpage import MISSING, escape, fill_page, key_values, rounded, version, write_text
from .result import BAND_FLAG_TEXT

__all__ = ["map_page", "write_map"]

#: Significant digits kept of each parameter, relative to its largest absolute value.
SIGNIFICANT = 6
#: Pixel statistics shown first in the page's menu, with their names there; every other
#: numeric per-pixel entry of `MapResult.stats` (e.g. a pooled map's phase) follows
#: under its own name. ``flags`` is drawn as the number of QC flags of each pixel.
STAT_NAMES = {"redchi": "reduced chi2", "snr": "SNR", "noise": "noise"}
#: Pixel statistics left out of the images: ``flags`` (drawn from its bits) and the
#: fitter's bookkeeping.
_NOT_IMAGES = ("flags", "n_iter", "warm")
#: Band quantities offered first in the page's menu, with their names there.
QUANTITIES = {
    "area_pct": "Area (%)",
    "position": "Position (cm-1)",
    "fwhm": "FWHM (cm-1)",
    "height": "Height",
    "area": "Area",
}


def map_page(result, title: str | None = None) -> str:
    """Return the HTML page of a map fit (`nmcraman.deconvolve_map`).

    Parameters
    ----------
    result : MapResult
        The fit.
    title : str, optional
        Page heading. Default is the source's name, else "nmcraman map".

    Returns
    -------
    str
    """
    src = result.meta.get("source")
    title = title or (os.path.basename(str(src)) if src else "nmcraman map")
    shape = tuple(result.shape)
    rows, cols = shape if len(shape) == 2 else (1, int(np.prod(shape)))
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{rows} x {cols} pixels, {len(result.bands)} bands'
        f"{escape(_stage_extent(result.coords, rows, cols))}</p>",
        '<p class="hint">Choose what to show; click a pixel to see its bands.</p>',
        '<div class="mapview"><div class="controls"></div>'
        '<div class="mapbox"><div class="frame"><canvas class="map"></canvas>'
        '<div class="marker" hidden></div></div><div class="colorbar"></div></div>'
        f'<div class="pixel"><p class="hint">{MISSING}</p></div></div>',
        '<div class="facts">',
        key_values("Provenance", _provenance(result)),
        "</div>",
    ]
    return fill_page(title, "\n".join(body), [], data=map_data(result, rows, cols), script="map.js")


def write_map(result, path: str | os.PathLike, *, title=None, force: bool = True) -> None:
    """Write `map_page` to ``path``, atomically (see `MapResult.to_html`)."""
    write_text(path, map_page(result, title), force)


def map_data(result, rows: int, cols: int) -> dict[str, Any]:
    """Return the page's JSON: parameters per band (pixel order), statistics, flags."""
    params = {
        k: [_compact(result.params[k][:, b]) for b in range(len(result.bands))] for k in TABLE_ROWS
    }
    n = rows * cols
    numeric = {
        k: np.asarray(v)
        for k, v in result.stats.items()
        if k not in _NOT_IMAGES
        and np.ndim(v) == 1
        and len(v) == n
        and np.asarray(v).dtype.kind in "fiub"
    }
    stats = {k: _compact(v) for k, v in numeric.items()}
    order = [*(k for k in STAT_NAMES if k in stats), *(k for k in stats if k not in STAT_NAMES)]
    names = {k: STAT_NAMES.get(k, k) for k in order}
    out: dict[str, Any] = {
        "rows": rows,
        "cols": cols,
        "bands": list(result.bands),
        "labels": list(result.labels),
        "quantities": QUANTITIES,
        "params": params,
        "stats": stats,
        "stat_names": {**names, "flags": "QC flags (count)"},
        "flags": np.asarray(result.stats["flags"]).astype(int).tolist(),
        "qc_names": list(result.qc_names),
        "band_flags": np.asarray(result.band_flags).astype(int).tolist(),
        "band_flag_text": list(BAND_FLAG_TEXT),
    }
    if result.coords is not None:
        out["coords"] = [_compact(np.asarray(result.coords)[:, i]) for i in range(2)]
    if result.names is not None:
        out["names"] = [str(n) for n in result.names]
    return out


def _stage_extent(coords, rows: int, cols: int) -> str:
    """Say how the stage moves across the image: ``; left to right x 0 → 50 µm, ...``."""
    if coords is None:
        return ""
    grid = np.asarray(coords, dtype=np.float64).reshape(rows, cols, 2)
    parts = []
    for where, first, last in (
        ("left to right", grid[0, 0], grid[0, -1]),
        ("top to bottom", grid[0, 0], grid[-1, 0]),
    ):
        moves = [
            f"{axis} {a:g} → {b:g} µm"
            for axis, a, b in zip("xy", first, last, strict=True)
            if a != b and np.isfinite(a) and np.isfinite(b)
        ]
        if moves:
            parts.append(f"{where} {', '.join(moves)}")
    return "".join(f"; {p}" for p in parts)


def _compact(values) -> list:
    a = np.asarray(values, dtype=np.float64)
    top = float(np.nanmax(np.abs(a), initial=0.0)) if a.size else 0.0
    if not math.isfinite(top) or top == 0:
        return rounded(a, 0) if np.isfinite(a).all() else rounded(a, 6)
    return rounded(a, SIGNIFICANT - 1 - math.floor(math.log10(top)))


def _provenance(result) -> dict[str, Any]:
    out: dict[str, Any] = {"nmcraman": version(), "bands": ", ".join(result.bands)}
    out.update({k: v for k, v in result.meta.items() if v is not None})
    return out
