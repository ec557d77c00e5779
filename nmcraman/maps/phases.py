"""Phases of a map: groups of pixels whose spectra have the same band shapes.

A pooled map (`nmcraman.deconvolve_map` with ``pooling="phases"``) fits each phase's
pixels together. The phases come from the data: each usable pixel's first-pass fit is
drawn as its band envelope (the sum of its bands, without baseline, on a coarse grid,
normalised to unit area), the envelopes are reduced by principal components, and
k-means (`scipy.cluster.vq.kmeans2`, fixed seeds) groups them, the number of phases
chosen by the Bayesian information criterion of a spherical Gaussian mixture up to a
maximum.

Why the envelope: it is what one spectrum determines well. The area % of seven
overlapping bands trade against each other from pixel to pixel (several points at
SNR 100), while the envelope they add up to does not; clustering the envelopes groups
pixels by what their spectra look like, free of each pixel's background and brightness.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..lineshapes import gaussian, lorentzian, pseudo_voigt
from ..results.map import QC_FLAGS, MapResult

__all__ = ["EXCLUDED", "MAX_PHASES", "find_phases", "phase_labels", "usable_pixels"]

#: Pixel flags that keep a pixel out of the phases and of pooling: it was not fitted
#: (damaged), or its first-pass fit is not a trustworthy start or feature.
EXCLUDED = ("bad_input", "saturated", "spike", "not_converged", "low_snr", "poor_fit")
#: Default largest number of phases ``pooling="phases"`` looks for.
MAX_PHASES = 6
#: Grid step (cm-1) on which envelopes are compared: a sixth of the narrowest NMC band.
GRID_STEP = 5.0
#: Fewest pixels of a phase: smaller clusters (a few odd pixels) are dissolved into the
#: nearest phase, where the fallback rule judges each of them.
MIN_PHASE = 10
#: Principal components kept: enough for this share of the envelopes' variance ...
VARIANCE_KEPT = 0.99
#: ... and at most this many.
MAX_COMPONENTS = 8
#: k-means runs per number of phases (different seeds); the lowest within-phase sum of
#: squares wins.
KMEANS_RUNS = 4


def usable_pixels(m: MapResult) -> np.ndarray:
    """Pixels free of every `EXCLUDED` flag, shape (pixels,)."""
    bits = sum(1 << QC_FLAGS.index(f) for f in EXCLUDED)
    return (m.stats["flags"] & bits) == 0


def envelopes(m: MapResult, rows: np.ndarray) -> np.ndarray:
    """Band envelope of each pixel in ``rows``, unit area on a `GRID_STEP` grid.

    The first-pass centres, FWHMs and areas drawn with the map's line shape (a
    pseudo-Voigt with eta 0.5: the map keeps no eta, and this is a feature only);
    bands outside a pixel's model count as absent.
    """
    lo, hi = m.meta["window"]
    grid = np.arange(lo, hi, GRID_STEP)
    draw = {"lorentzian": lorentzian, "gaussian": gaussian}.get(m.meta["shape_name"])
    pos, fwhm = (np.nan_to_num(m.params[k][rows], nan=1.0) for k in ("position", "fwhm"))
    area = np.nan_to_num(m.params["area"][rows], nan=0.0)
    out = np.zeros((rows.size, grid.size))
    for k in range(pos.shape[1]):
        args = (grid[None, :], area[:, k : k + 1], pos[:, k : k + 1], fwhm[:, k : k + 1])
        out += draw(*args) if draw else pseudo_voigt(*args, 0.5)
    total = out.sum(axis=1, keepdims=True)
    return out / np.where(total > 0, total, 1.0)


def _scores(features: np.ndarray) -> np.ndarray:
    """Principal-component scores: `VARIANCE_KEPT` of the variance, `MAX_COMPONENTS` at most."""
    centred = features - features.mean(axis=0)
    # Components from the (grid x grid) scatter matrix: small whatever the map's size.
    var, vec = np.linalg.eigh(centred.T @ centred)
    var, vec = var[::-1].clip(min=0.0), vec[:, ::-1]
    kept = np.cumsum(var) / max(float(var.sum()), 1e-300)
    d = min(int(np.searchsorted(kept, VARIANCE_KEPT)) + 1, MAX_COMPONENTS)
    return centred @ vec[:, :d]


def _kmeans(scores: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """Best of `KMEANS_RUNS` k-means++ runs: labels and within-phase sum of squares."""
    from scipy.cluster.vq import kmeans2  # on use: it takes a fifth of `import nmcraman`

    best, best_sse = np.zeros(scores.shape[0], dtype=np.int64), np.inf
    for run in range(KMEANS_RUNS if k > 1 else 1):
        centres, labels = kmeans2(scores, k, minit="++", missing="raise", seed=run)
        sse = float(np.sum((scores - centres[labels]) ** 2))
        if sse < best_sse:
            best, best_sse = labels.astype(np.int64), sse
    return best, best_sse


def _bic(scores: np.ndarray, labels: np.ndarray, sse: float) -> float:
    """BIC of a spherical Gaussian mixture with these hard assignments (lower is better)."""
    n, d = scores.shape
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    k = counts.size
    var = max(sse / (n * d), 1e-300)
    loglik = -0.5 * n * d * (np.log(2 * np.pi * var) + 1.0) + float(
        np.sum(counts * np.log(counts / n))
    )
    return -2.0 * loglik + (k * d + k) * np.log(n)


def find_phases(
    m: MapResult, usable: np.ndarray, max_phases: int = MAX_PHASES, steps=None
) -> np.ndarray:
    """Group the usable pixels of a first-pass map into phases.

    Parameters
    ----------
    m : MapResult
        The map fitted pixel by pixel.
    usable : numpy.ndarray of bool, shape (pixels,)
        Pixels to group (`usable_pixels`); the others get -1.
    max_phases : int, optional
        Most phases tried. Default is `MAX_PHASES`.
    steps : numpy.ndarray of int, shape (pixels,), optional
        The step of each pixel along a dimension the phases are followed through
        (``through=`` of `nmcraman.deconvolve_map`). Each step's mean envelope is then
        taken from its pixels' before they are grouped: phases are told apart by how
        pixels differ at one step, not by a change every pixel goes through alike
        (a band moving in every pixel), which would otherwise split a series into
        phases by time. A change that alters the phases' envelopes differently (every
        band of a two-phase map moving far) still splits them. Default is None.

    Returns
    -------
    numpy.ndarray of int, shape (pixels,)
        Phase of each pixel, 0 the largest; -1 where not usable. Every usable pixel
        belongs to the phase whose centre is nearest, mixed pixels at interfaces
        included.
    """
    if isinstance(max_phases, bool) or not isinstance(max_phases, (int, np.integer)):
        raise InputError(f"max_phases must be a whole number, got {max_phases!r}.")
    if max_phases < 1:
        raise InputError(f"max_phases must be 1 or more, got {max_phases}.")
    rows = np.flatnonzero(usable)
    out = np.full(usable.size, -1, dtype=np.int64)
    if rows.size == 0:
        return out
    from scipy.cluster.vq import ClusterError

    features = envelopes(m, rows)
    if steps is not None:
        at = np.unique(steps[rows], return_inverse=True)[1]
        means = np.zeros((at.max() + 1, features.shape[1]))
        np.add.at(means, at, features)
        features = features - (means / np.bincount(at)[:, None])[at]
    scores = _scores(features)
    best, best_bic = np.zeros(rows.size, dtype=np.int64), np.inf
    for k in range(1, min(int(max_phases), rows.size) + 1):
        try:
            labels, sse = _kmeans(scores, k)
        except ClusterError:  # kmeans2 left a phase empty: no more phases in these data
            break
        bic = _bic(scores, labels, sse)
        if bic < best_bic:
            best, best_bic = labels, bic
    out[rows] = _dissolve_small(scores, best)
    return out


def _dissolve_small(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Move the pixels of phases under `MIN_PHASE` to the nearest other phase's centre.

    Then number the phases by size, 0 the largest.
    """
    counts = np.bincount(labels)
    big = np.flatnonzero(counts >= min(MIN_PHASE, counts.max()))
    centres = np.array([scores[labels == k].mean(axis=0) for k in big])
    small = ~np.isin(labels, big)
    if small.any():
        dist = ((scores[small, None, :] - centres[None]) ** 2).sum(axis=-1)
        labels = labels.copy()
        labels[small] = big[np.argmin(dist, axis=1)]
    order = np.argsort(-np.bincount(labels), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[labels]


def phase_labels(labels, shape: tuple[int, ...]) -> np.ndarray:
    """Check a user's phase labels against the map's shape; return them flat.

    Parameters
    ----------
    labels : array-like of int
        One phase per pixel, the map's shape (rows, cols); negative: not pooled.
    shape : tuple of int

    Returns
    -------
    numpy.ndarray of int64, shape (pixels,)
    """
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iu":
        raise InputError(
            f"pooling labels must be an array of integers (negative: not pooled), got {arr.dtype}."
        )
    if arr.shape not in (tuple(shape), (int(np.prod(shape)),)):
        raise InputError(
            f"pooling labels have shape {arr.shape}; the map has shape {tuple(shape)}."
        )
    return arr.reshape(-1).astype(np.int64)
