"""Partial pooling: the spread between spectra, estimated by expectation-maximisation.

With ``share="partial"`` (`nmcraman.deconvolve_joint`, pooled maps) each spectrum keeps
its own positions and FWHMs, drawn towards the shared values by a Gaussian penalty of
spread ``tau`` (`nmcraman._engine.pooled`). The spread is estimated from the data as a
hierarchical model's variance component: alternate a pooled fit at the current spread
with the maximum-likelihood update of the spread (`estimate_tau`). That iteration
converges slowly (linearly, at the rate of the fraction of information that the
deviations lack): a small step does not mean the fixed point is near, and stopping
there leaves the spread too wide and the spectra too little pooled. So the rounds go
in cycles of two, whose steps tell how fast the iteration contracts, hence how far the
fixed point still is; the estimate stops when that distance is small, and otherwise
jumps there (Aitken's delta-squared on the log of the spread; Varadhan and Roland,
Scand. J. Stat. 35, 335, 2008, for such extrapolations of EM).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .pooled import POOLED, Covariance, Fit, Model, covariance, fit

#: The spreads (positions in cm-1, FWHMs relative) the estimate starts from, and at
#: most this many expectation-maximisation rounds (`fit_partial`), stopping once both
#: spreads are within `TAU_RTOL` (relative) of the fixed point by the extrapolation's
#: estimate: finer than the spread's own sampling error over a few dozen deviations,
#: and the areas barely move within it.
TAU_START = (2.0, 0.05)
TAU_ROUNDS = 8
TAU_RTOL = 0.1
#: Largest ratio of successive steps an extrapolation trusts: a jump of at most four
#: times the last step.
MAX_RATIO = 0.8

#: Smallest spreads `estimate_tau` returns: positions (cm-1) and relative FWHMs. Below
#: them a POOLED slot is shared for all practical purposes, and the penalty's curvature
#: stays finite.
TAU_FLOOR = (0.05, 0.002)


def estimate_tau(model: Model, res: Fit, cov: Covariance) -> tuple[float, float]:
    """One expectation-maximisation update of the spreads of positions and FWHMs.

    ``tau^2 = mean(d^2 + var(d))`` over spectra and POOLED slots, where ``d = v - mu``
    and ``var(d)`` its posterior variance: the maximum-likelihood (empirical Bayes)
    spread of a Gaussian random effect, pooled over bands: positions in cm-1, FWHMs
    relative to the shared FWHM. NaN for a kind without POOLED slots.
    """
    d = res.v - res.mu
    var = np.where(np.isfinite(cov.dev_var), cov.dev_var, 0.0)
    pooled = model.kind == POOLED
    out = []
    for role, floor in ((0, TAU_FLOOR[0]), (1, TAU_FLOOR[1])):
        sel = pooled & (model.role == role)
        if not sel.any():
            out.append(np.nan)
            continue
        dd, vv = d[:, sel], var[:, sel]
        if role == 1:
            ref = res.mu[sel]
            dd, vv = dd / ref, vv / ref**2
        out.append(max(float(np.sqrt(np.mean(dd**2 + vv))), floor))
    return out[0], out[1]


def tau_vector(model: Model, mu: np.ndarray, tau_pos: float, tau_fwhm: float) -> np.ndarray:
    """Per-slot spreads from the position spread (cm-1) and the relative FWHM spread."""
    tau = np.where(model.role == 0, tau_pos, tau_fwhm * mu)
    return np.where((model.kind == POOLED) & (model.role < 2), tau, 0.0)


def extrapolate(cycle: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Aitken's extrapolation of two EM steps towards their fixed point.

    ``cycle`` holds three log spreads, each after the one before by one EM update.
    With the steps ``s1`` and ``s2`` and their ratio ``r = s2 / s1`` (held in
    ``[0, MAX_RATIO]``; a step that changes direction is not extrapolated), a
    geometric sequence still has ``s2 r / (1 - r)`` to go. Returns that limit and the
    distance left (NaN where the kind has no spread).
    """
    s1, s2 = cycle[1] - cycle[0], cycle[2] - cycle[1]
    with np.errstate(all="ignore"):
        r = np.clip(np.where(s1 != 0, s2 / s1, 0.0), 0.0, MAX_RATIO)
    left = s2 * r / (1.0 - r)
    return cycle[2] + np.nan_to_num(left), np.abs(left)


def fit_partial(groups, model: Model, w, mu0, v0, n_lin: int, tau=None):
    """Partial pooling, its spread ``tau`` given or estimated by expectation-maximisation.

    From `TAU_START`, rounds of `nmcraman._engine.pooled.fit` (each warm-started from the
    last) and `estimate_tau`, in cycles of two: after each cycle the spread jumps to
    the extrapolated fixed point (`extrapolate`), unless both its last step and the
    distance left are below `TAU_RTOL` (relative), which ends the estimate; at most
    `TAU_ROUNDS` rounds.

    Returns
    -------
    Fit, Covariance, (float, float)
        The last round's fit (iterations summed over the rounds), its covariance and
        the spreads: positions (cm-1) and FWHMs (relative).
    """
    given = tau is not None
    spread = np.array(tau if given else TAU_START, dtype=float)
    cycle = [np.log(spread)]
    res, n_iter = None, 0
    for _ in range(1 if given else TAU_ROUNDS):
        vec = tau_vector(model, mu0 if res is None else res.mu, *spread)
        start = (mu0, v0) if res is None else (res.mu, res.v)
        res = fit(groups, model, w, *start, vec, n_lin)
        n_iter += res.n_iter
        cov = covariance(groups, model, w, res, vec, n_lin)
        if given:
            break
        spread = np.array(estimate_tau(model, res, cov))
        cycle.append(np.log(spread))
        if len(cycle) < 3:
            continue
        limit, left = extrapolate(cycle)
        # A kind without pooled slots (NaN) has nothing to converge.
        if not np.any((left > TAU_RTOL) | (np.abs(cycle[2] - cycle[1]) > TAU_RTOL)):
            break
        spread = np.maximum(np.exp(limit), TAU_FLOOR)
        cycle = [np.log(spread)]
    return replace(res, n_iter=n_iter), cov, (float(spread[0]), float(spread[1]))
