"""The spectra of a map as fitted, kept compactly beside its band tables.

A `MapResult` keeps, per pixel, the data in the fit window and the fitted baseline, so
that a pixel's fit can be drawn (`MapResult.curves`, the map's HTML page) without
fitting again. The bands are not kept: they are computed again from the band table's
position, FWHM and area (and the pseudo-Voigt eta), which is exact.

What is kept, per pixel of ``n`` points:

- the data as 16-bit codes with the pixel's own offset and step (`Quantised`): 2
  bytes a point, a quarter of the float64 cube, and off by at most half a step. The
  step is the pixel's range over 65534, or an eighth of its noise sigma
  (`NOISE_STEPS`) where that is larger: rounding then adds a 768th to the noise
  variance, which no drawing or statistic of a Raman spectrum can show, and the codes
  stop spelling out the noise's own digits, which no compression can shrink (a saved
  map, `nmcraman.results.netcdf`);
- the coefficients of the baseline's joint polynomial (`nmcraman.baseline`: Legendre
  polynomials on the fit window, the linear parameters of the variable-projection fit),
  in data units: a few numbers;
- for a baseline estimated before the fit (a pybaselines method, an array or a
  callable), that fixed starting baseline too, quantised as the data.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

from ..baseline import legendre_basis
from . import savefile

__all__ = ["CODE_MISSING", "NOISE_STEPS", "MapSpectra", "Quantised"]

#: The code of a missing value (NaN or infinite); the others are 0 to ``CODE_MISSING - 1``.
CODE_MISSING = 65535
_TOP = CODE_MISSING - 1
#: Steps per noise sigma, at the coarsest, of the data a map keeps (`Quantised.of`).
NOISE_STEPS = 8


@dataclass(frozen=True, eq=False)
class Quantised:
    """Rows of values as 16-bit codes: value = ``offset + step * code`` (pixels, n).

    Each row's finite values span codes 0 to 65534; a missing value (NaN, infinite)
    has code `CODE_MISSING`. A value read back is within half a ``step`` of the one
    quantised.

    Attributes
    ----------
    codes : numpy.ndarray of uint16, shape (pixels, n)
    offset : numpy.ndarray, shape (pixels,)
        Each row's lowest finite value (0 for a row without one).
    step : numpy.ndarray, shape (pixels,)
        Each row's range over 65534 (0 for a flat row).
    """

    codes: np.ndarray
    offset: np.ndarray
    step: np.ndarray

    @classmethod
    def of(cls, values, noise=None) -> Quantised:
        """Quantise ``values`` (pixels, n), each row on its own range.

        Parameters
        ----------
        values : array-like, shape (pixels, n)
            The rows to quantise.
        noise : array-like, shape (pixels,), optional
            Each row's noise sigma: where finite and positive, the step is at least
            ``noise / NOISE_STEPS``. Default is None (the range over 65534 alone).

        Returns
        -------
        Quantised
        """
        v = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(v)
        lo = np.min(np.where(finite, v, np.inf), axis=1, initial=np.inf)
        hi = np.max(np.where(finite, v, -np.inf), axis=1, initial=-np.inf)
        lo = np.where(np.isfinite(lo), lo, 0.0)
        step = np.where(hi > lo, (hi - lo) / _TOP, 0.0)
        if noise is not None:
            coarse = np.asarray(noise, dtype=np.float64) / NOISE_STEPS
            usable = np.isfinite(coarse) & (coarse > 0) & (hi > lo)
            step = np.where(usable, np.maximum(step, np.where(usable, coarse, 0.0)), step)
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = np.where(step[:, None] > 0, (v - lo[:, None]) / step[:, None], 0.0)
        codes = np.clip(np.rint(np.where(finite, scaled, 0.0)), 0, _TOP).astype(np.uint16)
        codes[~finite] = CODE_MISSING
        return cls(codes, lo, step)

    def values(self, rows=slice(None)) -> np.ndarray:
        """Return the values of ``rows`` (an index, slice or mask of pixels), NaN where missing."""
        codes = self.codes[rows]
        out = self.offset[rows, None] + self.step[rows, None] * codes
        return np.where(codes == CODE_MISSING, np.nan, out)

    @staticmethod
    def concat(parts: list[Quantised]) -> Quantised:
        """Stack the rows of ``parts``."""
        return Quantised(
            *(np.concatenate([getattr(p, k) for p in parts]) for k in ("codes", "offset", "step"))
        )

    def take(self, rows: np.ndarray) -> Quantised:
        """Return the rows ``rows`` (flat pixel indices), in that order."""
        return Quantised(np.asarray(self.codes[rows]), self.offset[rows], self.step[rows])


@dataclass(frozen=True, eq=False)
class MapSpectra:
    """Each pixel's data in the fit window and its fitted baseline (see the module doc).

    Attributes
    ----------
    x : numpy.ndarray, shape (n,)
        Raman shift of the fit window, ascending, cm-1.
    data : Quantised
        The data as fitted (after despiking, when asked), one row per pixel.
    baseline_coef : numpy.ndarray, shape (pixels, order + 1)
        Coefficients of the joint polynomial, data units, on
        `nmcraman.baseline.legendre_basis` of ``x``; NaN for a pixel not fitted; no
        column when no polynomial was fitted.
    initial : Quantised or None
        The fixed starting baseline of each pixel (pybaselines, an array or a
        callable); None when the baseline is the joint polynomial alone.
    """

    x: np.ndarray
    data: Quantised
    baseline_coef: np.ndarray
    initial: Quantised | None = None

    @property
    def n_pixels(self) -> int:
        """Number of pixels."""
        return self.data.codes.shape[0]

    def baseline(self, pixel: int) -> np.ndarray:
        """Return the fitted baseline of ``pixel`` over `x` (data units).

        NaN for a pixel not fitted when a polynomial was fitted (its coefficients are
        NaN); `MapResult.curves` tells the pixels not fitted in every case.
        """
        coef = self.baseline_coef[pixel]
        out = coef @ legendre_basis(self.x, coef.size - 1) if coef.size else np.zeros(self.x.size)
        if self.initial is not None:
            out = out + self.initial.values(pixel)
        return out

    @staticmethod
    def concat(parts: list[MapSpectra]) -> MapSpectra:
        """Join the pixels of ``parts`` (consecutive blocks of one map, same window)."""
        initial = None
        if parts[0].initial is not None:
            initial = Quantised.concat([p.initial for p in parts])
        return MapSpectra(
            parts[0].x,
            Quantised.concat([p.data for p in parts]),
            np.concatenate([p.baseline_coef for p in parts]),
            initial,
        )

    def take(self, rows: np.ndarray) -> MapSpectra:
        """Return the pixels ``rows`` (flat indices), in that order."""
        initial = None if self.initial is None else self.initial.take(rows)
        return MapSpectra(self.x, self.data.take(rows), self.baseline_coef[rows], initial)

    def with_baselines(self, pick: np.ndarray, other: MapSpectra) -> MapSpectra:
        """Return a copy whose ``pick`` pixels take ``other``'s baseline coefficients.

        For `nmcraman.maps.build.choose`: the band sets of ``bands="auto"`` share the data, the
        fit window and the baseline's order, not the fitted baseline.
        """
        coef = self.baseline_coef.copy()
        coef[pick] = other.baseline_coef[pick]
        return MapSpectra(self.x, self.data, coef, self.initial)


def _pack(q: Quantised | None) -> dict | None:
    """Fields of a `Quantised` for a save file: the codes as base64 (little-endian)."""
    if q is None:
        return None
    codes = np.ascontiguousarray(q.codes, dtype="<u2")
    return {
        "shape": tuple(codes.shape),
        "codes": base64.b64encode(codes.tobytes()).decode("ascii"),
        "offset": q.offset,
        "step": q.step,
    }


def _unpack(d: dict | None) -> Quantised | None:
    if d is None:
        return None
    raw = np.frombuffer(base64.b64decode(d["codes"]), dtype="<u2")
    codes = raw.astype(np.uint16).reshape(d["shape"])
    return Quantised(codes, np.asarray(d["offset"]), np.asarray(d["step"]))


def _saved(s: MapSpectra) -> dict:
    """Return what a save file keeps: the codes as base64 text rather than millions of numbers."""
    return {
        "x": s.x,
        "data": _pack(s.data),
        "baseline_coef": s.baseline_coef,
        "initial": _pack(s.initial),
    }


def _loaded(d: dict) -> MapSpectra:
    return MapSpectra(d["x"], _unpack(d["data"]), d["baseline_coef"], _unpack(d["initial"]))


savefile.register("__spectra__", MapSpectra, _saved, _loaded)
