"""The misfit check of a pool: a test of the mean residual of its spectra for structure.

A pooled phase of a map (`nmcraman.maps.pooled`) or a joint set (`nmcraman.joint`) is
fitted with one model. Where the model lacks something every spectrum has (a band,
a background shape the baseline cannot follow), each spectrum's residual keeps the
same structure under its noise; averaged over the N spectra, the noise shrinks by
sqrt(N) and the structure stays. This module tests that mean for structure.

The test, step by step:

1. Each spectrum's residual, standardised by its noise sigma, is summed over blocks of
   `BLOCK` cm-1 (half the narrowest NMC band) and divided by the square root of the
   points summed: a block value has unit variance under white noise, and a missing
   band or a bend of the background, a few blocks wide, is kept whole while the
   noise of single points is averaged out (a matched filter for band-wide structure).
2. ``statistic = N |mean|^2 / tr(S)``, where ``mean`` is the mean over spectra of the
   block values and ``S`` their covariance between spectra: the energy of the mean
   residual over the energy its scatter predicts for a mean of N spectra.
3. Under the null (no common structure, spectra independent and Gaussian), this is
   F-distributed with ``h`` and ``(N - 1) h`` degrees of freedom, ``h`` the effective
   number of independent blocks ``tr(S)^2 / tr(S^2)`` (Box's approximation, the
   Greenhouse-Geisser correction of repeated-measures analysis; ``tr(S^2)`` with the
   small-sample correction of Bai and Saranadasa), at most the blocks less the
   parameters each spectrum's fit takes from its residual (``removed``).

Why the cap: each fitted parameter takes (up to) one smooth direction from a residual,
so the blocks cannot hold more independent dimensions than that leaves. From a few
spectra ``tr(S^2)`` is noisy, and an ``h`` too large makes the F tail too thin: on sets
of five spectra the uncapped test fired several times too often at its level; capped,
it fires at or below it.

Why the spectra's own scatter and not the noise they should have: the fit removes
smooth directions from each residual (baseline and band amplitudes), interpolated
axes correlate neighbouring channels, and the noise sigma is an estimate; each of
these changes the variance of a block value by a factor, and the scatter between
spectra carries all of them, so the test needs no model of them. A scale error of
the noise does not grow with N; common structure does.

Why a scatter-scaled F test and not a permutation (sign-flip) test: a joint set of
five spectra has 32 sign patterns, too few for a 1 % level; the F test works from two
spectra on and is deterministic.

The moments are additive (`Moments.__add__`), so that a map fitted in chunks (or
dask tasks) sums its chunks' moments and never holds a phase's residuals at once.
Pure numpy; the F tail from `scipy.special`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BLOCK",
    "EDGE_Z",
    "MISFIT_ALPHA",
    "MisfitTest",
    "Moments",
    "mean_residual_test",
    "moments",
]

#: Width of the blocks (cm-1) the standardised residuals are summed over: half the
#: FWHM of the narrowest NMC band, so that a missing band spans two or more blocks.
BLOCK = 15.0
#: Level of the test below which a pool is flagged ``model_misfit``. Small, because a
#: flag costs the pool its pooled fit (`nmcraman.maps.pooled`, `nmcraman.joint`) and a
#: map tests one pool per phase.
MISFIT_ALPHA = 1e-3
#: A block of the mean residual this many standard errors from zero holds structure
#: (`MisfitTest.low_edge`): far beyond a chance value of one of a few dozen blocks.
EDGE_Z = 4.0


@dataclass(frozen=True)
class Moments:
    """Sums over spectra of their block values (`moments`): additive over chunks.

    ``blocks`` are the block numbers (``floor(x / BLOCK)``), ``n`` the spectra,
    ``total`` the sum of their block values, ``outer`` the sum of outer products.
    """

    blocks: np.ndarray
    n: int
    total: np.ndarray
    outer: np.ndarray

    def __add__(self, other: Moments) -> Moments:
        """Moments of both sets of spectra, over the blocks they share."""
        common, a, b = np.intersect1d(self.blocks, other.blocks, return_indices=True)
        return Moments(
            common,
            self.n + other.n,
            self.total[a] + other.total[b],
            self.outer[np.ix_(a, a)] + other.outer[np.ix_(b, b)],
        )


@dataclass(frozen=True)
class MisfitTest:
    """The result of `mean_residual_test`.

    ``statistic`` is ``N |mean|^2 / tr(S)`` (near 1 without common structure), ``df``
    the F distribution's two degrees of freedom, ``pvalue`` its upper tail at the
    statistic (NaN when fewer than two spectra or no scatter), ``n`` the spectra.
    ``low_edge`` is where structure at the window's low end stops (cm-1): the upper
    end of the run of blocks, from the first, whose mean lies `EDGE_Z` standard errors
    or more from zero (the rise of an edge filter no baseline follows); NaN if the
    first block holds none.
    """

    statistic: float
    df: tuple[float, float]
    pvalue: float
    n: int
    low_edge: float = np.nan

    @property
    def misfit(self) -> bool:
        """Whether the mean residual keeps structure at level `MISFIT_ALPHA`."""
        return bool(self.pvalue < MISFIT_ALPHA)

    def record(self) -> dict:
        """Return the test as plain numbers, for a pooling record or a result's statistics."""
        return {
            "misfit_statistic": float(self.statistic),
            "misfit_df": [float(d) for d in self.df],
            "misfit_pvalue": float(self.pvalue),
            "model_misfit": self.misfit,
            "misfit_low_edge": float(self.low_edge) if np.isfinite(self.low_edge) else None,
        }


def moments(x: np.ndarray, residuals: np.ndarray, sigma: np.ndarray) -> Moments:
    """Block the standardised residuals of spectra on one axis and sum their moments.

    Parameters
    ----------
    x : numpy.ndarray, shape (n,)
        Raman shift of the fit window, cm-1.
    residuals : numpy.ndarray, shape (N, n)
        Data minus fit, one spectrum per row.
    sigma : numpy.ndarray, shape (N,)
        Each spectrum's noise standard deviation, in the units of ``residuals``.

    Returns
    -------
    Moments
    """
    x = np.asarray(x, dtype=np.float64)
    r = np.atleast_2d(np.asarray(residuals, dtype=np.float64))
    z = r / np.asarray(sigma, dtype=np.float64).reshape(-1, 1)
    ids = np.floor(x / BLOCK).astype(np.int64)
    blocks, index, count = np.unique(ids, return_inverse=True, return_counts=True)
    # Block sums over the root of their counts, as one product (np.add.at is 20x slower).
    weights = np.zeros((x.size, blocks.size))
    weights[np.arange(x.size), index] = 1.0 / np.sqrt(count[index])
    values = z @ weights
    return Moments(blocks, z.shape[0], values.sum(axis=0), values.T @ values)


def mean_residual_test(m: Moments, removed: int = 0) -> MisfitTest:
    """Test the mean block residual of a pool for structure (see the module notes).

    Parameters
    ----------
    m : Moments
        The pool's moments (`moments`, summed over its chunks or axes).
    removed : int, optional
        Parameters each spectrum's fit takes from its residual that the pool does not
        share exactly (areas, baseline coefficients, its own or partially pooled
        positions and FWHMs): the effective blocks are at most the blocks less these.
        Default is 0.

    Returns
    -------
    MisfitTest

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman.misfit import mean_residual_test, moments
    >>> rng = np.random.default_rng(0)
    >>> x = np.arange(200.0, 800.0)
    >>> noise = rng.normal(size=(50, x.size))
    >>> bool(mean_residual_test(moments(x, noise, np.ones(50))).misfit)
    False
    >>> band = 0.3 / (1 + ((x - 625) / 20) ** 2)
    >>> bool(mean_residual_test(moments(x, noise + band, np.ones(50))).misfit)
    True
    """
    n, k = m.n, m.blocks.size
    if n < 2 or k == 0:
        return MisfitTest(np.nan, (np.nan, np.nan), np.nan, n)
    mean = m.total / n
    s = (m.outer - n * np.outer(mean, mean)) / (n - 1)
    tr = float(np.trace(s))
    if not tr > 0:
        return MisfitTest(np.nan, (np.nan, np.nan), np.nan, n)
    tr2 = float(np.sum(s * s))  # tr(S^2), S symmetric
    if n > 2:  # Bai and Saranadasa: unbiased for tr(Sigma^2) under Gaussian spectra
        tr2 = (n - 1) ** 2 / ((n - 2) * (n + 1)) * (tr2 - tr**2 / (n - 1))
    top = float(max(k - removed, 1))
    h = float(np.clip(tr**2 / tr2, 1.0, top)) if tr2 > 0 else top
    statistic = n * float(mean @ mean) / tr
    df = (h, (n - 1) * h)
    return MisfitTest(statistic, df, _f_sf(statistic, *df), n, _low_edge(m.blocks, mean, s, n))


def _low_edge(blocks: np.ndarray, mean: np.ndarray, s: np.ndarray, n: int) -> float:
    """Return where the leading run of blocks `EDGE_Z` off zero ends (cm-1); NaN if none."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(mean) / np.sqrt(np.diagonal(s) / n)
    off = np.nan_to_num(z) >= EDGE_Z
    if not off[0]:
        return np.nan
    run = int(np.argmin(off)) if not off.all() else off.size
    return float((blocks[run - 1] + 1) * BLOCK)


def _f_sf(f: float, d1: float, d2: float) -> float:
    """Upper tail of the F distribution (``scipy.stats.f.sf``), from scipy.special.

    Importing scipy.stats would double the time of ``import nmcraman``.
    """
    from scipy.special import betainc

    return float(betainc(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * max(f, 0.0))))
