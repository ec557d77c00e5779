"""Pooled maps: the pixels of each phase fitted together, each pixel's own fit kept as a fallback.

The flow (`nmcraman.deconvolve_map` with ``pooling=``): every pixel fitted on its own
(the first pass, `nmcraman.maps`) -> phases found in the first pass
(`nmcraman.phases`) or given as labels -> each phase fitted jointly, band positions
and FWHMs pooled within it (`nmcraman._pooling`, as `nmcraman.deconvolve_joint` does
for a set of spots), areas and baselines per pixel, starting from the median of the
first-pass fits -> a pixel the pooled model fits worse than its noise allows keeps its
first-pass fit and is flagged ``pooling_rejected`` (`FALLBACK_ALPHA`) -> `MapResult`
with the phase of every pixel (``m.image("phase")``).

Pixels with a QC flag of `nmcraman.phases.EXCLUDED` are neither clustered nor pooled:
they keep their first-pass fit and phase -1.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from . import _batch as B
from . import _pooling as PL
from ._levmar import STATUS_FTOL, STATUS_MAX_ITER
from ._problem import MIN_SEPARATION, Geometry, parameter_map
from ._stats import parameter_errors
from .errors import InputError
from .joint import _KINDS
from .mapresult import QC_FLAGS, MapResult
from .phases import MAX_PHASES, find_phases, phase_labels, usable_pixels

__all__ = ["FALLBACK_ALPHA", "POOLING_SHARES", "check_pooling", "pool_map"]

#: ``share=`` of a pooled map: what is pooled between the pixels of a phase (as for
#: `nmcraman.deconvolve_joint`; ``"none"`` there is ``pooling="none"`` here).
POOLING_SHARES = tuple(_KINDS)
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
_REJECTED = 1 << QC_FLAGS.index("pooling_rejected")


def check_pooling(pooling, share: str, max_phases: int) -> None:
    """Refuse a bad ``pooling``, ``share`` or ``max_phases`` before any fitting."""
    if isinstance(pooling, str):
        if pooling not in ("none", "phases"):
            raise InputError(
                f"unknown pooling {pooling!r}; use 'none', 'phases' or an array of phase labels."
            )
    elif np.asarray(pooling).dtype.kind not in "iu":
        raise InputError("pooling labels must be an array of integers (negative: not pooled).")
    if not isinstance(share, str) or share not in POOLING_SHARES:
        raise InputError(
            f"unknown share {share!r} for a pooled map; use one of {', '.join(POOLING_SHARES)}."
        )
    if (
        isinstance(max_phases, bool)
        or not isinstance(max_phases, (int, np.integer))
        or max_phases < 1
    ):
        raise InputError(f"max_phases must be a whole number, 1 or more; got {max_phases!r}.")


def pool_map(
    firsts: dict,
    prepare,
    pooling,
    *,
    share: str = "partial",
    max_phases: int = MAX_PHASES,
    jobs: int = 1,
    map_shape,
    coords,
    names,
    meta,
) -> MapResult:
    """Pool the first-pass fits of a map by phase.

    Parameters
    ----------
    firsts : dict of str to (Geometry, dict)
        Per band set (a preset name, or ``"custom"``): the geometry and the per-pixel
        arrays of the first pass (`nmcraman.maps._fit_arrays`).
    prepare : callable
        ``prepare(rows, geo)`` returns the scaled spectra of those pixels
        (`nmcraman.maps._prepare_block`).
    pooling : "phases" or array of int
        Find the phases, or the phase of every pixel (negative: not pooled).
    share, max_phases
        As for `nmcraman.deconvolve_map`.
    jobs : int, optional
        Threads. Default is 1.
    map_shape, coords, names, meta
        Of the map.
    """
    keys = list(firsts)
    target = {"map_shape": map_shape, "coords": coords, "names": names}

    def assemble() -> list[MapResult]:
        return [MapResult.from_arrays(*firsts[k], meta=_meta(meta, k), **target) for k in keys]

    first = _merge(assemble(), keys, None)
    usable = usable_pixels(first)
    if isinstance(pooling, str):
        labels = find_phases(first, usable, max_phases)
    else:
        given = phase_labels(pooling, map_shape)
        labels = np.where(usable & (given >= 0), given, -1)
    choice = np.array([keys.index(k) if k in keys else 0 for k in first.stats["model"]])
    rejected = np.zeros(labels.size, dtype=bool)
    phases = []
    for k in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == k)
        if rows.size < 2:  # nothing to pool with
            labels[rows] = -1
            continue
        key = keys[np.bincount(choice[rows], minlength=len(keys)).argmax()]
        geo, out = firsts[key]
        fitted, bad = _pool_phase(geo, out, prepare(rows, geo), rows, share, jobs)
        _store(out, rows[~bad], fitted, ~bad, geo)
        choice[rows[~bad]] = keys.index(key)
        rejected[rows[bad]] = True
        phases.append(
            {"phase": int(k), "pixels": int(rows.size), "bands": key, "rejected": int(bad.sum()),
             "tau": fitted.tau, "n_iter": fitted.n_iter}
        )  # fmt: skip
    merged = _merge(assemble(), keys, choice)
    merged.stats["flags"] = merged.stats["flags"] | np.where(rejected, _REJECTED, 0)
    merged.stats["phase"] = labels
    merged.meta["pooling"] = {"share": share, "phases": phases}
    return merged


def _pool_phase(geo: Geometry, out: dict, block: dict, rows, share: str, jobs: int):
    """Fit a phase; refit it without the pixels the fallback rule rejects, if any.

    With a spread of a fraction of a wavenumber, a pixel whose bands sit 15 cm-1 away
    pulls its chunk's shared values almost as hard as under exact sharing: a few such
    pixels among a hundred move every other pixel's areas by points. The refit is
    judged again. Returns the fit (of every pixel of ``rows``; NaN for pixels left
    out of the refit) and the mask of rejected pixels.
    """
    ys, sigma, theta0 = block["ys"], block["sigma"], out["theta"][rows]
    own_chi2 = out["info"][rows, B.INFO_COST] / sigma**2
    fitted = fit_phase(geo, ys, sigma, theta0, own_chi2, share, jobs)
    limit = _chi2_isf(FALLBACK_ALPHA, fitted.df)
    bad = fitted.costs / sigma**2 - own_chi2 > limit
    if bad.any() and (~bad).sum() >= 2:
        keep = ~bad
        again = fit_phase(geo, ys[keep], sigma[keep], theta0[keep], own_chi2[keep], share, jobs)
        fitted = replace(
            again,
            **{k: _spread(getattr(again, k), keep) for k in ("thetas", "coefs", "costs", "err")},
        )
        bad = ~keep
        bad[keep] = again.costs / sigma[keep] ** 2 - own_chi2[keep] > limit
    return fitted, bad


def _spread(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Put the rows of ``values`` back at the ``keep`` rows of a NaN array."""
    out = np.full((keep.size, *values.shape[1:]), np.nan)
    out[keep] = values
    return out


def _meta(meta, key: str) -> dict:
    out = dict(meta or {})
    if key != "custom":
        out["preset"] = key
    return out


def _merge(fits: list[MapResult], keys: list[str], chosen) -> MapResult:
    return fits[0] if len(fits) == 1 else MapResult.choose(fits, keys, chosen=chosen)


@dataclass(frozen=True)
class PhaseFit:
    """A phase's pooled fit, per pixel (scaled units) and overall.

    ``df`` is the number of pooled values per pixel (the fallback test's degrees of
    freedom), ``tau`` the spread of partial pooling.
    """

    thetas: np.ndarray
    coefs: np.ndarray
    costs: np.ndarray
    err: np.ndarray
    n_iter: int
    converged: bool
    df: int
    tau: tuple[float, float] | None


def _model(geo: Geometry, share: str, eta0: float) -> PL.Model:
    """Build the pooled model of a phase: `nmcraman.joint`'s parameter kinds for ``share``."""
    lay = geo.layout
    fold, offset = parameter_map(geo.bands, lay.fit_eta)
    kind = PL.slot_kinds(fold, lay.nb, _KINDS[share])
    return PL.Model(
        lay.nb, geo.shape_code, lay.fit_eta, eta0, kind, fold, offset, np.array(geo.lo),
        np.array(geo.hi), np.array(geo.order), MIN_SEPARATION,
    )  # fmt: skip


def fit_phase(
    geo: Geometry, ys, sigma, theta_first, own_chi2, share: str, jobs: int = 1
) -> PhaseFit:
    """Fit the pixels of one phase jointly, from the median of their first-pass fits.

    The shared values (and, for ``share="partial"``, the spread) are estimated on an
    evenly spread subsample of `SUBSAMPLE` pixels; then every pixel is fitted from
    them, in chunks of about `CHUNK` pixels on ``jobs`` threads, the spread held.
    Each chunk refines the shared values with its own pixels: a few hundred pixels fix
    them far better than the spread between pixels, and chunks keep the cost of a
    phase linear in its pixels (one hard pixel slows only its chunk's steps) and
    parallel. The spread is estimated without the subsample's pixels that a fit with
    shapes shared exactly rejects (`FALLBACK_ALPHA`): one odd pixel among a few dozen
    would otherwise widen it several times (the estimate is a mean of squares).

    Parameters
    ----------
    geo : Geometry
        Fit window, baseline basis, bounds.
    ys : numpy.ndarray, shape (m, n)
        Scaled spectra in the fit window.
    sigma : numpy.ndarray, shape (m,)
        Their noise (scaled units); each pixel is weighted by one over its variance.
    theta_first : numpy.ndarray, shape (m, 2 nb + 1)
        First-pass centres, FWHMs and eta (cm-1).
    own_chi2 : numpy.ndarray, shape (m,)
        First-pass chi-square of each pixel (residual over its noise variance).
    share : str
        One of `POOLING_SHARES`.
    jobs : int, optional
        Threads. Default is 1.
    """
    lay = geo.layout
    model = _model(geo, share, float(np.median(theta_first[:, lay.eta])))
    w = 1.0 / np.maximum(sigma, 1e-12) ** 2
    own = model.reduce(theta_first)
    mu0 = np.median(own, axis=0)
    v0 = np.where(model.kind == PL.SHARED, mu0, own)
    m = ys.shape[0]
    sub = np.unique(np.linspace(0, m - 1, min(m, SUBSAMPLE)).astype(int))
    group = _group(geo, ys[sub])
    if share == "partial":
        sub = sub[_alike(geo, group, w[sub], mu0, own_chi2[sub], model.eta0)]
        group = _group(geo, ys[sub])
        first, _, tau = PL.fit_partial([group], model, w[sub], mu0, v0[sub], lay.n_linear)
        vec = PL.tau_vector(model, first.mu, *tau)
    else:
        tau, vec = None, np.zeros(model.q)
        first = PL.fit([group], model, w[sub], mu0, v0[sub], vec, lay.n_linear)
    v1 = np.where(model.kind == PL.FREE, v0, first.mu)
    chunks = np.array_split(np.arange(m), -(-m // CHUNK))

    def run(rows):
        return _chunk(geo, model, ys[rows], w[rows], first.mu, v1[rows], vec)

    with ThreadPoolExecutor(max(1, min(jobs, len(chunks)))) as pool:
        parts = list(pool.map(run, chunks))
    return PhaseFit(
        thetas=np.concatenate([p[0].thetas for p in parts]),
        coefs=np.concatenate([p[0].coefs for p in parts]),
        costs=np.concatenate([p[0].costs for p in parts]),
        err=np.concatenate([p[1] for p in parts]),
        n_iter=first.n_iter + max(p[0].n_iter for p in parts),
        converged=all(p[0].converged for p in parts),
        df=int(np.sum(model.kind != PL.FREE)),
        tau=tau,
    )


def _alike(geo: Geometry, group: PL.Group, w, mu0, own_chi2, eta0: float) -> np.ndarray:
    """Pixels of ``group`` that the fallback rule accepts under exactly shared shapes.

    All of them if fewer than two would be left.
    """
    model = _model(geo, "shape", eta0)
    zero = np.zeros(model.q)
    fit = PL.fit([group], model, w, mu0, np.tile(mu0, (w.size, 1)), zero, geo.layout.n_linear)
    ok = w * fit.costs - own_chi2 <= _chi2_isf(FALLBACK_ALPHA, model.q)
    return ok if ok.sum() >= 2 else np.ones(w.size, dtype=bool)


def _group(geo: Geometry, ys) -> PL.Group:
    return PL.Group(geo.x, np.ascontiguousarray(ys), np.ascontiguousarray(geo.basis),
                    np.arange(ys.shape[0]))  # fmt: skip


def _chunk(geo: Geometry, model: PL.Model, ys, w, mu, v, tau):
    """Pooled fit of one chunk of a phase from ``mu``; its fit and per-pixel errors.

    Errors come from the joint covariance (`nmcraman._pooling.full_covariance`): the
    uncertainty of the pooled positions and FWHMs is carried into every pixel's areas.
    """
    lay = geo.layout
    group = _group(geo, ys)
    fit = PL.fit([group], model, w, mu, v, tau, lay.n_linear)
    cov = PL.covariance([group], model, w, fit, tau, lay.n_linear)
    m = ys.shape[0]
    n_free = int(np.sum(model.kind == PL.FREE))
    k = int(np.sum(model.kind != PL.FREE)) + m * (n_free + lay.n_linear)
    redchi = (float(w @ fit.costs) + fit.penalty) / max(m * geo.x.size - k, 1)
    err = np.full((m, lay.n_errors), np.nan)
    for s in range(m):
        full = PL.full_covariance(geo.x, geo.basis, fit.thetas[s], fit.coefs[s], model,
                                  cov.theta[s], w[s], redchi)  # fmt: skip
        parameter_errors(full, fit.coefs[s], lay.nb, lay.fit_eta, err[s])
    return fit, err


def _store(out: dict, rows: np.ndarray, fitted: PhaseFit, keep: np.ndarray, geo: Geometry) -> None:
    """Write the pooled fits of the pixels kept over their first-pass arrays."""
    dof = max(geo.x.size - geo.layout.n_params, 1)  # as `nmcraman._batch.fit_batch`
    out["theta"][rows] = fitted.thetas[keep]
    out["coef"][rows] = fitted.coefs[keep]
    out["err"][rows] = fitted.err[keep]
    info = out["info"]
    info[rows, B.INFO_STATUS] = STATUS_FTOL if fitted.converged else STATUS_MAX_ITER
    info[rows, B.INFO_N_ITER] = fitted.n_iter
    info[rows, B.INFO_N_EVAL] = fitted.n_iter
    info[rows, B.INFO_COST] = fitted.costs[keep]
    info[rows, B.INFO_START] = 0
    info[rows, B.INFO_REDCHI] = fitted.costs[keep] / dof


def _chi2_isf(alpha: float, df):
    """Return the chi-square quantile exceeded with probability ``alpha`` (``chi2.isf``).

    From scipy.special: importing scipy.stats would double the time of `import nmcraman`.
    """
    from scipy.special import gammainccinv

    return 2.0 * gammainccinv(np.asarray(df, dtype=np.float64) / 2.0, alpha)
