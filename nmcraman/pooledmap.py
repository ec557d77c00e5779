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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _batch as B
from . import _pooling as PL
from . import _spread as SP
from . import autofit, mapbuild
from ._levmar import STATUS_FTOL, STATUS_MAX_ITER
from ._problem import MIN_SEPARATION, Geometry, parameter_map
from ._stats import parameter_errors
from .batchfit import preset_meta
from .errors import InputError, NmcramanError
from .joint import _KINDS
from .mapresult import BAND_PARAMS, QC_FLAGS, MapResult
from .phases import MAX_PHASES, find_phases, phase_labels, usable_pixels

__all__ = [
    "FALLBACK_ALPHA",
    "POOLING_SHARES",
    "check_pooling",
    "phase_scores",
    "pool_averaged",
    "pool_map",
    "pooling_options",
]

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
    map_shape,
    coords,
    names,
    meta,
    chosen: np.ndarray | None = None,
) -> MapResult:
    """Pool the first-pass fits of a map by phase.

    Parameters
    ----------
    firsts : dict of str to (Geometry, dict)
        Per band set (a preset name, or ``"custom"``): the geometry and the per-pixel
        arrays of the first pass (`nmcraman.batchfit.first_pass`).
    source : ArraySource or DaskSource
        The spectra: ``source.load(rows, geo)`` returns those pixels' scaled spectra
        and noise (`nmcraman.batchfit.prepare_block`), ``source.run(job, chunks,
        args, geo)`` runs ``job`` on each chunk of pixels, in parallel
        (`nmcraman.batchfit.ArraySource`, `nmcraman.daskmap.DaskSource`).
    pooling : "phases" or array of int
        Find the phases, or the phase of every pixel (negative: not pooled).
    share, max_phases
        As for `nmcraman.deconvolve_map`.
    map_shape, coords, names, meta
        Of the map.
    chosen : numpy.ndarray of int, optional
        Each pixel's band set, an index into ``firsts`` (`pool_averaged`: every
        candidate keeps the reference's). Default is None: each pixel's lowest BIC,
        each phase the band set most of its pixels chose.
    """
    keys = list(firsts)
    target = {"map_shape": map_shape, "coords": coords, "names": names}

    def assemble() -> list[MapResult]:
        return [mapbuild.from_arrays(*firsts[k], meta=preset_meta(meta, k), **target) for k in keys]

    first = _merge(assemble(), keys, None)
    usable = usable_pixels(first)
    if isinstance(pooling, str):
        labels = find_phases(first, usable, max_phases)
    else:
        given = phase_labels(pooling, map_shape)
        labels = np.where(usable & (given >= 0), given, -1)
    choice = np.array([keys.index(k) if k in keys else 0 for k in first.stats["model"]])
    if chosen is not None:
        choice = np.array(chosen, dtype=int)
    rejected = np.zeros(labels.size, dtype=bool)
    phases = []
    for k in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == k)
        if rows.size < 2:  # nothing to pool with
            labels[rows] = -1
            continue
        key = keys[np.bincount(choice[rows], minlength=len(keys)).argmax()]
        geo, out = firsts[key]
        fitted = fit_phase(geo, source, rows, out["theta"][rows], out["info"][rows], share)
        bad = fitted.rejected
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


def pool_averaged(run: Callable, cands: list, record: dict, pooling, *, share: str,
                  max_phases: int, map_shape, coords, names, meta) -> MapResult:  # fmt: skip
    """Pool a map with every candidate setting; average each phase by its evidence.

    The first candidate (`nmcraman.autofit.pooled_settings`: the one
    `nmcraman.autofit.choose_shared` chose) is pooled as `pool_map` pools one setting;
    its phases and each pixel's band set are then kept for every other candidate, so
    that the candidates differ in window and baseline order only. Each phase's
    candidates are scored by the phase's BIC per point (`phase_scores`) and weighted by
    the rule of one spectrum's window and orders (`nmcraman.autofit.pooled_weights`); a
    pixel in no phase weights them by its own first-pass score the same way. Every pixel's
    table is the weighted average, with the spread between candidates in its errors
    (`nmcraman.autofit.average_numbers`). Statistics, flags and kept curves are those of
    the candidate of the largest weight over the map (the reference).

    Parameters
    ----------
    run : callable
        ``run(setting)`` returns the first pass of that candidate (as `pool_map`'s
        ``firsts``) and its spectra (``source``).
    cands : list of nmcraman.autofit.Setting
        The candidates, the chosen one first.
    record : dict
        `nmcraman.autofit.choose_shared`'s record; ``meta["auto_choice"]`` becomes its
        `nmcraman.autofit.pooled_record`, and each phase of ``meta["pooling"]`` gains
        its candidates' ``scores`` and ``weights`` and the ``window`` it kept.
    pooling, share, max_phases, map_shape, coords, names, meta
        As for `pool_map`.
    """
    target = {"map_shape": map_shape, "coords": coords, "names": names, "meta": meta}
    labels, chosen, fits, kept = pooling, None, [], []
    for c in cands:
        try:
            firsts, source = run(c)
        except NmcramanError:  # e.g. too few points in this window for its order
            if not fits:
                raise
            continue
        m = pool_map(firsts, source, labels, share=share, max_phases=max_phases, chosen=chosen,
                     **target)  # fmt: skip
        if not fits:
            labels = m.stats["phase"].reshape(map_shape)
            keys = list(firsts)
            chosen = np.array([keys.index(k) if k in keys else 0 for k in m.stats["model"]])
        fits.append((firsts, m))
        kept.append(c)
    phase = fits[0][1].stats["phase"]
    ids = np.unique(phase[phase >= 0])
    scores = np.array([phase_scores(f, m, phase, ids, chosen, share) for f, m in fits])
    own = np.array([_own_scores(f, m, chosen) for f, m in fits])
    sizes = [np.sum(phase == k) for k in ids]
    by_phase = autofit.pooled_weights(scores, sizes, [c.window for c in kept])
    weights = autofit.pooled_weights(own, 1, [c.window for c in kept])
    for j, k in enumerate(ids):
        weights[:, phase == k] = by_phase[:, j : j + 1]
    tables = np.stack([np.stack([m.params[q] for q in BAND_PARAMS]) for _, m in fits])
    numbers = autofit.average_numbers(tables, weights[:, :, None])
    out = fits[int(np.argmax(weights.sum(axis=1)))][1]
    out.params = dict(zip(BAND_PARAMS, numbers, strict=True))
    out.meta = {**out.meta, "baseline": autofit.averaged_baseline([c.name for c in kept]),
                "auto_choice": autofit.pooled_record(record, kept, None, None)}  # fmt: skip
    records = {p["phase"]: p for p in fits[0][1].meta["pooling"]["phases"]}
    phases = []
    for j, k in enumerate(ids):
        entry = {**records.get(int(k), {"phase": int(k)})}
        entry["scores"] = autofit.by_label(kept, scores[:, j])
        entry["weights"] = autofit.by_label(kept, by_phase[:, j])
        entry["window"] = kept[int(np.argmax(by_phase[:, j]))].window
        phases.append(entry)
    out.meta["pooling"] = {**out.meta["pooling"], "phases": phases}
    return out


def phase_scores(firsts: dict, m: MapResult, phase, ids, chosen, share: str) -> np.ndarray:
    """BIC per point of each phase of one candidate (`nmcraman.autofit.pooled_score`).

    Over the fitted pixels of each phase ``ids`` of ``phase`` (the reference's labels):
    each pixel's residual (``firsts``, as `pool_map` left them) in its band set
    (``chosen``, indices into ``firsts``). Parameters: a pooled pixel's areas,
    baseline and unpooled shape values; all of its own for a pixel fitted alone
    (rejected by the fallback rule, or not pooled with this candidate); the phase's
    pooled values once. inf for a phase none of whose pixels was fitted.
    """
    alone = ((m.stats["flags"] & _REJECTED) != 0) | (m.stats["phase"] < 0)
    rss, n, k_own, k_pooled, df = (np.full(phase.size, np.nan) for _ in range(5))
    for b, (geo, out) in enumerate(firsts.values()):
        mine = chosen == b
        rss[mine] = (out["info"][:, B.INFO_COST] * out["scale"] ** 2)[mine]
        n[mine] = geo.x.size
        df[mine] = np.sum(_model(geo, share, 0.5).kind != PL.FREE)
        k_own[mine] = geo.layout.n_fitted
        k_pooled[mine] = geo.layout.n_fitted - df[mine]
    scores = np.full(len(ids), np.inf)
    for j, k in enumerate(ids):
        rows = np.flatnonzero(phase == k)
        rows = rows[np.isfinite(rss[rows]) & (rss[rows] > 0)]
        if rows.size:
            pooled = ~alone[rows]
            shared = df[rows][pooled].max() if pooled.any() else 0.0
            k_total = np.where(pooled, k_pooled[rows], k_own[rows]).sum() + shared
            scores[j] = autofit.pooled_score(rss[rows], n[rows], k_total)
    return scores


def _own_scores(firsts: dict, m: MapResult, chosen) -> np.ndarray:
    """Each pixel's own BIC per point (`nmcraman.autofit.score`); inf where not fitted."""
    n = np.array([geo.x.size for geo, _ in firsts.values()])[chosen]
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(m.stats["bic"]), m.stats["bic"] / n, np.inf)


def _spread(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Put the rows of ``values`` back at the ``keep`` rows of a NaN array."""
    out = np.full((keep.size, *values.shape[1:]), np.nan)
    out[keep] = values
    return out


def _merge(fits: list[MapResult], keys: list[str], chosen) -> MapResult:
    return fits[0] if len(fits) == 1 else mapbuild.choose(fits, keys, chosen=chosen)


@dataclass(frozen=True)
class PhaseFit:
    """A phase's pooled fit, per pixel (scaled units; NaN for rejected pixels) and overall.

    ``rejected`` marks the pixels the fallback rule gave back their own fit, ``df`` is
    the number of pooled values per pixel (the fallback test's degrees of freedom),
    ``tau`` the spread of partial pooling.
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


def _model(geo: Geometry, share: str, eta0: float) -> PL.Model:
    """Build the pooled model of a phase: `nmcraman.joint`'s parameter kinds for ``share``."""
    lay = geo.layout
    fold, offset = parameter_map(geo.bands, lay.fit_eta)
    kind = PL.slot_kinds(fold, lay.nb, _KINDS[share])
    return PL.Model(
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
        First-pass fit information (`nmcraman._batch.INFO`); its cost, over each
        pixel's noise variance, is the chi-square the fallback rule compares with.
    share : str
        One of `POOLING_SHARES`.
    """
    lay = geo.layout
    model = _model(geo, share, float(np.median(theta_first[:, lay.eta])))
    own = model.reduce(theta_first)
    own_cost = info_first[:, B.INFO_COST]
    mu0 = np.median(own, axis=0)
    v0 = np.where(model.kind == PL.SHARED, mu0, own)
    m = rows.size
    sub = np.unique(np.linspace(0, m - 1, min(m, SUBSAMPLE)).astype(int))
    block = source.load(rows[sub], geo)
    ys, w = block["ys"], _weights(block["sigma"])
    if share == "partial":
        ok = _alike(geo, _group(geo, ys), w, mu0, own_cost[sub] * w, model.eta0)
        sub, ys, w = sub[ok], ys[ok], w[ok]
        first, _, tau = SP.fit_partial([_group(geo, ys)], model, w, mu0, v0[sub], lay.n_linear)
        vec = SP.tau_vector(model, first.mu, *tau)
    else:
        tau, vec = None, np.zeros(model.q)
        first = PL.fit([_group(geo, ys)], model, w, mu0, v0[sub], vec, lay.n_linear)
    v1 = np.where(model.kind == PL.FREE, v0, first.mu)
    chunks = np.array_split(np.arange(m), -(-m // CHUNK))
    df = int(np.sum(model.kind != PL.FREE))
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
    )


def _weights(sigma: np.ndarray) -> np.ndarray:
    """Each pixel's weight in a pooled fit: one over its noise variance (scaled units)."""
    return 1.0 / np.maximum(sigma, 1e-12) ** 2


def _chunk_fit(geo: Geometry, model: PL.Model, block: dict, mu, v, tau, own_cost, limit):
    """Pooled fit of one chunk of a phase, then the fallback rule on its pixels.

    A pixel is rejected when the pooled fit's chi-square exceeds its own fit's
    (``own_cost`` over its noise variance) by more than ``limit``. With a spread of a
    fraction of a wavenumber, a pixel whose bands sit 15 cm-1 away pulls its chunk's
    shared values almost as hard as under exact sharing: a few such pixels among a
    hundred move every other pixel's areas by points. So the chunk is fitted again
    without the rejected pixels, and judged again. Returns per-pixel arrays (NaN for
    rejected pixels), ``rejected``, ``n_iter`` and ``converged``.
    """
    ys, w = block["ys"], _weights(block["sigma"])
    own_chi2 = own_cost * w
    fit, err = _chunk(geo, model, ys, w, mu, v, tau)
    bad = w * fit.costs - own_chi2 > limit
    n_iter = fit.n_iter
    keep = np.ones(bad.size, dtype=bool)
    if bad.any() and (~bad).sum() >= 2:
        keep = ~bad
        fit, err = _chunk(geo, model, ys[keep], w[keep], mu, v[keep], tau)
        n_iter += fit.n_iter
        bad = ~keep
        bad[keep] = w[keep] * fit.costs - own_chi2[keep] > limit
    out = {k: _spread(getattr(fit, k), keep) for k in ("thetas", "coefs", "costs")}
    return {**out, "err": _spread(err, keep), "rejected": bad, "n_iter": n_iter,
            "converged": fit.converged}  # fmt: skip


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
    full = PL.full_covariance(geo.x, geo.basis, fit.thetas, fit.coefs, model, cov.theta, w,
                              redchi)  # fmt: skip
    err = np.full((m, lay.n_errors), np.nan)
    for s in range(m):
        parameter_errors(full[s], fit.coefs[s], lay.nb, lay.fit_eta, err[s])
    return fit, err


def _store(out: dict, rows: np.ndarray, fitted: PhaseFit, keep: np.ndarray, geo: Geometry) -> None:
    """Write the pooled fits of the pixels kept over their first-pass arrays."""
    dof = max(geo.x.size - geo.layout.n_fitted, 1)  # as `nmcraman._batch.fit_batch`
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
