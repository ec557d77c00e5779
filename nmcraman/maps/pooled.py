"""Pooled maps: the pixels of each phase fitted together, each pixel's own fit kept as a fallback.

The flow (`nmcraman.deconvolve_map` with ``pooling=``): every pixel fitted on its own
(the first pass, `nmcraman.maps`) -> phases found in the first pass
(`nmcraman.maps.phases`) or given as labels -> each phase fitted jointly, band positions
and FWHMs pooled within it (`nmcraman._engine.pooled`, as `nmcraman.deconvolve_joint` does
for a set of spots), areas and baselines per pixel, starting from the median of the
first-pass fits -> a pixel the pooled model fits worse than its noise allows keeps its
first-pass fit and is flagged ``pooling_rejected`` (`FALLBACK_ALPHA`) -> the misfit
check of each phase (`nmcraman.misfit`): a phase whose mean residual keeps structure
keeps every pixel's first-pass fit, flagged ``model_misfit`` -> `MapResult` with the
phase of every pixel (``m.image("phase")``).

Why a phase that fails the misfit check falls back rather than widening its errors:
the check says that the model lacks something, not how far that moves the areas, and a
band the model lacks moves them by points where the pooled errors are tenths; each
pixel's own fit carries its own, larger doubt.

Pixels with a QC flag of `nmcraman.maps.phases.EXCLUDED` are neither clustered nor pooled:
they keep their first-pass fit and phase -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._engine import pooled as pooled_engine
from .._engine import tau as tau_engine
from .._engine.problem import MIN_SEPARATION, Geometry, parameter_map
from .._kernels import batch as batch_kernel
from .._kernels import profiles as profile_kernels
from .._kernels.levmar import STATUS_FTOL, STATUS_MAX_ITER
from .._kernels.stats import parameter_errors
from ..errors import InputError
from ..joint import _KINDS
from ..misfit import MisfitTest, Moments, mean_residual_test, moments
from ..results.map import QC_FLAGS, MapResult
from . import build
from .phases import MAX_PHASES, find_phases, phase_labels, usable_pixels
from .pixels import preset_meta

__all__ = ["FALLBACK_ALPHA", "POOLING_SHARES", "check_pooling", "pool_map", "pooling_options"]

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
_MISFIT = 1 << QC_FLAGS.index("model_misfit")


def pooling_options(pooling, share: str | None, max_phases: int | None) -> tuple[str, int]:
    """Return ``share`` and ``max_phases`` with their defaults, refused where unused.

    Raises
    ------
    InputError
        If ``share`` or ``max_phases`` is given for an unpooled map, or ``max_phases``
        for phases given as an array.
    """
    by_rule = isinstance(pooling, str) and pooling == "phases"
    if isinstance(pooling, str) and pooling == "none":
        given = [n for n, v in (("share", share), ("max_phases", max_phases)) if v is not None]
        if given:
            raise InputError(
                f"{given[0]}= applies to pooled maps only; pass pooling='phases' (or an array"
                f" of phase labels), or drop {given[0]}=."
            )
    elif max_phases is not None and not by_rule:
        raise InputError(
            "max_phases= applies to pooling='phases'; phases given as an array are used as"
            " they are, so drop max_phases=."
        )
    share = "partial" if share is None else share
    return share, MAX_PHASES if max_phases is None else max_phases


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
    source,
    pooling,
    *,
    share: str = "partial",
    max_phases: int = MAX_PHASES,
    through: int | None = None,
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
        arrays of the first pass (`nmcraman.maps.pixels.first_pass`).
    source : ArraySource or DaskSource
        The spectra: ``source.load(rows, geo)`` returns those pixels' scaled spectra
        and noise (`nmcraman.maps.pixels.prepare_block`), ``source.run(job, chunks,
        args, geo)`` runs ``job`` on each chunk of pixels, in parallel
        (`nmcraman.maps.pixels.ArraySource`, `nmcraman.maps.dask_map.DaskSource`).
    pooling : "phases" or array of int
        Find the phases, or the phase of every pixel (negative: not pooled).
    share, max_phases
        As for `nmcraman.deconvolve_map`.
    through : int, optional
        Axis of ``map_shape`` to pool through: each phase is pooled step by step along
        it, the steps linked by a random walk (`nmcraman.maps.pooltime.fit_steps`). Default
        is None: each phase pooled over all its pixels at once.
    map_shape, coords, names, meta
        Of the map.
    """
    keys = list(firsts)
    target = {"map_shape": map_shape, "coords": coords, "names": names}

    def assemble() -> list[MapResult]:
        return [build.from_arrays(*firsts[k], meta=preset_meta(meta, k), **target) for k in keys]

    first = _merge(assemble(), keys, None)
    usable = usable_pixels(first)
    if isinstance(pooling, str):
        steps = None if through is None else _steps(map_shape, through)
        labels = find_phases(first, usable, max_phases, steps)
    else:
        given = phase_labels(pooling, map_shape)
        labels = np.where(usable & (given >= 0), given, -1)
    choice = np.array([keys.index(k) if k in keys else 0 for k in first.stats["model"]])
    rejected = np.zeros(labels.size, dtype=bool)
    misfit = np.zeros(labels.size, dtype=bool)
    phases = []
    for k in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == k)
        if rows.size < 2:  # nothing to pool with
            labels[rows] = -1
            continue
        key = keys[np.bincount(choice[rows], minlength=len(keys)).argmax()]
        geo, out = firsts[key]
        fitted, walk = _fit_pool(geo, source, rows, out, share, through, map_shape)
        if fitted is None:  # no step holds two of its pixels
            labels[rows] = -1
            continue
        bad = fitted.rejected
        if fitted.misfit.misfit:  # the fallback: every pixel keeps its own fit
            misfit[rows] = True
        else:
            _store(out, rows[~bad], fitted, ~bad, geo)
            choice[rows[~bad]] = keys.index(key)
            rejected[rows[bad]] = True
        phases.append(
            {"phase": int(k), "pixels": int(rows.size), "bands": key,
             "rejected": int(rejected[rows].sum()), "tau": fitted.tau, "n_iter": fitted.n_iter,
             **walk, **fitted.misfit.record()}
        )  # fmt: skip
    merged = _merge(assemble(), keys, choice)
    merged.stats["flags"] = (
        merged.stats["flags"] | np.where(rejected, _REJECTED, 0) | np.where(misfit, _MISFIT, 0)
    )
    merged.stats["phase"] = labels
    merged.meta["pooling"] = {"share": share, "phases": phases}
    if through is not None:
        merged.meta["pooling"]["through"] = through
    return merged


def _fit_pool(geo: Geometry, source, rows, out: dict, share: str, through, map_shape):
    """`fit_phase`, or step by step through the axis ``through`` (`nmcraman.maps.pooltime`).

    Returns the fit and what ``meta["pooling"]`` records of the walk (nothing without
    ``through``).
    """
    theta, info = out["theta"][rows], out["info"][rows]
    if through is None:
        return fit_phase(geo, source, rows, theta, info, share), {}
    from .pooltime import fit_steps

    steps = _steps(map_shape, through)[rows]
    return fit_steps(geo, source, rows, steps, map_shape[through], theta, info, share)


def _steps(map_shape, through: int) -> np.ndarray:
    from .pooltime import step_index

    return step_index(map_shape, through)


def _spread(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Put the rows of ``values`` back at the ``keep`` rows of a NaN array."""
    out = np.full((keep.size, *values.shape[1:]), np.nan)
    out[keep] = values
    return out


def _merge(fits: list[MapResult], keys: list[str], chosen) -> MapResult:
    return fits[0] if len(fits) == 1 else build.choose(fits, keys, chosen=chosen)


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


def _model(geo: Geometry, share: str, eta0: float) -> pooled_engine.Model:
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
    squares). Each chunk then applies the fallback rule itself (`_chunk_fit`).

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
    model = _model(geo, share, float(np.median(theta_first[:, lay.eta])))
    own = model.reduce(theta_first)
    own_cost = info_first[:, batch_kernel.INFO_COST]
    mu0 = np.median(own, axis=0)
    v0 = np.where(model.kind == pooled_engine.SHARED, mu0, own)
    m = rows.size
    sub = np.unique(np.linspace(0, m - 1, min(m, SUBSAMPLE)).astype(int))
    block = source.load(rows[sub], geo)
    ys, w = block["ys"], _weights(block["sigma"])
    if share == "partial":
        ok = _alike(geo, _group(geo, ys), w, mu0, own_cost[sub] * w, model.eta0)
        sub, ys, w = sub[ok], ys[ok], w[ok]
        first, _, tau = tau_engine.fit_partial(
            [_group(geo, ys)], model, w, mu0, v0[sub], lay.n_linear
        )
        vec = tau_engine.tau_vector(model, first.mu, *tau)
    else:
        tau, vec = None, np.zeros(model.q)
        first = pooled_engine.fit([_group(geo, ys)], model, w, mu0, v0[sub], vec, lay.n_linear)
    v1 = np.where(model.kind == pooled_engine.FREE, v0, first.mu)
    chunks = np.array_split(np.arange(m), -(-m // CHUNK))
    df = int(np.sum(model.kind != pooled_engine.FREE))
    limit = float(_chi2_isf(FALLBACK_ALPHA, df))

    def job(chunk_block, v, cost):
        return _chunk_fit(geo, model, chunk_block, first.mu, v, vec, cost, limit)

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


def _weights(sigma: np.ndarray) -> np.ndarray:
    """Each pixel's weight in a pooled fit: one over its noise variance (scaled units)."""
    return 1.0 / np.maximum(sigma, 1e-12) ** 2


def _chunk_fit(geo: Geometry, model: pooled_engine.Model, block: dict, mu, v, tau, own_cost,
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
    ys, w = block["ys"], _weights(block["sigma"])
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


def _alike(geo: Geometry, group: pooled_engine.Group, w, mu0, own_chi2, eta0: float) -> np.ndarray:
    """Pixels of ``group`` that the fallback rule accepts under exactly shared shapes.

    All of them if fewer than two would be left.
    """
    model = _model(geo, "shape", eta0)
    zero = np.zeros(model.q)
    fit = pooled_engine.fit(
        [group], model, w, mu0, np.tile(mu0, (w.size, 1)), zero, geo.layout.n_linear
    )
    ok = w * fit.costs - own_chi2 <= _chi2_isf(FALLBACK_ALPHA, model.q)
    return ok if ok.sum() >= 2 else np.ones(w.size, dtype=bool)


def _group(geo: Geometry, ys) -> pooled_engine.Group:
    return pooled_engine.Group(geo.x, np.ascontiguousarray(ys), np.ascontiguousarray(geo.basis),
                    np.arange(ys.shape[0]))  # fmt: skip


def _chunk(geo: Geometry, model: pooled_engine.Model, ys, w, mu, v, tau, prior=None):
    """Pooled fit of one chunk of a phase from ``mu``; its fit and per-pixel errors.

    Errors come from the joint covariance (`nmcraman._engine.pooled.full_covariance`): the
    uncertainty of the pooled positions and FWHMs is carried into every pixel's areas.
    """
    lay = geo.layout
    group = _group(geo, ys)
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


def _store(out: dict, rows: np.ndarray, fitted: PhaseFit, keep: np.ndarray, geo: Geometry) -> None:
    """Write the pooled fits of the pixels kept over their first-pass arrays."""
    dof = max(geo.x.size - geo.layout.n_fitted, 1)  # as `nmcraman._kernels.batch.fit_batch`
    out["theta"][rows] = fitted.thetas[keep]
    out["coef"][rows] = fitted.coefs[keep]
    out["err"][rows] = fitted.err[keep]
    info = out["info"]
    info[rows, batch_kernel.INFO_STATUS] = STATUS_FTOL if fitted.converged else STATUS_MAX_ITER
    info[rows, batch_kernel.INFO_N_ITER] = fitted.n_iter
    info[rows, batch_kernel.INFO_N_EVAL] = fitted.n_iter
    info[rows, batch_kernel.INFO_COST] = fitted.costs[keep]
    info[rows, batch_kernel.INFO_START] = 0
    info[rows, batch_kernel.INFO_REDCHI] = fitted.costs[keep] / dof


def _chi2_isf(alpha: float, df):
    """Return the chi-square quantile exceeded with probability ``alpha`` (``chi2.isf``).

    From scipy.special: importing scipy.stats would double the time of `import nmcraman`.
    """
    from scipy.special import gammainccinv

    return 2.0 * gammainccinv(np.asarray(df, dtype=np.float64) / 2.0, alpha)
