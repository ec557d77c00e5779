"""Levenberg-Marquardt over parameters shared by many spectra, and its covariance.

Each nonlinear parameter slot (a band's centre or FWHM, or eta) is one of three kinds:

- ``SHARED``: one value for every spectrum (the entry of ``mu``);
- ``POOLED``: each spectrum has its own value, drawn towards the shared ``mu`` by a
  Gaussian penalty ``((v - mu) / tau)^2`` (partial pooling: a hierarchical model
  whose spread ``tau`` is estimated from the data, see `estimate_tau`);
- ``FREE``: each spectrum has its own value and nothing ties it to the others.

Areas and baselines are always per spectrum and solved by variable projection
(`nmcraman._kernels.sets`). The normal equations have a block-arrow form, one block per
spectrum plus the shared row; the shared step comes from the Schur complement and each
spectrum's step from its own small block, so an iteration costs time linear in the
number of spectra (Bärligea, Hochstaffl and Schreier, Mathematics 11, 2839, 2023, for
variable projection over many data sets; the penalty form of partial pooling follows
Marchal et al., A&A 626, A101, 2019).

Everything here is numpy on small matrices (q <= 15 slots per spectrum); the per-point
work is in the numba kernels of `nmcraman._kernels.sets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .._kernels import sets as set_kernels
from .._kernels.varpro import MAX_STRIDE

SHARED = 0
POOLED = 1
FREE = 2

#: Stop when the step's predicted decrease of the weighted chi-square is below this:
#: the parameters then lie within about 0.03 standard errors of the minimum.
GTOL = 1e-3
#: ... or when the relative decrease of the weighted chi-square falls below this.
FTOL = 1e-10
#: ... or when no centre or FWHM moves more than this (cm-1).
XTOL = 1e-6


@dataclass(frozen=True)
class Group:
    """Spectra on one axis: the unit the kernels work on.

    Attributes
    ----------
    x : numpy.ndarray, shape (n,)
        Fit window, cm-1.
    ys : numpy.ndarray, shape (N, n)
        Scaled intensities.
    basis : numpy.ndarray, shape (p, n)
        Baseline columns.
    index : numpy.ndarray of int, shape (N,)
        Positions of these spectra in the whole set.
    """

    x: np.ndarray
    ys: np.ndarray
    basis: np.ndarray
    index: np.ndarray


@dataclass(frozen=True)
class Model:
    """What the pooled fit needs besides the data: the parameter map and the bounds.

    The kernels read ``theta`` (centres, FWHMs, eta: ``q_full`` fitted slots, eta's
    slot counted only when fitted); the optimiser walks fewer values, one per *free*
    slot: ``theta[:q_full] = fold @ free + offset``. A fixed slot has a zero row of
    ``fold`` and its value in ``offset``; a slot tied to another has a one in that
    other's column. ``kind`` says for each free slot whether it is SHARED, POOLED or
    FREE between spectra. ``lo``/``hi``/``order`` are those of a single fit's geometry.
    """

    nb: int
    shape: int
    fit_eta: bool
    eta0: float
    kind: np.ndarray
    fold: np.ndarray
    offset: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    order: np.ndarray
    min_sep: float

    @classmethod
    def plain(cls, nb, shape, fit_eta, eta0, kind, lo, hi, order, min_sep) -> Model:
        """Every slot free: no fixed or tied parameter."""
        q = kind.size
        return cls(nb, shape, fit_eta, eta0, np.asarray(kind), np.eye(q), np.zeros(q),
                   lo, hi, order, min_sep)  # fmt: skip

    @property
    def q(self) -> int:
        """Free slots per spectrum."""
        return self.kind.size

    @property
    def q_full(self) -> int:
        """Fitted slots of the kernels' ``theta`` (2 nb, + 1 when eta is fitted)."""
        return self.fold.shape[0]

    @cached_property
    def rep(self) -> np.ndarray:
        """For each free slot, the first ``theta`` slot that reads it."""
        return np.argmax(self.fold > 0, axis=0)

    @cached_property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of the free slots: the tightest of the ``theta`` slots that read each."""
        lo = np.where(self.fold > 0, self.lo[: self.q_full, None], -np.inf).max(axis=0)
        hi = np.where(self.fold > 0, self.hi[: self.q_full, None], np.inf).min(axis=0)
        return lo, hi

    @cached_property
    def role(self) -> np.ndarray:
        """What each free slot is: 0 a centre, 1 a FWHM, 2 eta."""
        return np.minimum(self.rep // self.nb, 2)

    def thetas(self, mu: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Each spectrum's kernel ``theta`` (centres, FWHMs, eta) from ``mu`` and ``v``."""
        out = np.empty((v.shape[0], 2 * self.nb + 1))
        free = np.where(self.kind == SHARED, mu, v)
        out[:, : self.q_full] = free @ self.fold.T + self.offset
        if not self.fit_eta:
            out[:, 2 * self.nb] = self.eta0
        return out

    def reduce(self, thetas: np.ndarray) -> np.ndarray:
        """Read the free slots' values back from kernel ``theta`` rows."""
        return thetas[..., self.rep]


@dataclass
class _System:
    """The damped-free normal equations at one point, in block-arrow form."""

    costs: np.ndarray
    coefs: np.ndarray
    auu: np.ndarray
    auv: np.ndarray
    d: np.ndarray
    gu: np.ndarray
    gv: np.ndarray


def _evaluate(groups, model, thetas, n_lin):
    n = thetas.shape[0]
    costs = np.empty(n)
    coefs = np.empty((n, n_lin))
    for grp in groups:
        c = np.empty(grp.index.size)
        k = np.empty((grp.index.size, n_lin))
        set_kernels.evaluate_set(
            grp.x, grp.ys, grp.basis, thetas[grp.index], model.nb, model.shape, c, k
        )
        costs[grp.index] = c
        coefs[grp.index] = k
    return costs, coefs


def _normal(groups, model, thetas, n_lin, stride):
    """Costs, coefficients and each spectrum's normal equations folded onto free slots."""
    n = thetas.shape[0]
    q = model.q_full
    costs = np.empty(n)
    coefs = np.empty((n, n_lin))
    a = np.empty((n, q, q))
    jtr = np.empty((n, q))
    for grp in groups:
        m = grp.index.size
        c, k = np.empty(m), np.empty((m, n_lin))
        ga, gj = np.empty((m, q, q)), np.empty((m, q))
        set_kernels.normal_set(grp.x, grp.ys, grp.basis, thetas[grp.index], model.nb, model.shape,
                     model.fit_eta, stride, c, k, ga, gj)  # fmt: skip
        costs[grp.index], coefs[grp.index] = c, k
        a[grp.index], jtr[grp.index] = ga, gj
    f = model.fold
    return costs, coefs, f.T @ a @ f, jtr @ f


class _Blocks:
    """Index bookkeeping: which slots are unknowns of ``mu`` (u) and of each ``v`` (l)."""

    def __init__(self, kind: np.ndarray, prec: np.ndarray, prior=None):
        self.su = np.flatnonzero(kind == SHARED)
        self.pu = np.flatnonzero(kind == POOLED)
        self.u = np.flatnonzero(kind != FREE)  # order of the u vector: by slot
        self.ll = np.flatnonzero(kind != SHARED)
        self.uix = np.full(kind.size, -1)
        self.uix[self.u] = np.arange(self.u.size)
        self.lix = np.full(kind.size, -1)
        self.lix[self.ll] = np.arange(self.ll.size)
        self.prec_l = prec[self.ll]  # 0 for FREE slots
        self.prec_p = prec[self.pu]
        # A Gaussian prior on the shared values (`fit`'s ``prior``), over the u vector.
        mean, precision = prior if prior is not None else (np.zeros(kind.size), None)
        self.prior_mean = mean[self.u]
        self.prior_prec = (
            np.zeros((self.u.size, self.u.size))
            if precision is None
            else precision[np.ix_(self.u, self.u)]
        )

    def system(self, w, costs, coefs, a, jtr, mu, v) -> _System:
        """Weighted normal equations, penalty included, as blocks."""
        nu, nl, n = self.u.size, self.ll.size, w.size
        wa = a * w[:, None, None]
        wj = jtr * w[:, None]
        auu = np.zeros((nu, nu))
        su = self.uix[self.su]
        auu[np.ix_(su, su)] = wa[:, self.su][:, :, self.su].sum(axis=0)
        pu = self.uix[self.pu]
        auu[pu, pu] += n * self.prec_p
        gu = np.zeros(nu)
        gu[su] = wj[:, self.su].sum(axis=0)
        dev = v[:, self.pu] - mu[self.pu]
        gu[pu] += (self.prec_p * dev).sum(axis=0)
        auu += self.prior_prec
        gu += self.prior_prec @ (self.prior_mean - mu[self.u])
        auv = np.zeros((n, nu, nl))
        auv[:, su, :] = wa[:, self.su][:, :, self.ll]
        pl = self.lix[self.pu]
        auv[:, pu, pl] -= self.prec_p
        d = wa[:, self.ll][:, :, self.ll].copy()
        d[:, np.arange(nl), np.arange(nl)] += self.prec_l
        gv = wj[:, self.ll].copy()
        gv[:, pl] -= self.prec_p * dev
        return _System(costs, coefs, auu, auv, d, gu, gv)

    def penalty(self, mu, v) -> float:
        """Return the pooling penalty and the prior's, in chi-square units."""
        off = mu[self.u] - self.prior_mean
        return float(
            (self.prec_p * (v[:, self.pu] - mu[self.pu]) ** 2).sum() + off @ self.prior_prec @ off
        )


def _damped(mat: np.ndarray, lam: float) -> np.ndarray:
    out = mat.copy()
    diag = np.diagonal(out, axis1=-2, axis2=-1)
    floor = 1e-12 * max(float(np.abs(diag).max(initial=0.0)), 1e-300)
    idx = np.arange(mat.shape[-1])
    out[..., idx, idx] += lam * np.maximum(diag, floor)
    return out


def _solve(sys: _System, lam: float):
    """Damped step (du, dv) from the Schur complement of the spectra's blocks."""
    auu = _damped(sys.auu, lam)
    if sys.d.shape[1] == 0:
        return np.linalg.lstsq(auu, sys.gu, rcond=None)[0], np.zeros((sys.d.shape[0], 0))
    d = _damped(sys.d, lam)
    # One factorisation per spectrum for both right-hand sides.
    both = _solve_blocks(d, np.concatenate([np.transpose(sys.auv, (0, 2, 1)),
                                            sys.gv[:, :, None]], axis=2))  # fmt: skip
    dinv_avu, dinv_gv = both[:, :, :-1], both[:, :, -1]
    if auu.shape[0] == 0:
        return np.zeros(0), dinv_gv
    schur = auu - np.einsum("sul,slv->uv", sys.auv, dinv_avu)
    rhs = sys.gu - np.einsum("sul,sl->u", sys.auv, dinv_gv)
    du = np.linalg.lstsq(schur, rhs, rcond=None)[0]
    dv = dinv_gv - np.einsum("slu,u->sl", dinv_avu, du)
    return du, dv


def _solve_blocks(mat: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve symmetric systems ``mat @ x = rhs`` (stacks (..., k, k) and (..., k, m)).

    A spectrum's own block is singular when one of its bands has no area there (the
    band's FREE slot then moves nothing: a zero row and column, and a zero gradient),
    and the undamped Gauss-Newton step meets such blocks. Those parameters get a zero
    step: their rows and columns are swapped for the identity's, as in `_inverse`, and
    their right-hand sides cleared. A block that is still singular (a rank deficiency
    without a zero diagonal) gets the least-squares step of least norm, so the result
    is always finite.
    """
    keep = _determined(mat)
    both = keep[..., :, None] & keep[..., None, :]
    sub = np.where(both, mat, np.eye(mat.shape[-1]))
    rhs = np.where(keep[..., None], rhs, 0.0)
    try:
        return np.linalg.solve(sub, rhs)
    except np.linalg.LinAlgError:
        flat, flat_rhs = sub.reshape(-1, *sub.shape[-2:]), rhs.reshape(-1, *rhs.shape[-2:])
        out = [np.linalg.lstsq(m, r, rcond=None)[0] for m, r in zip(flat, flat_rhs, strict=True)]
        return np.array(out).reshape(rhs.shape)


def _determined(mat: np.ndarray) -> np.ndarray:
    """Return which parameters of symmetric matrices (..., k, k) have a non-zero diagonal.

    The threshold is the single fit's (`nmcraman._kernels.stats.covariance`), so a band without
    area leaves the same parameters undetermined in a joint fit as in a single one.
    """
    diag = np.diagonal(mat, axis1=-2, axis2=-1)
    top = np.maximum(diag.max(axis=-1, initial=0.0), 1e-300)
    return diag > 1e-24 * top[..., None]


def _predicted(sys: _System, du, dv) -> float:
    """Decrease of the weighted cost the undamped quadratic model predicts for a step."""
    lin = du @ sys.gu + float((dv * sys.gv).sum())
    quad = du @ sys.auu @ du + 2.0 * np.einsum("u,sul,sl->", du, sys.auv, dv)
    quad += np.einsum("sl,slk,sk->", dv, sys.d, dv)
    return 2.0 * lin - quad


@dataclass(frozen=True)
class Fit:
    """Solution of a pooled fit (scaled units)."""

    mu: np.ndarray
    v: np.ndarray
    thetas: np.ndarray
    coefs: np.ndarray
    costs: np.ndarray
    penalty: float
    n_iter: int
    converged: bool


def fit(
    groups, model: Model, w, mu0, v0, tau, n_lin: int, *, max_iter: int = 200, prior=None
) -> Fit:
    """Minimise ``sum_s w_s RSS_s + sum pooled ((v - mu) / tau)^2`` over ``mu`` and ``v``.

    Parameters
    ----------
    groups : list of Group
    model : Model
    w : numpy.ndarray, shape (N,)
        Weight of each spectrum: one over its noise variance (scaled units).
    mu0, v0 : numpy.ndarray, shapes (q,) and (N, q)
        Start; ``v0`` is read for POOLED and FREE slots only.
    tau : numpy.ndarray, shape (q,)
        Spread of POOLED slots (cm-1); ignored elsewhere.
    n_lin : int
        Linear parameters per spectrum (areas and baseline).
    max_iter : int, optional
        Default is 200.
    prior : (numpy.ndarray, numpy.ndarray), optional
        A Gaussian prior on the shared values ``mu``: its mean (q,) and precision
        (q, q) (zero rows for FREE slots), adding ``(mu - mean) @ precision @ (mu -
        mean)`` to the sum (the random walk of `nmcraman.maps.pooltime`). Default is None.
    """
    prec = np.where(model.kind == POOLED, 1.0 / np.square(np.where(tau > 0, tau, 1.0)), 0.0)
    blocks = _Blocks(model.kind, prec, prior)
    mu, v = _project(model, mu0.copy(), v0.copy())
    thetas = model.thetas(mu, v)
    lam, converged, it = 1e-3, False, 0
    stride = _stride(groups, model, thetas, MAX_STRIDE)
    costs, coefs, a, jtr = _normal(groups, model, thetas, n_lin, stride)
    total = float(w @ costs) + blocks.penalty(mu, v)
    while it < max_iter and not converged:
        sys, gauss_newton = _active(
            model, blocks, blocks.system(w, costs, coefs, a, jtr, mu, v), mu, v
        )
        # The undamped Gauss-Newton step predicts how much is left to gain.
        if _predicted(sys, *gauss_newton) < GTOL:
            converged = True
            break
        while True:
            it += 1
            du, dv = _solve(sys, lam)
            t_mu, t_v = mu.copy(), v.copy()
            t_mu[blocks.u] += du
            t_v[:, blocks.ll] += dv
            t_mu, t_v = _project(model, t_mu, t_v)
            step = max(np.abs(t_mu - mu).max(initial=0.0), np.abs(t_v - v).max(initial=0.0))
            if step < XTOL:
                converged = True
                break
            pred = _predicted(
                sys, t_mu[blocks.u] - mu[blocks.u], t_v[:, blocks.ll] - v[:, blocks.ll]
            )
            t_thetas = model.thetas(t_mu, t_v)
            t_costs, _ = _evaluate(groups, model, t_thetas, n_lin)
            t_total = float(w @ t_costs) + blocks.penalty(t_mu, t_v)
            if t_total < total:
                rho = (total - t_total) / pred if pred > 0 else 0.0
                lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                converged = total - t_total <= FTOL * total
                mu, v, thetas, total = t_mu, t_v, t_thetas, t_total
                stride = _stride(groups, model, thetas, stride)
                costs, coefs, a, jtr = _normal(groups, model, thetas, n_lin, stride)
                break
            lam *= 4.0
            if lam > 1e16 or it >= max_iter:
                converged = lam > 1e16
                break
    costs, coefs = _evaluate(groups, model, thetas, n_lin)
    return Fit(mu, v, thetas, coefs, costs, blocks.penalty(mu, v), it, converged)


def _stride(groups, model: Model, thetas, previous: int) -> int:
    """Choose the sampling stride of the Gauss-Newton matrices (as `hessian_stride`).

    One sample per quarter of the narrowest FWHM of any spectrum; like the single fit,
    it only ever shrinks, so the path does not flip at an integer boundary.
    """
    dx = max(float(np.diff(g.x).max()) for g in groups)
    narrowest = float(thetas[:, model.nb : 2 * model.nb].min())
    return max(1, min(previous, int(narrowest / (4.0 * dx))))


def _active(model: Model, blocks: _Blocks, sys: _System, mu, v):
    """Hold values that sit on a bound and whose Gauss-Newton step points outwards.

    Their rows and columns are cleared (a unit diagonal, no gradient), so the other
    values still get a full step instead of one cut short by the projection. Returns
    the system and its undamped (Gauss-Newton) step.
    """
    lo, hi = model.bounds
    du, dv = _solve(sys, 0.0)
    mu_u, lo_u, hi_u = mu[blocks.u], lo[blocks.u], hi[blocks.u]
    fu = ((mu_u <= lo_u) & (du < 0)) | ((mu_u >= hi_u) & (du > 0))
    v_l, lo_l, hi_l = v[:, blocks.ll], lo[blocks.ll], hi[blocks.ll]
    fv = ((v_l <= lo_l) & (dv < 0)) | ((v_l >= hi_l) & (dv > 0))
    if not (fu.any() or fv.any()):
        return sys, (du, dv)
    auu, gu = sys.auu.copy(), sys.gu.copy()
    auu[fu, :] = 0.0
    auu[:, fu] = 0.0
    auu[fu, fu] = 1.0
    gu[fu] = 0.0
    auv = sys.auv.copy()
    auv[:, fu, :] = 0.0
    auv *= ~fv[:, None, :]
    d = sys.d * ~fv[:, :, None] * ~fv[:, None, :]
    idx = np.nonzero(fv)
    d[idx[0], idx[1], idx[1]] = 1.0
    gv = np.where(fv, 0.0, sys.gv)
    held = _System(sys.costs, sys.coefs, auu, auv, d, gu, gv)
    return held, _solve(held, 0.0)


def _project(model: Model, mu: np.ndarray, v: np.ndarray):
    """Bounds and band order for ``mu`` and for each spectrum's own values."""
    lo, hi = model.bounds
    full = model.thetas(mu, mu[None, :])
    set_kernels.project_set(full, model.lo, model.hi, model.order, model.nb, model.min_sep)
    mu = np.clip(model.reduce(full[0]), lo, hi)
    local = model.kind != SHARED
    if local.any():
        th = model.thetas(mu, v)
        set_kernels.project_set(th, model.lo, model.hi, model.order, model.nb, model.min_sep)
        v = np.where(local, np.clip(model.reduce(th), lo, hi), np.clip(v, lo, hi))
    return mu, v


def _inverse(mat: np.ndarray) -> np.ndarray:
    """Invert symmetric matrices (..., k, k), with NaN where a parameter is not determined.

    A zero diagonal marks such a parameter: a band without area does not move the model.
    Its row and column are replaced by the identity's for the inversion (which leaves
    the inverse of the others' block as it is) and set to NaN afterwards.
    """
    keep = _determined(mat)
    both = keep[..., :, None] & keep[..., None, :]
    sub = np.where(both, mat, np.eye(mat.shape[-1]))
    try:
        inv = np.linalg.inv(sub)
    except np.linalg.LinAlgError:
        flat = sub.reshape(-1, *sub.shape[-2:])
        inv = np.array([_inverse_one(m) for m in flat]).reshape(sub.shape)
    return np.where(both, inv, np.nan)


def _inverse_one(mat: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(mat)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(mat, hermitian=True)


@dataclass(frozen=True)
class Covariance:
    """Covariance of a pooled fit's nonlinear parameters (scaled units, chi-square units).

    ``mu`` (q, q) is that of the shared values (NaN rows for FREE slots); ``theta``
    (N, q, q) that of each spectrum's own slots (shared and local together), which is
    what carries into its areas; ``dev_var`` (N, q) the variance of each spectrum's
    deviation ``v - mu`` on POOLED slots (0 elsewhere), for `estimate_tau`.
    """

    mu: np.ndarray
    theta: np.ndarray
    dev_var: np.ndarray


def covariance(groups, model: Model, w, res: Fit, tau, n_lin: int, prior=None) -> Covariance:
    """Covariance of the nonlinear parameters at a solution, from the block inverse.

    With ``S = A_uu - sum A_uv D^-1 A_vu`` (the shared block's Schur complement),
    ``C_uu = S^-1``, ``C_uv = -C_uu A_uv D^-1`` and
    ``C_vv = D^-1 + D^-1 A_vu C_uu A_uv D^-1``: every spectrum's block without forming
    the full matrix. ``prior`` as for `fit`: its precision is part of ``A_uu``.
    """
    prec = np.where(model.kind == POOLED, 1.0 / np.square(np.where(tau > 0, tau, 1.0)), 0.0)
    blocks = _Blocks(model.kind, prec, prior)
    costs, coefs, a, jtr = _normal(groups, model, res.thetas, n_lin, 1)
    sys = blocks.system(w, costs, coefs, a, jtr, res.mu, res.v)
    n, q, nu, nl = w.size, model.q, blocks.u.size, blocks.ll.size
    dinv = _inverse(sys.d) if nl else np.zeros((n, 0, 0))
    dfin = np.nan_to_num(dinv)
    x = sys.auv @ dfin  # A_uv D^-1, (N, nu, nl)
    cuu = (
        _inverse(sys.auu - (x @ np.transpose(sys.auv, (0, 2, 1))).sum(axis=0))
        if nu
        else np.zeros((0, 0))
    )
    cfin = np.nan_to_num(cuu)
    cuv = -(cfin[None] @ x)
    cvv = dinv + np.transpose(x, (0, 2, 1)) @ cfin[None] @ x
    theta = np.empty((n, q, q))
    su, ll = blocks.su, blocks.ll
    uix, lix = blocks.uix, blocks.lix
    theta[:, su[:, None], su[None, :]] = cuu[np.ix_(uix[su], uix[su])]
    theta[:, ll[:, None], ll[None, :]] = cvv[:, lix[ll][:, None], lix[ll][None, :]]
    cross = cuv[:, uix[su]][:, :, lix[ll]]
    theta[:, su[:, None], ll[None, :]] = cross
    theta[:, ll[:, None], su[None, :]] = np.transpose(cross, (0, 2, 1))
    mu = np.full((q, q), np.nan)
    mu[np.ix_(blocks.u, blocks.u)] = cuu
    dev_var = np.zeros((n, q))
    pu = blocks.pu
    if pu.size:
        up, lp = uix[pu], lix[pu]
        dev_var[:, pu] = cvv[:, lp, lp] + cuu[up, up] - 2.0 * cuv[:, up, lp]
    return Covariance(mu, theta, dev_var)


def full_covariance(x, basis, thetas, coefs, model: Model, c_free, w, redchi: float):
    """Covariance of every parameter of each spectrum, in the order of its `Layout`.

    The nonlinear block is that of the free values ``c_free`` (N, q, q) (in chi-square
    units, from `covariance`), spread onto the kernels' slots through the parameter map
    (a fixed slot has zero variance, a tied one its target's); the linear block adds to
    the spectrum's own ``F_cc^-1`` the uncertainty the nonlinear values carry into the
    areas and baseline: ``C_cc = F_cc^-1 + G C_tt G^T`` with ``G = F_cc^-1 F_ct``, and
    ``C_tc = -C_tt G^T`` (the Schur complement of the spectrum's Fisher matrix).
    Everything is then scaled by ``redchi``. ``thetas`` (N, ...), ``coefs`` (N, ...)
    and the weights ``w`` (N,) are those of N spectra on the axis ``x``; returns
    (N, P, P).
    """
    q = model.q_full
    n_spec, npar = thetas.shape[0], q + coefs.shape[1]
    fisher = np.empty((n_spec, npar, npar))
    set_kernels.fisher_set(x, basis, np.ascontiguousarray(thetas), np.ascontiguousarray(coefs),
                           model.nb, model.shape, model.fit_eta, fisher)  # fmt: skip
    f = fisher * np.asarray(w, dtype=float)[:, None, None]
    col = np.where(model.fold.any(axis=1), np.argmax(model.fold, axis=1), -1)
    live = np.flatnonzero(col >= 0)
    c_t = np.zeros((n_spec, q, q))
    c_t[:, live[:, None], live[None, :]] = c_free[:, col[live][:, None], col[live][None, :]]
    c_fin = np.nan_to_num(c_t)
    f_cc_inv = _inverse(f[:, q:, q:])
    g = np.nan_to_num(f_cc_inv) @ f[:, q:, :q]
    g_t = np.transpose(g, (0, 2, 1))
    c_tc = -c_fin @ g_t
    out = np.empty((n_spec, npar, npar))
    out[:, :q, :q] = c_t
    out[:, :q, q:] = c_tc
    out[:, q:, :q] = np.transpose(c_tc, (0, 2, 1))
    out[:, q:, q:] = f_cc_inv + g @ c_fin @ g_t
    return out * redchi


def slot_kinds(fold: np.ndarray, nb: int, kinds: tuple[int, int]) -> np.ndarray:
    """Kind of each free slot: ``kinds`` for centres and FWHMs, eta always SHARED."""
    role = np.minimum(np.argmax(fold > 0, axis=0) // nb, 2)
    return np.select([role == 0, role == 1], list(kinds), SHARED)
