"""Many spectra into one `SpectralMap`: stage positions to a grid, and the map they make.

The map readers of every format share these, so that a text map and a ``.wdf`` map
put their pixels in the same order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..spectrum import SpectralMap, Spectrum

#: Positions closer than this fraction of the map's span are one grid line.
GRID_TOL = 1e-4


def grid(coords: np.ndarray) -> tuple[tuple[int, int] | None, np.ndarray | None]:
    """Map shape (distinct Y, distinct X) and row-major pixel order, or (None, None).

    Rows are the distinct Y positions and columns the distinct X positions, both
    ascending, whatever the scan order. Positions within `GRID_TOL` of the span, or
    failing that within a quarter of the largest step (stage jitter), count as one.
    """
    # Exact positions first, then a quarter of the largest step for jittered read-backs.
    # Either way a wrong merge or split leaves cells empty or doubled: never a false grid.
    orders = [np.argsort(values, kind="stable") for values in coords.T]
    steps = [np.diff(values[order]) for values, order in zip(coords.T, orders, strict=True)]
    coarse_tol = 0.25 * max(s.max(initial=0.0) for s in steps)
    for coarse in (False, True):
        levels = []
        for values, order, step in zip(coords.T, orders, steps, strict=True):
            tol = coarse_tol if coarse else GRID_TOL * np.ptp(values)
            levels.append(np.empty(values.size, dtype=np.int64))
            levels[-1][order] = np.concatenate([[0], np.cumsum(step > tol + 1e-12)])
        (ix, iy), cols, rows = levels, levels[0].max() + 1, levels[1].max() + 1
        cell = iy * cols + ix
        if rows * cols == len(coords) and np.unique(cell).size == len(coords):
            return (rows, cols), np.argsort(cell, kind="stable")
    return None, None


def make_map(
    name: str, x: np.ndarray, spectra: np.ndarray, coords: np.ndarray | None, meta: dict[str, Any]
) -> SpectralMap:
    """Make a `SpectralMap`, dropping None values of ``meta``; errors name the file."""
    try:
        return SpectralMap(x, spectra, coords, {k: v for k, v in meta.items() if v is not None})
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from exc


def one_pixel(s: Spectrum) -> SpectralMap:
    """Make a map of one pixel, at the spectrum's stage X, Y if it has them."""
    xy = (s.meta.get("stage_x_um"), s.meta.get("stage_y_um"))
    coords = None if None in xy else np.array([xy], dtype=np.float64)
    return SpectralMap(s.x, s.y[None, :], coords, s.meta)
