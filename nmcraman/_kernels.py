"""Numba kernels: band model, variable-projection Levenberg-Marquardt, Jacobian.

Nothing here validates input: `nmcraman.fit` hands over contiguous float64 arrays
with ascending x and consistent sizes. Arguments are arrays and scalars only.

Parameter layout shared by every kernel (``nb`` bands, ``p`` baseline columns):

- ``theta`` (2 nb + 1): centres, FWHMs (cm-1), then the pseudo-Voigt mixing ratio
  ``eta`` (ignored unless the shape is pseudo-Voigt);
- ``coef`` (nb + p): band areas, then baseline coefficients; these are linear and
  solved exactly (non-negative areas) at every step, which is what variable
  projection means: the optimiser only walks the nonlinear ``theta``.

Notes
-----
Why variable projection: with areas and baseline solved linearly, the search space
shrinks from about 3 nb + p to 2 nb dimensions, the linear parameters are always
optimal for the current centres and widths (so a poor amplitude start cannot trap
the fit), and iterations drop. The Jacobian is Kaufman's approximation,
``J = -P_perp dPhi/dtheta coef``, whose gradient ``J^T r`` is exact.

Bounds are handled by projection plus an active set: parameters sitting on a bound
with the step pointing outwards are frozen for that step, so the other parameters
still get a full Gauss-Newton step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

LORENTZIAN = 0
GAUSSIAN = 1
PSEUDO_VOIGT = 2

STATUS_MAX_ITER = 0
STATUS_FTOL = 1
STATUS_XTOL = 2
STATUS_STALLED = 3

_LN2 = np.log(2.0)
_GAUSS_PEAK = 2.0 * np.sqrt(_LN2 / np.pi)
_LORENTZ_PEAK = 2.0 / np.pi
_RIDGE = 1e-11

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
def band_columns(x, theta, nb, shape, phi, dc, dw, de):
    """Unit-area band profiles and their derivatives.

    Fills ``phi[k]`` with band k's unit-area profile and ``dc[k]``, ``dw[k]``,
    ``de[k]`` with its derivatives by centre, FWHM and eta.
    """
    n = x.size
    eta = theta[2 * nb]
    four_ln2 = 4.0 * _LN2
    for k in range(nb):
        c = theta[k]
        inv_w = 1.0 / theta[nb + k]
        for i in range(n):
            u = (x[i] - c) * inv_w
            uu = u * u
            lor = 0.0
            lc = 0.0
            lw = 0.0
            gau = 0.0
            gc = 0.0
            gw = 0.0
            if shape != GAUSSIAN:
                den = 1.0 / (1.0 + 4.0 * uu)
                lor = _LORENTZ_PEAK * inv_w * den
                lc = lor * 8.0 * u * den * inv_w
                lw = lor * inv_w * (4.0 * uu - 1.0) * den
            if shape != LORENTZIAN:
                gau = _GAUSS_PEAK * inv_w * np.exp(-four_ln2 * uu)
                gc = gau * 2.0 * four_ln2 * u * inv_w
                gw = gau * inv_w * (2.0 * four_ln2 * uu - 1.0)
            if shape == LORENTZIAN:
                phi[k, i] = lor
                dc[k, i] = lc
                dw[k, i] = lw
                de[k, i] = 0.0
            elif shape == GAUSSIAN:
                phi[k, i] = gau
                dc[k, i] = gc
                dw[k, i] = gw
                de[k, i] = 0.0
            else:
                phi[k, i] = eta * lor + (1.0 - eta) * gau
                dc[k, i] = eta * lc + (1.0 - eta) * gc
                dw[k, i] = eta * lw + (1.0 - eta) * gw
                de[k, i] = lor - gau


@njit(**_JIT)
def _chol_solve(a, rhs, idx, k, low, out):
    """Solve the SPD system ``a[idx][:, idx] z = rhs[idx]``; write z into ``out[idx]``.

    Jacobi-scaled Cholesky with a tiny ridge, so nearly collinear columns (two bands
    pushed onto each other) give a finite answer instead of a failure.
    """
    d = np.empty(k)
    for s in range(k):
        v = a[idx[s], idx[s]]
        d[s] = np.sqrt(v) if v > 0.0 else 1.0
    for s in range(k):
        for t in range(s + 1):
            acc = a[idx[s], idx[t]] / (d[s] * d[t])
            for j in range(t):
                acc -= low[s, j] * low[t, j]
            if s == t:
                acc += _RIDGE
                low[s, s] = np.sqrt(acc) if acc > 0.0 else 1e-150
            else:
                low[s, t] = acc / low[t, t]
    z = np.empty(k)
    for s in range(k):
        acc = rhs[idx[s]] / d[s]
        for j in range(s):
            acc -= low[s, j] * z[j]
        z[s] = acc / low[s, s]
    for s in range(k - 1, -1, -1):
        acc = z[s]
        for j in range(s + 1, k):
            acc -= low[j, s] * z[j]
        z[s] = acc / low[s, s]
    for s in range(k):
        out[idx[s]] = z[s] / d[s]


@njit(**_JIT)
def _solve_passive(h, g, passive, low, out):
    m = passive.size
    idx = np.empty(m, dtype=np.int64)
    k = 0
    for j in range(m):
        if passive[j]:
            idx[k] = j
            k += 1
        else:
            out[j] = 0.0
    _chol_solve(h, g, idx, k, low, out)


@njit(**_JIT)
def nnls_free(h, g, nb, coef, passive, low):
    """Least squares from normal equations with ``coef[:nb] >= 0``, the rest free.

    Lawson-Hanson active set on the normal equations ``h coef = g``; tries the
    unconstrained solution first since most spectra have all bands present.
    """
    m = g.size
    for j in range(m):
        passive[j] = True
    _solve_passive(h, g, passive, low, coef)
    ok = True
    for j in range(nb):
        if coef[j] < 0.0:
            ok = False
    if ok:
        return
    gmax = 0.0
    for j in range(m):
        gmax = max(gmax, abs(g[j]))
    tol = 1e-13 * gmax
    for j in range(nb):
        passive[j] = False
    _solve_passive(h, g, passive, low, coef)
    z = np.empty(m)
    for _ in range(3 * m + 3):
        best = -1
        wbest = tol
        for j in range(nb):
            if not passive[j]:
                wj = g[j]
                for t in range(m):
                    wj -= h[j, t] * coef[t]
                if wj > wbest:
                    wbest = wj
                    best = j
        if best < 0:
            return
        passive[best] = True
        for _inner in range(3 * m + 3):
            _solve_passive(h, g, passive, low, z)
            alpha = 2.0
            for j in range(nb):
                if passive[j] and z[j] <= 0.0:
                    step = coef[j] / (coef[j] - z[j]) if coef[j] - z[j] > 0.0 else 0.0
                    alpha = min(alpha, step)
            if alpha > 1.0:
                for j in range(m):
                    coef[j] = z[j]
                break
            for j in range(m):
                if passive[j]:
                    coef[j] += alpha * (z[j] - coef[j])
            for j in range(nb):
                if passive[j] and coef[j] <= 1e-300:
                    passive[j] = False
                    coef[j] = 0.0
            if alpha == 0.0 and not passive[best]:
                return


@njit(**_JIT)
def evaluate(x, y, basis, theta, nb, shape, phi, dc, dw, de, h, g, coef, passive, low, r):
    """Fill the design, solve the linear parameters, return the residual sum of squares."""
    n = x.size
    m = phi.shape[0]
    band_columns(x, theta, nb, shape, phi, dc, dw, de)
    for a in range(nb, m):
        for i in range(n):
            phi[a, i] = basis[a - nb, i]
    for a in range(m):
        acc = 0.0
        for i in range(n):
            acc += phi[a, i] * y[i]
        g[a] = acc
        for b in range(a + 1):
            acc = 0.0
            for i in range(n):
                acc += phi[a, i] * phi[b, i]
            h[a, b] = acc
            h[b, a] = acc
    nnls_free(h, g, nb, coef, passive, low)
    cost = 0.0
    for i in range(n):
        r[i] = y[i]
    for a in range(m):
        if passive[a] and coef[a] != 0.0:
            ca = coef[a]
            for i in range(n):
                r[i] -= ca * phi[a, i]
    for i in range(n):
        cost += r[i] * r[i]
    return cost


@njit(**_JIT)
def project(theta, lo, hi, order, nb, min_sep):
    """Clip ``theta`` into its bounds and keep centres in prior order ``min_sep`` apart."""
    for j in range(theta.size):
        theta[j] = min(max(theta[j], lo[j]), hi[j])
    for _ in range(3):
        for s in range(1, nb):
            a = order[s - 1]
            b = order[s]
            if theta[b] - theta[a] < min_sep:
                mid = 0.5 * (theta[a] + theta[b])
                theta[a] = max(lo[a], mid - 0.5 * min_sep)
                theta[b] = min(hi[b], mid + 0.5 * min_sep)


@njit(**_JIT)
def _projected_jacobian(nb, q, fit_eta, phi, dc, dw, de, h, coef, passive, low, jm):
    """``jm = P_perp V``: derivative columns scaled by area, minus their projection."""
    n = phi.shape[1]
    m = phi.shape[0]
    for k in range(nb):
        ak = coef[k]
        for i in range(n):
            jm[k, i] = ak * dc[k, i]
            jm[nb + k, i] = ak * dw[k, i]
    if fit_eta:
        for i in range(n):
            acc = 0.0
            for k in range(nb):
                acc += coef[k] * de[k, i]
            jm[2 * nb, i] = acc
    proj = np.empty(m)
    z = np.empty(m)
    for j in range(q):
        for a in range(m):
            acc = 0.0
            if passive[a]:
                for i in range(n):
                    acc += phi[a, i] * jm[j, i]
            proj[a] = acc
        _solve_passive(h, proj, passive, low, z)
        for a in range(m):
            if passive[a] and z[a] != 0.0:
                za = z[a]
                for i in range(n):
                    jm[j, i] -= za * phi[a, i]


@njit(**_JIT)
def fit_varpro(
    x, y, basis, theta, lo, hi, order, shape, fit_eta, max_iter, ftol, xtol, min_sep, coef
):
    """Bounded variable-projection Levenberg-Marquardt from one start.

    Parameters
    ----------
    x, y : float64 arrays (n,)
        Ascending axis (cm-1) and intensities (already scaled).
    basis : float64 array (p, n)
        Fixed baseline columns whose coefficients are solved linearly.
    theta : float64 array (2 nb + 1,)
        Start; overwritten with the solution.
    lo, hi : float64 arrays like theta
        Bounds.
    order : int64 array (nb,)
        Band indices in ascending prior centre.
    shape : int
        Line-shape code.
    fit_eta : bool
        Whether eta is fitted (pseudo-Voigt only).
    max_iter : int
        Maximum accepted-or-rejected steps.
    ftol, xtol, min_sep : float
        Relative cost change, step size (cm-1) and minimal centre separation.
    coef : float64 array (nb + p,)
        Output linear coefficients.

    Returns
    -------
    status, n_iter, n_eval, cost
    """
    n = x.size
    nb = order.size
    p = basis.shape[0]
    m = nb + p
    q = 2 * nb + (1 if fit_eta else 0)
    phi = np.empty((m, n))
    dc = np.empty((nb, n))
    dw = np.empty((nb, n))
    de = np.empty((nb, n))
    h = np.empty((m, m))
    g = np.empty(m)
    low = np.empty((max(m, q), max(m, q)))
    passive = np.empty(m, dtype=np.bool_)
    r = np.empty(n)
    t_phi = np.empty((m, n))
    t_dc = np.empty((nb, n))
    t_dw = np.empty((nb, n))
    t_de = np.empty((nb, n))
    t_h = np.empty((m, m))
    t_coef = np.empty(m)
    t_passive = np.empty(m, dtype=np.bool_)
    t_r = np.empty(n)
    jm = np.empty((q, n))
    a = np.empty((q, q))
    jtr = np.empty(q)
    diag = np.zeros(q)
    step = np.empty(q)
    trial = theta.copy()
    free = np.empty(q, dtype=np.int64)

    project(theta, lo, hi, order, nb, min_sep)
    cost = evaluate(x, y, basis, theta, nb, shape, phi, dc, dw, de, h, g, coef, passive, low, r)
    n_eval = 1
    lam = 1e-3
    nu = 2.0
    status = STATUS_MAX_ITER
    it = 0
    while it < max_iter:
        _projected_jacobian(nb, q, fit_eta, phi, dc, dw, de, h, coef, passive, low, jm)
        for s in range(q):
            acc = 0.0
            for i in range(n):
                acc += jm[s, i] * r[i]
            jtr[s] = acc
            for t in range(s + 1):
                acc = 0.0
                for i in range(n):
                    acc += jm[s, i] * jm[t, i]
                a[s, t] = acc
                a[t, s] = acc
            diag[s] = max(diag[s], a[s, s])
        dmax = 0.0
        for s in range(q):
            dmax = max(dmax, diag[s])
        if dmax == 0.0:
            status = STATUS_STALLED
            break
        accepted = False
        while not accepted:
            it += 1
            for s in range(q):
                a[s, s] += lam * max(diag[s], 1e-12 * dmax)
            k = 0
            for s in range(q):
                free[k] = s
                k += 1
            _chol_solve(a, jtr, free, k, low, step)
            # Freeze parameters pushed against their bounds, then re-solve the rest.
            k = 0
            for s in range(q):
                at_lo = theta[s] <= lo[s] and step[s] < 0.0
                at_hi = theta[s] >= hi[s] and step[s] > 0.0
                if not (at_lo or at_hi):
                    free[k] = s
                    k += 1
            if k < q:
                for s in range(q):
                    step[s] = 0.0
                _chol_solve(a, jtr, free, k, low, step)
            for s in range(q):
                a[s, s] -= lam * max(diag[s], 1e-12 * dmax)
            for s in range(q):
                trial[s] = theta[s] + step[s]
            project(trial, lo, hi, order, nb, min_sep)
            small = True
            pred = 0.0
            for s in range(q):
                ds = trial[s] - theta[s]
                step[s] = ds
                if abs(ds) > xtol:
                    small = False
                pred += 2.0 * ds * jtr[s]
            for s in range(q):
                for t in range(q):
                    pred -= step[s] * a[s, t] * step[t]
            if small:
                status = STATUS_XTOL
                return status, it, n_eval, cost
            t_cost = evaluate(
                x,
                y,
                basis,
                trial,
                nb,
                shape,
                t_phi,
                t_dc,
                t_dw,
                t_de,
                t_h,
                g,
                t_coef,
                t_passive,
                low,
                t_r,
            )
            n_eval += 1
            if t_cost < cost:
                accepted = True
                rho = (cost - t_cost) / pred if pred > 0.0 else 0.0
                lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                done = cost - t_cost <= ftol * cost
                cost = t_cost
                for s in range(theta.size):
                    theta[s] = trial[s]
                phi, t_phi = t_phi, phi
                dc, t_dc = t_dc, dc
                dw, t_dw = t_dw, dw
                de, t_de = t_de, de
                h, t_h = t_h, h
                coef[:] = t_coef
                passive, t_passive = t_passive, passive
                r, t_r = t_r, r
                if done:
                    return STATUS_FTOL, it, n_eval, cost
            else:
                lam *= nu
                nu *= 2.0
                if lam > 1e16:
                    return STATUS_STALLED, it, n_eval, cost
            if it >= max_iter:
                break
    return status, it, n_eval, cost


@njit(**_JIT)
def fit_multistart(
    x, y, basis, starts, lo, hi, order, shape, fit_eta, max_iter, ftol, xtol, min_sep, theta, coef
):
    """Run `fit_varpro` from every row of ``starts``; keep the lowest cost.

    Returns
    -------
    status, n_iter, n_eval, cost, best_start
        Iterations and evaluations are summed over all starts.
    """
    best = np.inf
    best_status = STATUS_MAX_ITER
    best_start = -1
    total_it = 0
    total_eval = 0
    th = np.empty(starts.shape[1])
    cf = np.empty(coef.size)
    for s in range(starts.shape[0]):
        th[:] = starts[s]
        status, it, nev, cost = fit_varpro(
            x, y, basis, th, lo, hi, order, shape, fit_eta, max_iter, ftol, xtol, min_sep, cf
        )
        total_it += it
        total_eval += nev
        if cost < best:
            best = cost
            best_status = status
            best_start = s
            theta[:] = th
            coef[:] = cf
    return best_status, total_it, total_eval, best, best_start


@njit(**_JIT)
def full_jacobian(x, basis, theta, coef, nb, shape, fit_eta, jac):
    """Jacobian of the model by every parameter, rows in the order of `param_names`.

    Rows: centres (nb), FWHMs (nb), eta (if fitted), areas (nb), baseline (p).
    """
    n = x.size
    p = basis.shape[0]
    phi = np.empty((nb, n))
    dc = np.empty((nb, n))
    dw = np.empty((nb, n))
    de = np.empty((nb, n))
    band_columns(x, theta, nb, shape, phi, dc, dw, de)
    row = 2 * nb
    for k in range(nb):
        for i in range(n):
            jac[k, i] = coef[k] * dc[k, i]
            jac[nb + k, i] = coef[k] * dw[k, i]
    if fit_eta:
        for i in range(n):
            acc = 0.0
            for k in range(nb):
                acc += coef[k] * de[k, i]
            jac[row, i] = acc
        row += 1
    for k in range(nb):
        for i in range(n):
            jac[row + k, i] = phi[k, i]
    row += nb
    for j in range(p):
        for i in range(n):
            jac[row + j, i] = basis[j, i]


@njit(**_JIT)
def model(x, basis, theta, coef, nb, shape, components):
    """Evaluate each band into ``components`` (nb, n); return the baseline part (n,)."""
    n = x.size
    p = basis.shape[0]
    dc = np.empty((nb, n))
    dw = np.empty((nb, n))
    de = np.empty((nb, n))
    band_columns(x, theta, nb, shape, components, dc, dw, de)
    for k in range(nb):
        for i in range(n):
            components[k, i] *= coef[k]
    base = np.zeros(n)
    for j in range(p):
        cj = coef[nb + j]
        for i in range(n):
            base[i] += cj * basis[j, i]
    return base
