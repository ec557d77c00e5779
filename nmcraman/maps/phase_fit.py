"""One phase of a pooled map fitted: shared shapes, per-pixel fallback, misfit check.

`fit_phase` estimates a phase's shared values and spread on a subsample of its pixels
(`SUBSAMPLE`), then fits every pixel chunk by chunk (`CHUNK`) with the pooled engine
(`nmcraman._engine.pooled`), the pixels the fallback rule rejects (`FALLBACK_ALPHA`)
given back their own fit, and tests the mean residual of the pixels kept
(`nmcraman.misfit`). `nmcraman.maps.pooled` runs it for every phase of a map, and
`nmcraman.maps.pooltime` step by step through a series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._engine import pooled as pooled_engine
from .._engine import tau as tau_engine
from .._engine.problem import MIN_SEPARATION, Geometry, parameter_map
from .._kernels import batch as batch_kernel
from .._kernels import profiles as profile_kernels
from .._kernels.stats import parameter_errors
from ..joint import _KINDS
from ..misfit import MisfitTest, Moments, mean_residual_test, moments

__all__ = [
    "CHUNK",
    "FALLBACK_ALPHA",
    "SUBSAMPLE",
    "PhaseFit",
    "alike",
    "chi2_isf",
    "chunk_fit",
    "fit_phase",
    "noise_weights",
    "phase_model",
    "pixel_group",
]

#: The fallback rule. A pixel keeps its own fit, flagged ``pooling_rejected``, when the
#: pooled fit's chi-square (residual over its noise variance) exceeds its own fit's by
#: more than the chi-square quantile of this upper tail with as many degrees of freedom
#: as the pooled fit takes from the pixel (its pooled positions and FWHMs): a
#: likelihood-ratio test at a level small enough that, over 10^4 pixels alike their
#: phase, it fires on about 0.01 by chance.
FALLBACK_ALPHA = 1e-6
#: Pixels of a phase from which its shared values and spread are estimated (`fit_phase`):
#: each round of the spread's estimate is a fit of these, and a hundred pixels give
#: 700 deviations per parameter kind to estimate one spread from.
SUBSAMPLE = 100
#: Pixels per chunk of the fit of the whole phase that follows.
CHUNK = 400


@dataclass(frozen=True)
class PhaseFit:
    """A phase's pooled fit, per pixel (scaled units; NaN for rejected pixels) and overall.

    ``rejected`` marks the pixels the fallback rule gave back their own fit, ``df`` is
    the number of pooled values per pixel (the fallback test's degrees of freedom),
    ``tau`` the spread of partial pooling, ``misfit`` the test of the phase's mean
    residual over its pixels kept (`nmcraman.misfit`).
    """

    thetas: np.ndarray
    coefs: np.ndarray
    costs: np.ndarray
    err: np.ndarray
    rejected: np.ndarray
    n_iter: int
    converged: bool
    df: int
    tau: tuple[float, float] | None
    misfit: MisfitTest


def phase_model(geo: Geometry, share: str, eta0: float) -> pooled_engine.Model:
    """Build the pooled model of a phase: `nmcraman.joint`'s parameter kinds for ``share``."""
    lay = geo.layout
    fold, offset = parameter_map(geo.bands, lay.fit_eta)
    kind = pooled_engine.slot_kinds(fold, lay.nb, _KINDS[share])
    return pooled_engine.Model(
        lay.nb, geo.shape_code, lay.fit_eta, eta0, kind, fold, offset, np.array(geo.lo),
        np.array(geo.hi), np.array(geo.order), MIN_SEPARATION,
    )  # fmt: skip


def fit_phase(geo: Geometry, source, rows, theta_first, info_first, share: str) -> PhaseFit:
    """Fit the pixels of one phase jointly, from the median of their first-pass fits.

    The shared values (and, for ``share="partial"``, the spread) are estimated on an
    evenly spread subsample of `SUBSAMPLE` pixels; then every pixel is fitted from
    them, in chunks of about `CHUNK` pixels (``source.run``: threads, or dask tasks),
    the spread held. Each chunk refines the shared values with its own pixels: a few
    hundred pixels fix them far better than the spread between pixels, and chunks keep
    the cost of a phase linear in its pixels (one hard pixel slows only its chunk's
    steps), parallel, and free of any sum over the whole phase, so that a map need
    never be loaded whole. The spread is estimated without the subsample's pixels that
    a fit with shapes shared exactly rejects (`FALLBACK_ALPHA`): one odd pixel among a
    few dozen would otherwise widen it several times (the estimate is a mean of
    squares). Each chunk then applies the fallback rule itself (`chunk_fit`).

    Parameters
    ----------
    geo : Geometry
        Fit window, baseline basis, bounds.
    source : ArraySource or DaskSource
        The map's spectra (`pool_map`).
    rows : numpy.ndarray of int, shape (m,)
        The phase's pixels.
    theta_first : numpy.ndarray, shape (m, 2 nb + 1)
        First-pass centres, FWHMs and eta (cm-1).
    info_first : numpy.ndarray, shape (m, len(INFO))
        First-pass fit information (`nmcraman._kernels.batch.INFO`); its cost, over each
        pixel's noise variance, is the chi-square the fallback rule compares with.
    share : str
        One of `POOLING_SHARES`.
    """
    lay = geo.layout
    model = phase_model(geo, share, float(np.median(theta_first[:, lay.eta])))
    own = model.reduce(theta_first)
    own_cost = info_first[:, batch_kernel.INFO_COST]
    mu0 = np.median(own, axis=0)
    v0 = np.where(model.kind == pooled_engine.SHARED, mu0, own)
    m = rows.size
    sub = np.unique(np.linspace(0, m - 1, min(m, SUBSAMPLE)).astype(int))
    block = source.load(rows[sub], geo)
    ys, w = block["ys"], noise_weights(block["sigma"])
    if share == "partial":
        ok = alike(geo, pixel_group(geo, ys), w, mu0, own_cost[sub] * w, model.eta0)
        sub, ys, w = sub[ok], ys[ok], w[ok]
        first, _, tau = tau_engine.fit_partial(
            [pixel_group(geo, ys)], model, w, mu0, v0[sub], lay.n_linear
        )
        vec = tau_engine.tau_vector(model, first.mu, *tau)
    else:
        tau, vec = None, np.zeros(model.q)
        first = pooled_engine.fit([pixel_group(geo, ys)], model, w, mu0, v0[sub], vec, lay.n_linear)
    v1 = np.where(model.kind == pooled_engine.FREE, v0, first.mu)
    chunks = np.array_split(np.arange(m), -(-m // CHUNK))
    df = int(np.sum(model.kind != pooled_engine.FREE))
    limit = float(chi2_isf(FALLBACK_ALPHA, df))

    def job(chunk_block, v, cost):
        return chunk_fit(geo, model, chunk_block, first.mu, v, vec, cost, limit)

    parts = source.run(job, [rows[c] for c in chunks], [(v1[c], own_cost[c]) for c in chunks], geo)
    per_pixel = ("thetas", "coefs", "costs", "err", "rejected")
    return PhaseFit(
        **{k: np.concatenate([p[k] for p in parts]) for k in per_pixel},
        n_iter=first.n_iter + max(p["n_iter"] for p in parts),
        converged=all(p["converged"] for p in parts),
        df=df,
        tau=tau,
        misfit=mean_residual_test(
            sum((p["moments"] for p in parts[1:]), parts[0]["moments"]),
            int(np.sum(model.kind != pooled_engine.SHARED)) + lay.n_linear,
        ),
    )


def noise_weights(sigma: np.ndarray) -> np.ndarray:
    """Each pixel's weight in a pooled fit: one over its noise variance (scaled units)."""
    return 1.0 / np.maximum(sigma, 1e-12) ** 2


def chunk_fit(geo: Geometry, model: pooled_engine.Model, block: dict, mu, v, tau, own_cost,
              limit, prior=None):  # fmt: skip
    """Pooled fit of one chunk of a phase, then the fallback rule on its pixels.

    A pixel is rejected when the pooled fit's chi-square exceeds its own fit's
    (``own_cost`` over its noise variance) by more than ``limit``. With a spread of a
    fraction of a wavenumber, a pixel whose bands sit 15 cm-1 away pulls its chunk's
    shared values almost as hard as under exact sharing: a few such pixels among a
    hundred move every other pixel's areas by points. So the chunk is fitted again
    without the rejected pixels, and judged again. Returns per-pixel arrays (NaN for
    rejected pixels), ``rejected``, ``n_iter``, ``converged`` and the ``moments`` of
    the residuals of the pixels kept, for the phase's misfit check (`_moments`).
    ``prior``: a Gaussian prior on the shared values (`nmcraman._engine.pooled.fit`), or
    None.
    """
    ys, w = block["ys"], noise_weights(block["sigma"])
    own_chi2 = own_cost * w
    fit, err = _chunk(geo, model, ys, w, mu, v, tau, prior)
    bad = w * fit.costs - own_chi2 > limit
    n_iter = fit.n_iter
    keep = np.ones(bad.size, dtype=bool)
    if bad.any() and (~bad).sum() >= 2:
        keep = ~bad
        fit, err = _chunk(geo, model, ys[keep], w[keep], mu, v[keep], tau, prior)
        n_iter += fit.n_iter
        bad = ~keep
        bad[keep] = w[keep] * fit.costs - own_chi2[keep] > limit
    out = {k: _spread(getattr(fit, k), keep) for k in ("thetas", "coefs", "costs")}
    ok = ~bad[keep]
    found = _moments(geo, ys[keep][ok], block["sigma"][keep][ok], fit.thetas[ok], fit.coefs[ok])
    return {**out, "err": _spread(err, keep), "rejected": bad, "n_iter": n_iter,
            "converged": fit.converged, "moments": found}  # fmt: skip


def _moments(geo: Geometry, ys, sigma, thetas, coefs) -> Moments:
    """Moments of the pooled fit's residuals, each over its pixel's noise (`nmcraman.misfit`)."""
    nb = geo.layout.nb
    bands = np.empty((nb, geo.x.size))
    resid = np.empty_like(ys)
    for s in range(ys.shape[0]):
        base = profile_kernels.model(
            geo.x, geo.basis, thetas[s], coefs[s], nb, geo.shape_code, bands
        )
        resid[s] = ys[s] - base - bands.sum(axis=0)
    return moments(geo.x, resid, sigma)


def alike(geo: Geometry, group: pooled_engine.Group, w, mu0, own_chi2, eta0: float) -> np.ndarray:
    """Pixels of ``group`` that the fallback rule accepts under exactly shared shapes.

    All of them if fewer than two would be left.
    """
    model = phase_model(geo, "shape", eta0)
    zero = np.zeros(model.q)
    fit = pooled_engine.fit(
        [group], model, w, mu0, np.tile(mu0, (w.size, 1)), zero, geo.layout.n_linear
    )
    ok = w * fit.costs - own_chi2 <= chi2_isf(FALLBACK_ALPHA, model.q)
    return ok if ok.sum() >= 2 else np.ones(w.size, dtype=bool)


def pixel_group(geo: Geometry, ys) -> pooled_engine.Group:
    """Return the spectra ``ys`` as one group of `nmcraman._engine.pooled` (fit window's axis)."""
    return pooled_engine.Group(geo.x, np.ascontiguousarray(ys), np.ascontiguousarray(geo.basis),
                    np.arange(ys.shape[0]))  # fmt: skip


def _chunk(geo: Geometry, model: pooled_engine.Model, ys, w, mu, v, tau, prior=None):
    """Pooled fit of one chunk of a phase from ``mu``; its fit and per-pixel errors.

    Errors come from the joint covariance (`nmcraman._engine.pooled.full_covariance`): the
    uncertainty of the pooled positions and FWHMs is carried into every pixel's areas.
    """
    lay = geo.layout
    group = pixel_group(geo, ys)
    fit = pooled_engine.fit([group], model, w, mu, v, tau, lay.n_linear, prior=prior)
    cov = pooled_engine.covariance([group], model, w, fit, tau, lay.n_linear, prior)
    m = ys.shape[0]
    n_free = int(np.sum(model.kind == pooled_engine.FREE))
    k = int(np.sum(model.kind != pooled_engine.FREE)) + m * (n_free + lay.n_linear)
    redchi = (float(w @ fit.costs) + fit.penalty) / max(m * geo.x.size - k, 1)
    full = pooled_engine.full_covariance(geo.x, geo.basis, fit.thetas, fit.coefs, model,
                                         cov.theta, w, redchi)  # fmt: skip
    err = np.full((m, lay.n_errors), np.nan)
    for s in range(m):
        parameter_errors(full[s], fit.coefs[s], lay.nb, lay.fit_eta, err[s])
    return fit, err


def _spread(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Put the rows of ``values`` back at the ``keep`` rows of a NaN array."""
    out = np.full((keep.size, *values.shape[1:]), np.nan)
    out[keep] = values
    return out


def chi2_isf(alpha: float, df):
    """Return the chi-square quantile exceeded with probability ``alpha`` (``chi2.isf``).

    From scipy.special: importing scipy.stats would double the time of `import nmcraman`.
    """
    from scipy.special import gammainccinv

    return 2.0 * gammainccinv(np.asarray(df, dtype=np.float64) / 2.0, alpha)
