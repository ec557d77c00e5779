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

from collections.abc import Callable

import numpy as np

from .. import choice, pooled_choice
from .._engine import pooled as pooled_engine
from .._engine.problem import Geometry
from .._kernels import batch as batch_kernel
from .._kernels.levmar import STATUS_FTOL, STATUS_MAX_ITER
from ..errors import InputError, NmcramanError
from ..joint import _KINDS
from ..results.map import BAND_PARAMS, QC_FLAGS, MapResult
from . import build
from .phase_fit import FALLBACK_ALPHA, PhaseFit, fit_phase, phase_model
from .phases import MAX_PHASES, find_phases, phase_labels, usable_pixels
from .pixels import preset_meta

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
    chosen: np.ndarray | None = None,
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
    chosen : numpy.ndarray of int, optional
        Each pixel's band set, an index into ``firsts`` (`pool_averaged`: every
        candidate keeps the reference's). Default is None: each pixel's lowest BIC,
        each phase the band set most of its pixels chose.
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
    picks = np.array([keys.index(k) if k in keys else 0 for k in first.stats["model"]])
    if chosen is not None:
        picks = np.array(chosen, dtype=int)
    rejected = np.zeros(labels.size, dtype=bool)
    misfit = np.zeros(labels.size, dtype=bool)
    phases = []
    for k in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == k)
        if rows.size < 2:  # nothing to pool with
            labels[rows] = -1
            continue
        key = keys[np.bincount(picks[rows], minlength=len(keys)).argmax()]
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
            picks[rows[~bad]] = keys.index(key)
            rejected[rows[bad]] = True
        phases.append(
            {"phase": int(k), "pixels": int(rows.size), "bands": key,
             "rejected": int(rejected[rows].sum()), "tau": fitted.tau, "n_iter": fitted.n_iter,
             **walk, **fitted.misfit.record()}
        )  # fmt: skip
    merged = _merge(assemble(), keys, picks)
    flags = merged.stats["flags"] | np.where(rejected, _REJECTED, 0) | np.where(misfit, _MISFIT, 0)
    pooled = {"share": share, "phases": phases}
    if through is not None:
        pooled["through"] = through
    return merged.replace(stats={**merged.stats, "flags": flags, "phase": labels},
                          meta={**merged.meta, "pooling": pooled})  # fmt: skip


def pool_averaged(run: Callable, cands: list, record: dict, pooling, *, share: str,
                  max_phases: int, map_shape, coords, names, meta,
                  through: int | None = None, xmin: float | None = None) -> MapResult:  # fmt: skip
    """Pool a map with every candidate setting; average each phase by its evidence.

    The first candidate (`nmcraman.pooled_choice.pooled_settings`: the one
    `nmcraman.pooled_choice.choose_shared` chose) is pooled as `pool_map` pools one setting;
    its phases and each pixel's band set are then kept for every other candidate, so
    that the candidates differ in window and baseline order only. Each phase's
    candidates are scored by the phase's BIC per point (`phase_scores`) and weighted by
    the rule of one spectrum's window and orders (`nmcraman.pooled_choice.pooled_weights`); a
    pixel in no phase weights them by its own first-pass score the same way. Every pixel's
    table is the weighted average, with the spread between candidates in its errors
    (`nmcraman.choice.average_numbers`). Statistics, flags and kept curves are those of
    the candidate of the largest weight over the map (the reference).

    When every candidate of a phase fails its misfit check with structure at the
    window's low end (`nmcraman.misfit.MisfitTest.low_edge`: the rise of an edge filter,
    which no polynomial follows), the first candidate's window is tried again with its
    low end past that structure (`nmcraman.pooled_choice.trimmed_settings`), every
    order, once; the trimmed candidates join the average, where a failed check costs
    the others their weight.

    Parameters
    ----------
    run : callable
        ``run(setting)`` returns the first pass of that candidate (as `pool_map`'s
        ``firsts``) and its spectra (``source``).
    cands : list of nmcraman.choice.Setting
        The candidates, the chosen one first.
    record : dict
        `nmcraman.pooled_choice.choose_shared`'s record; ``meta["auto_choice"]`` becomes its
        `nmcraman.pooled_choice.pooled_record`, and each phase of ``meta["pooling"]`` gains
        its candidates' ``scores`` and ``weights`` and the ``window`` it kept.
    pooling, share, max_phases, map_shape, coords, names, meta, through
        As for `pool_map`.
    xmin : float, optional
        The window's low end the user gave (cm-1): then it is never moved. Default is
        None.
    """
    target = {"map_shape": map_shape, "coords": coords, "names": names, "meta": meta,
              "share": share, "max_phases": max_phases, "through": through}  # fmt: skip
    fits, kept, labels, chosen = _pooled(run, cands, pooling, None, target)
    phase = fits[0][1].stats["phase"]
    ids = np.unique(phase[phase >= 0])
    records = [[p for _, m in fits for p in m.meta["pooling"]["phases"] if p["phase"] == k]
               for k in ids]  # fmt: skip
    more = pooled_choice.trimmed_settings(kept, records, xmin)
    if more:
        extra, extra_kept, _, _ = _pooled(run, more, labels, chosen, target)
        fits, kept = fits + extra, kept + extra_kept
    checks = np.array([[_misfit(m, k) for k in ids] for _, m in fits], dtype=bool)
    flagged, tested = checks[..., 0], checks[..., 1]
    scores, failed = pooled_choice.without_misfits(
        [phase_scores(f, m, phase, ids, chosen, share) for f, m in fits], flagged, tested
    )
    own = np.array([_own_scores(f, m, chosen) for f, m in fits])
    sizes = [np.sum(phase == k) for k in ids]
    by_phase = pooled_choice.pooled_weights(scores, sizes, [c.window for c in kept], "map")
    weights = pooled_choice.pooled_weights(own, 1, [c.window for c in kept], "map")
    for j, k in enumerate(ids):
        weights[:, phase == k] = by_phase[:, j : j + 1]
    tables = np.stack([np.stack([m.params[q] for q in BAND_PARAMS]) for _, m in fits])
    numbers = choice.average_numbers(tables, weights[:, :, None])
    out = fits[int(np.argmax(weights.sum(axis=1)))][1]
    meta = {**out.meta, "baseline": pooled_choice.averaged_baseline([c.name for c in kept]),
            "auto_choice": pooled_choice.pooled_record(record, kept, None, None)}  # fmt: skip
    records = {p["phase"]: p for p in fits[0][1].meta["pooling"]["phases"]}
    phases, flags = [], out.stats["flags"].copy()
    for j, k in enumerate(ids):
        # A phase is flagged only if no candidate passed its misfit check.
        entry = {**records.get(int(k), {"phase": int(k)}), "model_misfit": bool(failed[j])}
        entry["misfit_candidates"] = [c.label for c, f in zip(kept, flagged, strict=True) if f[j]]
        entry["scores"] = pooled_choice.by_label(kept, scores[:, j])
        entry["weights"] = pooled_choice.by_label(kept, by_phase[:, j])
        entry["window"] = kept[int(np.argmax(by_phase[:, j]))].window
        phases.append(entry)
        rows = phase == k
        flags[rows] = flags[rows] | _MISFIT if entry["model_misfit"] else flags[rows] & ~_MISFIT
    meta["pooling"] = {**meta["pooling"], "phases": phases}
    return out.replace(params=dict(zip(BAND_PARAMS, numbers, strict=True)), meta=meta,
                       stats={**out.stats, "flags": flags})  # fmt: skip


def _pooled(run: Callable, cands: list, labels, chosen, target: dict):
    """Pool the map with each candidate; the fits kept, their candidates, labels, band sets.

    ``labels`` and ``chosen`` (None: the first candidate's phases and band sets) are
    kept for every candidate. A candidate the library refuses is left out, unless it
    is the first one pooled.
    """
    fits, kept = [], []
    for c in cands:
        try:
            firsts, source = run(c)
        except NmcramanError:  # e.g. too few points in this window for its order
            if not fits and chosen is None:
                raise
            continue
        m = pool_map(firsts, source, labels, chosen=chosen, **target)
        if chosen is None:
            labels = m.stats["phase"].reshape(target["map_shape"])
            keys = list(firsts)
            chosen = np.array([keys.index(k) if k in keys else 0 for k in m.stats["model"]])
        fits.append((firsts, m))
        kept.append(c)
    return fits, kept, labels, chosen


def _misfit(m: MapResult, phase: int) -> tuple[bool, bool]:
    """Whether ``phase`` of the pooled map ``m`` failed its misfit check; whether tested."""
    found = [p for p in m.meta["pooling"]["phases"] if p["phase"] == phase]
    if not found:
        return False, False
    pvalue = found[0].get("misfit_pvalue")
    return bool(found[0].get("model_misfit")), pvalue is not None and bool(np.isfinite(pvalue))


def phase_scores(firsts: dict, m: MapResult, phase, ids, chosen, share: str) -> np.ndarray:
    """BIC per point of each phase of one candidate (`nmcraman.pooled_choice.pooled_score`).

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
        rss[mine] = (out["info"][:, batch_kernel.INFO_COST] * out["scale"] ** 2)[mine]
        n[mine] = geo.x.size
        df[mine] = np.sum(phase_model(geo, share, 0.5).kind != pooled_engine.FREE)
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
            scores[j] = pooled_choice.pooled_score(rss[rows], n[rows], k_total)
    return scores


def _own_scores(firsts: dict, m: MapResult, chosen) -> np.ndarray:
    """Each pixel's own BIC per point (`nmcraman.choice.score`); inf where not fitted."""
    n = np.array([geo.x.size for geo, _ in firsts.values()])[chosen]
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(m.stats["bic"]), m.stats["bic"] / n, np.inf)


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


def _merge(fits: list[MapResult], keys: list[str], chosen) -> MapResult:
    return fits[0] if len(fits) == 1 else build.choose(fits, keys, chosen=chosen)


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
