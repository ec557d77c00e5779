"""Self-contained HTML page of a map fit: parameter images, QC flags, each pixel's fit.

`MapResult.to_html` calls `map_page`. As the fit pages (`nmcraman.results.html.page`), the page
is one file with its style, scripts (``assets/plot.js`` and ``assets/map.js``, no
dependencies) and data inline and no network allowed. The data are every pixel's band
parameters with their errors and flags, and the pixel statistics, rounded to
`SIGNIFICANT` digits of each parameter's largest value; the script draws the image
chosen (band and quantity, a ratio of two bands' areas, or a pixel statistic) with a
colour bar and axes (µm where the stage coordinates are known), and shows a pixel's
band table (and, on a pooled map, its phase) when it is clicked. Row 0 is at the top,
as in `MapResult.plot`; a pooled map's phases are drawn in the colours of
`MapResult.plot` (`nmcraman.results.palette.PHASE_COLOURS`) with a key instead of a colour
bar. The page opens on `first_image`.

A series of maps (three navigation dimensions, e.g. ``("time", "y", "x")``: steps along
the first, each step a map) gets a slider over the steps, labelled by `step_labels`,
that switches the image, the pixel clicked and its fit to that step; the data hold
every step's pixels, in the map's flat pixel order. The colour bar spans every step (or
the step shown, by a check box) so that a change between steps shows. Below the image,
the trend plot (drawn by ``plot.js``) gives the mean over pixels of the image shown at
each step, with the standard error over pixels (sd / sqrt(n), finite values only) as a
band: the script computes it from the data in the page, so that every image the menus
offer, a ratio of any two bands included, has its trend.

When the map kept its spectra (`MapResult.spectra`), a click also draws the pixel's
fit with the plot of the fit pages: the script computes the baseline from its
coefficients and each band from the band table (as `MapResult.curves` does), and
reads the data from the quantised codes of `nmcraman.results.mapspectra`, stored compactly
(`packed`): each row's codes differenced along the spectrum, split into high and low
bytes, deflated (``zlib``; the browser's ``DecompressionStream`` inflates them) and
base64-encoded. Noise leaves the low bytes incompressible, so the data take about 1.5
bytes a point; a smooth starting baseline (pybaselines) far less.
"""

from __future__ import annotations

import base64
import math
import os
import zlib
from typing import Any

import numpy as np

from ..._kernels.stats import TABLE_ROWS
from ...errors import InputError
from ...qc import MODEL_MISFIT
from ..mapspectra import CODE_MISSING, MapSpectra, Quantised
from ..palette import phase_colour
from ..result import BAND_FLAG_TEXT
from .page import (
    BAND_COLUMNS,
    MISSING,
    escape,
    fill_page,
    key_values,
    rounded,
    version,
    write_text,
)

__all__ = ["first_image", "map_page", "step_labels", "write_map"]

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
#: The band whose area % the page opens on, when every fitted pixel has it (as
#: `MapResult.plot`'s default).
FIRST_BAND = "Mn_A1g"


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

    Raises
    ------
    InputError
        For a map of more than three navigation dimensions: the page draws a map or
        a series of maps along one dimension (`MapResult.select` fixes the others).
    """
    shape = tuple(result.shape)
    if len(shape) > 3:
        fixed = ", ".join(f"{d}=0" for d in result.dims[:-3])
        raise InputError(
            f"the HTML page shows a map or a series of maps along one dimension, not"
            f" {result.dims}: select steps of the others, e.g. m.select({fixed}).to_html(path)."
        )
    src = result.meta.get("source")
    title = title or (os.path.basename(str(src)) if src else "nmcraman map")
    rows, cols = shape[-2:] if len(shape) >= 2 else (1, int(np.prod(shape)))
    first = _first_step(result.coords, rows * cols)
    shown = "fit and bands" if result.spectra is not None else "bands"
    size = f"{rows} x {cols} pixels"
    if len(shape) == 3:
        size = f"{shape[0]} steps along {result.dims[0]} of {size} each"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{escape(size)}, {len(result.bands)} bands'
        f"{escape(_stage_extent(first, rows, cols))}</p>",
        f'<p class="hint">Choose what to show; click a pixel to see its {shown}.</p>',
        '<div class="mapview"><div class="controls"></div>'
        '<div class="mapbox"><div class="axes"><div class="yaxis"></div>'
        '<div class="frame"><canvas class="map"></canvas><div class="marker" hidden></div>'
        '</div><div></div><div class="xaxis"></div></div><div class="colorbar"></div></div>'
        f'<div class="pixel"><p class="hint">{MISSING}</p></div>'
        '<div class="pixelfit" data-index="pixel" hidden></div></div>',
        *(_trend_section(result.dims[0]) if len(shape) == 3 else []),
        '<div class="facts">',
        key_values("Provenance", _provenance(result)),
        "</div>",
    ]
    return fill_page(
        title, "\n".join(body), [], data=map_data(result, rows, cols), script=("plot.js", "map.js")
    )


def write_map(result, path: str | os.PathLike, *, title=None, force: bool = True) -> None:
    """Write `map_page` to ``path``, atomically (see `MapResult.to_html`)."""
    write_text(path, map_page(result, title), force)


def _trend_section(dim: str) -> list[str]:
    """Return the trend plot's place on a series' page (``map.js`` draws it)."""
    return [
        f'<div class="trendbox"><h2>Trend along {escape(dim)}</h2>',
        '<p class="hint">Mean over pixels of the image shown, at each step, with its'
        " standard error (sd / &radic;n over the pixels with a value) as a band.</p>",
        '<div class="trend" data-index="trend"></div></div>',
    ]


def _first_step(coords, n: int):
    """Return the stage coordinates of the first ``n`` pixels (a series' first step)."""
    return None if coords is None else np.asarray(coords)[:n]


def map_data(result, rows: int, cols: int) -> dict[str, Any]:
    """Return the page's JSON: parameters per band (pixel order), statistics, flags."""
    params = {
        k: [_compact(result.params[k][:, b]) for b in range(len(result.bands))] for k in TABLE_ROWS
    }
    n = int(np.prod(result.shape))
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
        "band_summary_flags": result.summary_flags,
        "band_flags": np.asarray(result.band_flags).astype(int).tolist(),
        "band_flag_text": list(BAND_FLAG_TEXT),
        "columns": [list(c) for c in BAND_COLUMNS],
        "axes": image_axes(_first_step(result.coords, rows * cols), rows, cols),
        "first": first_image(result),
    }
    if len(result.shape) == 3:
        out["series"] = _series(result)
    if "phase" in stats:
        out["phase_key"] = _phase_key(numeric["phase"])
    if result.coords is not None:
        out["coords"] = [_compact(np.asarray(result.coords)[:, i]) for i in range(2)]
    if result.names is not None:
        out["names"] = [str(n) for n in result.names]
    if result.spectra is not None:
        out["fits"] = _fits(result.spectra, result.meta.get("shape_name", "lorentzian"))
        if "windows" in result.meta:  # each pixel's own window: draw the fit within it
            out["fits"]["window"] = [_compact(w) for w in result.pixel_windows()]
    return out


def _series(result) -> dict[str, Any]:
    """Return what the slider and the trend plot of a series need (`step_labels`, x)."""
    dim, steps = result.dims[0], result.shape[0]
    x, label = np.arange(steps, dtype=np.float64), f"{dim} (step)"
    along = _coords_along(result)
    for name, values in along.items():
        if values.dtype.kind in "fiu" and np.isfinite(values).all():
            if steps == 1 or (np.diff(values) > 0).all():
                x, label = values.astype(np.float64), name + _unit(result, name, " ({})")
                break
    return {
        "dim": dim,
        "steps": steps,
        "labels": step_labels(result),
        "x": x.tolist(),
        "xlabel": label,
    }


def _coords_along(result) -> dict[str, np.ndarray]:
    """Return the coordinates along a series' steps, the one named as the dimension first."""
    dim = result.dims[0]
    along = {n: np.asarray(v) for n, (d, v) in result.dim_coords.items() if d == (dim,)}
    return dict(sorted(along.items(), key=lambda kv: kv[0] != dim))


def _unit(result, name: str, form: str) -> str:
    """``form`` filled with the unit of coordinate ``name``, when known, else ``""``.

    Only the hours that `nmcraman.io.read_series` takes from the files' metadata have
    a unit the map knows.
    """
    known = name == result.dims[0] and result.meta.get("time_source") == "metadata"
    return form.format("h") if known else ""


def step_labels(result) -> list[str]:
    """Return the label of each step of a series: its dimension and coordinate values.

    ``time 2.5`` for a coordinate named as the dimension (``time 2.5 h`` for the hours
    read from the files' metadata), else ``time 3``, the step's index; other
    coordinates along the steps follow in parentheses: ``time 3 (voltage 3.95)``.
    """
    dim = result.dims[0]
    along = _coords_along(result)
    out = []
    for k in range(result.shape[0]):
        head = f"{dim} {k}"
        rest = []
        for name, values in along.items():
            text = _value_text(values[k])
            if name == dim:
                head = f"{dim} {text}{_unit(result, name, ' {}')}"
            else:
                rest.append(f"{name} {text}")
        out.append(head + (f" ({', '.join(rest)})" if rest else ""))
    return out


def _value_text(v) -> str:
    """Return a coordinate value as the slider shows it: floats to 6 significant digits."""
    return f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v)


def first_image(result) -> dict[str, str]:
    """Return the image the page opens on: the area % of a band every fitted pixel has.

    That is `FIRST_BAND` if it is one of the bands with an area % at the most pixels,
    else the last of those: never a band that some pixels' models leave out (the LO
    band of ``bands="auto"``), which would be grey over them.
    """
    counts = np.isfinite(np.asarray(result.params["area_pct"], dtype=np.float64)).sum(axis=0)
    most = [b for b, c in zip(result.bands, counts, strict=True) if c == counts.max()]
    return {"quantity": "area_pct", "band": FIRST_BAND if FIRST_BAND in most else most[-1]}


def _phase_key(phase: np.ndarray) -> dict[str, Any]:
    """Return the phase labels of a pooled map and the colour (RGB, 0-255) of each."""
    labels = sorted({int(k) for k in phase})
    return {"labels": labels, "colours": [_rgb(phase_colour(k)) for k in labels]}


def _rgb(colour: str) -> list[int]:
    """``#rrggbb`` as three integers."""
    return [int(colour[i : i + 2], 16) for i in (1, 3, 5)]


def _fits(spectra: MapSpectra, shape: str) -> dict[str, Any]:
    """Return what the page needs to draw each pixel's fit (see the module docstring)."""
    out = {
        "x": np.asarray(spectra.x, dtype=np.float64).tolist(),
        "shape": shape,
        "missing": CODE_MISSING,
        "data": packed(spectra.data, 1),
        "baseline_coef": [_compact(c) for c in np.asarray(spectra.baseline_coef).T],
    }
    if spectra.initial is not None:
        # Smooth: its second differences are a code or two.
        out["initial"] = packed(spectra.initial, 2)
    return out


def packed(q: Quantised, order: int) -> dict[str, Any]:
    """Return ``q``'s codes, packed for the page, with their offsets and steps.

    The codes of each row are differenced ``order`` times along the row (modulo 2**16;
    the first code kept, so that ``order`` running sums give them back), split into
    high and low bytes (all high bytes first, so that deflate sees their small range),
    deflated and base64-encoded.
    """
    codes = q.codes.astype(np.int64)
    for _ in range(order):
        codes[:, 1:] = np.diff(codes, axis=1)
    codes %= 1 << 16
    planes = np.concatenate([(codes >> 8).ravel(), (codes & 0xFF).ravel()]).astype(np.uint8)
    return {
        "rows": int(codes.shape[0]),
        "order": order,
        "codes": base64.b64encode(zlib.compress(planes.tobytes(), 6)).decode("ascii"),
        "offset": np.asarray(q.offset, dtype=np.float64).tolist(),
        "step": np.asarray(q.step, dtype=np.float64).tolist(),
    }


def image_axes(coords, rows: int, cols: int) -> dict[str, dict[str, Any]]:
    """Return the image's axes: along the columns (``x``) and down the rows (``y``).

    Each is a label and the values at its first and last pixel's centres: the stage
    coordinate (µm) that moves along that axis when the map has stage coordinates that
    move evenly there, else the column or row index.
    """
    out = {
        "x": {"label": "column", "first": 0, "last": cols - 1, "index": True},
        "y": {"label": "row", "first": 0, "last": rows - 1, "index": True},
    }
    if coords is None:
        return out
    grid = np.asarray(coords, dtype=np.float64).reshape(rows, cols, 2)
    for name, line in (("x", grid[0]), ("y", grid[:, 0])):
        if len(line) < 2 or not np.isfinite(line).all():
            continue
        k = int(np.argmax(np.abs(line[-1] - line[0])))
        v = line[:, k]
        first, last = float(v[0]), float(v[-1])
        even = np.linspace(first, last, len(v))
        tol = 0.01 * abs(last - first) / (len(v) - 1)  # a hundredth of a pixel
        if last != first and np.allclose(v, even, rtol=0, atol=tol):
            out[name] = {"label": f"{'xy'[k]} (µm)", "first": first, "last": last, "index": False}
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
    out.pop("baseline_order", None)  # the baseline's name gives it
    if isinstance(out.get("pooling"), dict):
        out["pooling"] = _pooling_text(out["pooling"])
    return out


def _pooling_text(pooling: dict) -> str:
    """One line per pooled map: what was shared, each phase's pixels, rejections and misfit."""
    phases = pooling.get("phases", [])
    parts = [
        f"phase {p['phase']}: {p['pixels']} pixels ({p['bands']}), {p['rejected']} rejected"
        + (f", {MODEL_MISFIT} (own fits kept)" if p.get("model_misfit") else "")
        for p in phases
    ]
    return f"share={pooling.get('share')}; {len(phases)} phases: " + "; ".join(parts)
