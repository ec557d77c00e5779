"""Pooling through time: a phase's shared shapes per step, linked by a random walk.

With ``deconvolve_map(..., pooling="phases", through="time")`` the phases are found
over the whole series as usual, but a phase's positions and FWHMs are pooled within
each step of ``through`` (`fit_steps`), not over every step at once (which would draw
every step towards one value and flatten a trend). Neighbouring steps then share
strength: the shared values ``mu_t`` of a phase follow a Gaussian random walk,
``mu_t = mu_(t-1) + e_t`` with ``e_t ~ N(0, diag(q))``, observed at each step by the
pooled fit of that step alone, ``y_t ~ N(mu_t, R_t)`` (the fit's estimate and its
covariance). A Kalman filter and Rauch-Tung-Striebel smoother give the posterior of
every ``mu_t`` (`smooth_walk`), with the step variances ``q`` estimated by
expectation-maximisation of the marginal likelihood (Shumway and Stoffer, J. Time
Ser. Anal. 3, 253, 1982). Each step's pixels are then fitted again with a Gaussian
prior on their shared values: what the walk says about ``mu_t`` from every *other*
step (`leave_one_out`), so that a step's own pixels count once. A walk whose steps
are wide (large ``q``) leaves every step to its own pixels; a flat one pools the
series.

Everything here is numpy on matrices of the shared slots (a dozen or so) over the
steps (a hundred or so): the per-point work is the pooled fits'.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from .._engine import pooled as pooled_engine
from .._engine import tau as tau_engine
from .._kernels import batch as batch_kernel
from ..errors import InputError
from ..misfit import mean_residual_test
from .phase_fit import (
    CHUNK,
    FALLBACK_ALPHA,
    SUBSAMPLE,
    PhaseFit,
    alike,
    chi2_isf,
    chunk_fit,
    noise_weights,
    phase_model,
    pixel_group,
)

__all__ = [
    "Walk",
    "check_through",
    "fit_steps",
    "leave_one_out",
    "smooth_walk",
    "step_index",
]

#: The estimate of the step variances stops when the log-likelihood gains less than
#: this in a round (a cycle of `_estimate`), or after `WALK_ROUNDS` rounds.
WALK_TOL = 1e-3
WALK_ROUNDS = 100
#: Variance given to an observation's component that its fit left undetermined (a band
#: without area): relative to the largest determined variance, it carries no weight.
_UNSEEN = 1e12


@dataclass(frozen=True)
class Walk:
    """A random walk's smoothed states.

    Attributes
    ----------
    mean : numpy.ndarray, shape (T, d)
        Posterior mean of each step's state given every observation.
    cov : numpy.ndarray, shape (T, d, d)
        Its covariance.
    q : numpy.ndarray, shape (d,)
        Variance of a step of the walk, per component.
    loglik : float
        Marginal log-likelihood of the observations (the first one's term left out:
        the walk starts diffuse).
    """

    mean: np.ndarray
    cov: np.ndarray
    q: np.ndarray
    loglik: float


def smooth_walk(y, r, q=None, *, rounds: int = WALK_ROUNDS, tol: float = WALK_TOL) -> Walk:
    """Smooth noisy observations of a Gaussian random walk (Kalman filter, RTS smoother).

    Parameters
    ----------
    y : numpy.ndarray, shape (T, d)
        Observation of each step; a row with a NaN is missing (the step is only
        predicted).
    r : numpy.ndarray, shape (T, d, d)
        Covariance of each observation.
    q : numpy.ndarray, shape (d,), optional
        Step variances. Default is None: estimated by expectation-maximisation of the
        marginal likelihood, from the variance of the observed steps' differences.
    rounds, tol : optional
        Most rounds of that estimate, and the gain of log-likelihood below which it
        stops. Defaults are `WALK_ROUNDS` and `WALK_TOL`.

    Returns
    -------
    Walk

    Notes
    -----
    The walk starts diffuse: the first observed step's prior is flat, so its filtered
    state is its observation. Steps before it are predicted backwards. A component
    whose step variance reaches 0 is the same at every step: its smoothed value is the
    precision-weighted mean of the observations.
    """
    y = np.asarray(y, dtype=float)
    r = np.asarray(r, dtype=float)
    seen = np.flatnonzero(np.all(np.isfinite(y), axis=1))
    if seen.size == 0:
        raise ValueError("a random walk needs at least one observed step")
    if q is not None:
        return _smooth(y, r, np.asarray(q, dtype=float), seen)[0]
    diffs = np.diff(y[seen], axis=0) / np.sqrt(np.diff(seen))[:, None]
    start = np.mean(diffs**2, axis=0) if seen.size > 1 else np.ones(y.shape[1])
    q = np.maximum(start, 1e-12 * np.max(np.diagonal(r[seen], axis1=1, axis2=2), axis=0))
    return _estimate(y, r, np.log(q), seen, rounds, tol)


def _estimate(y, r, log_q, seen, rounds: int, tol: float) -> Walk:
    """Maximise the likelihood over the step variances: EM, accelerated by SQUAREM.

    Each cycle takes two EM updates of ``log q`` and jumps along them (Varadhan and
    Roland, Scand. J. Stat. 35, 335, 2008, their scheme S3), keeping the jump only if
    it raises the likelihood above the second update's; EM alone converges slowly
    where a step variance is small against the observations' noise.
    """

    def em(walk, gains):
        return np.log(np.maximum(_em_variance(walk, gains, seen[0]), 1e-300))

    walk, gains = _smooth(y, r, np.exp(log_q), seen)
    for _ in range(rounds):
        l1 = em(walk, gains)
        w1, g1 = _smooth(y, r, np.exp(l1), seen)
        l2 = em(w1, g1)
        best, best_gains = _smooth(y, r, np.exp(l2), seen)
        step, bend = l1 - log_q, l2 - 2.0 * l1 + log_q
        if np.any(bend):
            alpha = min(-float(np.linalg.norm(step) / np.linalg.norm(bend)), -1.0)
            jump = np.clip(log_q - 2.0 * alpha * step + alpha**2 * bend, -700.0, 700.0)
            tried, tried_gains = _smooth(y, r, np.exp(jump), seen)
            if tried.loglik > best.loglik:
                best, best_gains, l2 = tried, tried_gains, jump
        gain = best.loglik - walk.loglik
        walk, gains, log_q = best, best_gains, l2
        if gain < tol:
            break
    return walk


def _smooth(y, r, q, seen) -> tuple[Walk, np.ndarray]:
    """One Kalman filter and Rauch-Tung-Striebel smoother pass at step variances ``q``.

    Returns the walk and the smoother's gains ``G_t = P_t|t (P_t|t + Q)^-1``.
    """
    t_steps, d = y.shape
    first = seen[0]
    qm = np.diag(q)
    m = np.zeros((t_steps, d))
    p = np.zeros((t_steps, d, d))
    m[first], p[first] = y[first], r[first]
    loglik = 0.0
    for t in range(first + 1, t_steps):
        mp, pp = m[t - 1], p[t - 1] + qm
        if np.all(np.isfinite(y[t])):
            s = pp + r[t]
            innov = y[t] - mp
            sol = np.linalg.solve(s, np.column_stack([innov, pp]))
            m[t] = mp + pp @ sol[:, 0]
            p[t] = pp - pp @ sol[:, 1:]
            p[t] = 0.5 * (p[t] + p[t].T)
            _, logdet = np.linalg.slogdet(s)
            loglik -= 0.5 * (logdet + innov @ sol[:, 0] + d * np.log(2.0 * np.pi))
        else:
            m[t], p[t] = mp, pp
    gains = np.zeros((t_steps, d, d))
    for t in range(t_steps - 2, first - 1, -1):
        gains[t] = np.linalg.solve(p[t] + qm, p[t]).T  # both symmetric
        m[t] = m[t] + gains[t] @ (m[t + 1] - m[t])
        p[t] = p[t] + gains[t] @ (p[t + 1] - (p[t] + qm)) @ gains[t].T
        p[t] = 0.5 * (p[t] + p[t].T)
    for t in range(first - 1, -1, -1):  # before the first observation: backwards
        m[t], p[t] = m[t + 1], p[t + 1] + qm
    return Walk(m, p, q, float(loglik)), gains


def _em_variance(walk: Walk, gains: np.ndarray, first: int) -> np.ndarray:
    """Return the maximisation step: the mean expected squared step of the smoothed walk.

    ``E[(x_t - x_(t-1))^2] = (m_t - m_(t-1))^2 + P_t + P_(t-1) - 2 C_(t,t-1)``, with the
    lag-one covariance ``C_(t,t-1) = P_t G_(t-1)^T``, over the steps from the first
    observed one on.
    """
    m, p = walk.mean, walk.cov
    if m.shape[0] - first < 2:
        return walk.q
    step = m[first + 1 :] - m[first:-1]
    lag = np.einsum("tij,tkj->tik", p[first + 1 :], gains[first:-1])
    var = np.diagonal(p, axis1=1, axis2=2)
    total = step**2 + var[first + 1 :] + var[first:-1] - 2.0 * np.diagonal(lag, axis1=1, axis2=2)
    return total.mean(axis=0)


def leave_one_out(walk: Walk, y, r) -> tuple[np.ndarray, np.ndarray]:
    """Return what the walk says about each step from every other step's observation.

    The smoothed posterior of a step is its own observation times the prediction of the
    others, so the prediction's precision is the posterior's minus the observation's,
    ``B^-1 = P^-1 - R^-1``, and its mean ``B (P^-1 m - R^-1 y)`` (information form;
    negative eigenvalues of rounding are set to 0). An unobserved step's is the
    posterior itself.

    Returns
    -------
    mean : numpy.ndarray, shape (T, d)
    precision : numpy.ndarray, shape (T, d, d)
    """
    t_steps, d = walk.mean.shape
    mean = walk.mean.copy()
    precision = np.empty((t_steps, d, d))
    for t in range(t_steps):
        post = _pinv(walk.cov[t])
        if not np.all(np.isfinite(y[t])):
            precision[t] = post
            continue
        own = _pinv(r[t])
        info = post @ walk.mean[t] - own @ y[t]
        vals, vecs = np.linalg.eigh(0.5 * ((post - own) + (post - own).T))
        vals = np.clip(vals, 0.0, None)
        precision[t] = (vecs * vals) @ vecs.T
        big = vals > 1e-12 * max(vals.max(initial=0.0), 1e-300)
        inv = np.divide(1.0, vals, out=np.zeros_like(vals), where=big)
        mean[t] = (vecs * inv) @ vecs.T @ info if big.any() else walk.mean[t]
    return mean, precision


def _pinv(mat: np.ndarray) -> np.ndarray:
    return np.linalg.pinv(0.5 * (mat + mat.T), hermitian=True)


def check_through(through, pooling, dims: tuple[str, ...] | None = None) -> int | None:
    """Return the axis of ``through`` in ``dims`` (None for None), refusing what it cannot do.

    Without ``dims`` only the pooling is checked (before a file is read).

    Raises
    ------
    InputError
        If ``through`` is given for an unpooled map, is not one of ``dims``, or is a
        map's only dimension (a step would hold one pixel: nothing to pool).
    """
    if through is None:
        return None
    if isinstance(pooling, str) and pooling == "none":
        raise InputError(
            "through= links the pooled shapes of neighbouring steps: pass pooling='phases'"
            " (or an array of phase labels), or drop through=."
        )
    if not isinstance(through, str):
        raise InputError(f"through= names a navigation dimension, e.g. 'time'; got {through!r}.")
    if dims is None:
        return None
    if through not in dims:
        raise InputError(
            f"this map has no dimension {through!r} to pool through; its dims are {dims}."
        )
    if len(dims) < 2:
        raise InputError(
            f"through={through!r} pools each step's pixels: the map needs a dimension"
            " besides it, e.g. dims=('time', 'y', 'x')."
        )
    return dims.index(through)


def step_index(map_shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Return the step along ``axis`` of every pixel, in row-major order, shape (pixels,)."""
    shape = [n if i == axis else 1 for i, n in enumerate(map_shape)]
    return np.broadcast_to(np.arange(map_shape[axis]).reshape(shape), map_shape).ravel()


def fit_steps(geo, source, rows, steps, n_steps: int, theta_first, info_first, share: str):
    """Fit a phase step by step, its shared values linked by a random walk over the steps.

    Each step with two pixels or more is first pooled alone, on an evenly spread
    subsample of up to `nmcraman.maps.phase_fit.SUBSAMPLE` of its pixels (as
    `nmcraman.maps.phase_fit.fit_phase` estimates a phase's shared values and spread):
    its shared values and their covariance are the walk's observation of that step.
    The walk is smoothed (`smooth_walk`) and every pixel fitted again, in chunks per
    step, with its step's spread and the walk's prediction from the other steps as a
    prior on the shared values (`leave_one_out`); the fallback rule as for a phase.

    Parameters
    ----------
    geo, source, rows, theta_first, info_first, share
        As for `nmcraman.maps.phase_fit.fit_phase`.
    steps : numpy.ndarray of int, shape (m,)
        The step of each of ``rows``.
    n_steps : int
        Steps along the dimension (a step without pixels of the phase is predicted).

    Returns
    -------
    PhaseFit or None, dict
        The fit (None if no step has two pixels: nothing to pool), its spread the
        median over the steps; and what to record: the steps pooled and the
        step of the walk (standard deviation, cm-1): the largest of the positions' and
        of the FWHMs'.
    """
    lay = geo.layout
    model = phase_model(geo, share, float(np.median(theta_first[:, lay.eta])))
    own = model.reduce(theta_first)
    own_cost = info_first[:, batch_kernel.INFO_COST]
    members = {int(s): np.flatnonzero(steps == s) for s in np.unique(steps)}
    seen = [s for s, idx in members.items() if idx.size >= 2]
    if not seen:
        return None, {}
    subs = [_spaced(members[s], SUBSAMPLE) for s in seen]
    alone = source.run(
        partial(_step_alone, geo, model, share),
        [rows[i] for i in subs],
        [(own[i], own_cost[i]) for i in subs],
        geo,
    )
    u = np.flatnonzero(model.kind != pooled_engine.FREE)
    y = np.full((n_steps, u.size), np.nan)
    r = np.tile(np.eye(u.size), (n_steps, 1, 1))
    for s, got in zip(seen, alone, strict=True):
        y[s], r[s] = _observation(got["mu"][u], got["cov"][np.ix_(u, u)])
    walk = smooth_walk(y, r)
    mean, precision = leave_one_out(walk, y, r)
    taus = [got["tau"] for got in alone if got["tau"] is not None]
    tau_all = tuple(float(t) for t in np.median(taus, axis=0)) if taus else None
    tau_of = {s: got["tau"] for s, got in zip(seen, alone, strict=True)}
    centre = np.median(own, axis=0)
    limit = float(chi2_isf(FALLBACK_ALPHA, u.size))
    chunks, args = [], []
    for s, idx in members.items():
        mu = centre.copy()
        mu[u] = walk.mean[s]
        prior_mean, prior_prec = np.zeros(model.q), np.zeros((model.q, model.q))
        prior_mean[u], prior_prec[np.ix_(u, u)] = mean[s], precision[s]
        tau = tau_of.get(s) or tau_all
        vec = np.zeros(model.q) if tau is None else tau_engine.tau_vector(model, mu, *tau)
        for c in np.array_split(idx, -(-idx.size // CHUNK)):
            v = np.where(model.kind == pooled_engine.FREE, own[c], mu)
            chunks.append(c)
            args.append((mu, v, vec, own_cost[c], limit, (prior_mean, prior_prec)))
    parts = source.run(partial(chunk_fit, geo, model), [rows[c] for c in chunks], args, geo)
    order = np.concatenate(chunks)
    per_pixel = {}
    for k in ("thetas", "coefs", "costs", "err", "rejected"):
        joined = np.concatenate([p[k] for p in parts])
        per_pixel[k] = np.empty_like(joined)
        per_pixel[k][order] = joined
    fitted = PhaseFit(
        **per_pixel,
        n_iter=max(got["n_iter"] for got in alone) + max(p["n_iter"] for p in parts),
        converged=all(p["converged"] for p in parts),
        df=u.size,
        tau=tau_all,
        misfit=mean_residual_test(
            sum((p["moments"] for p in parts[1:]), parts[0]["moments"]),
            int(np.sum(model.kind != pooled_engine.SHARED)) + geo.layout.n_linear,
        ),
    )
    sd = np.sqrt(walk.q)
    role = model.role[u]
    known = len(seen) > 1  # one observed step says nothing about the walk's steps
    record = {
        "steps_pooled": len(seen),
        "walk_sd": [
            float(np.max(sd[role == k])) if known and np.any(role == k) else None for k in (0, 1)
        ],
    }
    return fitted, record


def _spaced(idx: np.ndarray, most: int) -> np.ndarray:
    """Up to ``most`` of ``idx``, evenly spread."""
    return idx[np.unique(np.linspace(0, idx.size - 1, min(idx.size, most)).astype(int))]


def _step_alone(geo, model: pooled_engine.Model, share: str, block: dict, own, own_cost) -> dict:
    """One step of a phase pooled alone: its shared values, their covariance, its spread.

    As `nmcraman.maps.phase_fit.fit_phase` estimates them on its subsample; the covariance
    is scaled by the fit's reduced chi-square.
    """
    lay = geo.layout
    ys, w = block["ys"], noise_weights(block["sigma"])
    mu0 = np.median(own, axis=0)
    v0 = np.where(model.kind == pooled_engine.SHARED, mu0, own)
    if share == "partial":
        ok = alike(geo, pixel_group(geo, ys), w, mu0, own_cost * w, model.eta0)
        ys, w, v0 = ys[ok], w[ok], v0[ok]
        fit, cov, tau = tau_engine.fit_partial(
            [pixel_group(geo, ys)], model, w, mu0, v0, lay.n_linear
        )
        vec = tau_engine.tau_vector(model, fit.mu, *tau)
    else:
        tau, vec = None, np.zeros(model.q)
        fit = pooled_engine.fit([pixel_group(geo, ys)], model, w, mu0, v0, vec, lay.n_linear)
        cov = pooled_engine.covariance([pixel_group(geo, ys)], model, w, fit, vec, lay.n_linear)
    m = w.size
    n_free = int(np.sum(model.kind == pooled_engine.FREE))
    k = int(np.sum(model.kind != pooled_engine.FREE)) + m * (n_free + lay.n_linear)
    redchi = (float(w @ fit.costs) + fit.penalty) / max(m * geo.x.size - k, 1)
    return {"mu": fit.mu, "cov": cov.mu * redchi, "tau": tau, "n_iter": fit.n_iter}


def _observation(mu: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return a step's observation for the walk, as ``mu`` and its covariance.

    A component its fit left undetermined (NaN covariance) gets a variance so large
    that it carries no weight.
    """
    bad = ~np.isfinite(np.diagonal(cov))
    if not bad.any():
        return mu, 0.5 * (cov + cov.T)
    cov = np.where(bad[:, None] | bad[None, :], 0.0, cov)
    top = float(np.max(np.diagonal(cov), initial=0.0)) or 1.0
    cov[bad, bad] = _UNSEEN * top
    return np.where(np.isfinite(mu), mu, 0.0), 0.5 * (cov + cov.T)
