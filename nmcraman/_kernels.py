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

# Reassociation lets LLVM vectorise the dot products (4x on AVX2); nnan and ninf are
# left out on purpose so NaN and inf still behave as IEEE says.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": FASTMATH}


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
def _dot(u, v):
    acc = 0.0
    for i in range(u.size):
        acc += u[i] * v[i]
    return acc


@njit(**_JIT)
def _chol_factor(a, idx, k, low, d):
    """Factor the Jacobi-scaled ``a[idx][:, idx]`` into ``low``; scales into ``d``.

    A tiny ridge keeps nearly collinear columns (two bands pushed onto each other)
    finite instead of failing.
    """
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


@njit(**_JIT)
def _chol_subst(low, d, idx, k, rhs, out, z):
    """Solve with a factor from `_chol_factor`; write the solution into ``out[idx]``."""
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
def _chol_solve(a, rhs, idx, k, low, out):
    """Solve the SPD system ``a[idx][:, idx] z = rhs[idx]``; write z into ``out[idx]``."""
    d = np.empty(k)
    z = np.empty(k)
    _chol_factor(a, idx, k, low, d)
    _chol_subst(low, d, idx, k, rhs, out, z)


@njit(**_JIT)
def _passive_index(passive, idx):
    k = 0
    for j in range(passive.size):
        if passive[j]:
            idx[k] = j
            k += 1
    return k


@njit(**_JIT)
def _solve_passive(h, g, passive, low, out):
    idx = np.empty(passive.size, dtype=np.int64)
    k = _passive_index(passive, idx)
    for j in range(passive.size):
        if not passive[j]:
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
def design(basis, y, nb, phi, h, g):
    """Fill the constant baseline rows of ``phi``, ``h`` and ``g`` (done once per fit)."""
    m = phi.shape[0]
    for a in range(nb, m):
        phi[a, :] = basis[a - nb]
    for a in range(nb, m):
        g[a] = _dot(phi[a], y)
        for b in range(nb, a + 1):
            h[a, b] = _dot(phi[a], phi[b])
            h[b, a] = h[a, b]


@njit(**_JIT)
def evaluate(x, y, theta, nb, shape, phi, dc, dw, de, h, g, coef, passive, low, r):
    """Fill the band rows of the design, solve the linear parameters, return the RSS.

    The baseline rows of ``phi``, ``h`` and ``g`` must have been filled by `design`.
    """
    n = x.size
    m = phi.shape[0]
    band_columns(x, theta, nb, shape, phi, dc, dw, de)
    for a in range(nb):
        g[a] = _dot(phi[a], y)
        for b in range(m):
            if b <= a or b >= nb:
                h[a, b] = _dot(phi[a], phi[b])
                h[b, a] = h[a, b]
    nnls_free(h, g, nb, coef, passive, low)
    for i in range(n):
        r[i] = y[i]
    for a in range(m):
        if passive[a] and coef[a] != 0.0:
            ca = coef[a]
            for i in range(n):
                r[i] -= ca * phi[a, i]
    return _dot(r, r)


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
def normal_equations(nb, q, fit_eta, phi, dc, dw, de, h, coef, passive, r, v, bz, a, jtr):
    """Gauss-Newton matrix ``a = J^T J`` and gradient ``jtr = -J^T r`` of the projection.

    With ``V`` the derivative columns scaled by area and ``B = Phi V^T``, Kaufman's
    ``J = -P_perp V^T`` gives ``J^T J = V V^T - B^T H^-1 B``: no n-long projected
    columns are formed, which saves a third of the work of an iteration.
    """
    n = phi.shape[1]
    m = phi.shape[0]
    for k in range(nb):
        ak = coef[k]
        for i in range(n):
            v[k, i] = ak * dc[k, i]
            v[nb + k, i] = ak * dw[k, i]
    if fit_eta:
        for i in range(n):
            acc = 0.0
            for k in range(nb):
                acc += coef[k] * de[k, i]
            v[2 * nb, i] = acc
    idx = np.empty(m, dtype=np.int64)
    kp = _passive_index(passive, idx)
    d = np.empty(m)
    z = np.empty(m)
    low = np.empty((m, m))
    _chol_factor(h, idx, kp, low, d)
    col = np.empty(m)
    sol = np.empty(m)
    for j in range(q):
        for s in range(kp):
            col[idx[s]] = _dot(phi[idx[s]], v[j])
            bz[0, s, j] = col[idx[s]]
        _chol_subst(low, d, idx, kp, col, sol, z)
        for s in range(kp):
            bz[1, s, j] = sol[idx[s]]
    for s in range(q):
        jtr[s] = _dot(v[s], r)
        for t in range(s + 1):
            acc = _dot(v[s], v[t])
            for u in range(kp):
                acc -= bz[0, u, s] * bz[1, u, t]
            a[s, t] = acc
            a[t, s] = acc


@njit(**_JIT)
def _active_groups(theta, step, lo, hi, order, nb, q, min_sep, group):
    """Active set for a step: freeze bound parameters, tie pinned neighbours.

    ``group[s]`` becomes -1 for a parameter on a bound with the step pointing out,
    and a shared index for two centres held ``min_sep`` apart whose step would
    cross: they then move together instead of crawling along the constraint.
    Returns True when any parameter is frozen or tied.
    """
    active = False
    for s in range(q):
        group[s] = s
        if (theta[s] <= lo[s] and step[s] < 0.0) or (theta[s] >= hi[s] and step[s] > 0.0):
            group[s] = -1
            active = True
    for j in range(1, nb):
        a = order[j - 1]
        b = order[j]
        if theta[b] - theta[a] <= min_sep * (1.0 + 1e-9) and step[b] < step[a]:
            active = True
            if group[a] < 0 or group[b] < 0:
                group[a] = -1
                group[b] = -1
            else:
                old = group[b]
                for s in range(q):
                    if group[s] == old:
                        group[s] = group[a]
    return active


@njit(**_JIT)
def _solve_grouped(a, rhs, group, q, low, step):
    """Solve the normal equations with parameters tied or frozen as in ``group``."""
    label = np.full(q, -1, dtype=np.int64)
    k = 0
    for s in range(q):
        g = group[s]
        if g >= 0 and label[g] < 0:
            label[g] = k
            k += 1
    ar = np.zeros((max(k, 1), max(k, 1)))
    br = np.zeros(max(k, 1))
    for s in range(q):
        if group[s] < 0:
            continue
        gs = label[group[s]]
        br[gs] += rhs[s]
        for t in range(q):
            if group[t] >= 0:
                ar[gs, label[group[t]]] += a[s, t]
    idx = np.arange(k)
    sol = np.zeros(max(k, 1))
    _chol_solve(ar, br, idx, k, low, sol)
    for s in range(q):
        step[s] = sol[label[group[s]]] if group[s] >= 0 else 0.0


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
    v = np.empty((q, n))
    bz = np.empty((2, m, q))
    a = np.empty((q, q))
    jtr = np.empty(q)
    diag = np.zeros(q)
    step = np.empty(q)
    trial = theta.copy()
    free = np.empty(q, dtype=np.int64)
    group = np.empty(q, dtype=np.int64)

    design(basis, y, nb, phi, h, g)
    design(basis, y, nb, t_phi, t_h, g)
    project(theta, lo, hi, order, nb, min_sep)
    cost = evaluate(x, y, theta, nb, shape, phi, dc, dw, de, h, g, coef, passive, low, r)
    n_eval = 1
    lam = 1e-3
    nu = 2.0
    status = STATUS_MAX_ITER
    it = 0
    while it < max_iter:
        normal_equations(nb, q, fit_eta, phi, dc, dw, de, h, coef, passive, r, v, bz, a, jtr)
        for s in range(q):
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
            for s in range(q):
                free[s] = s
            _chol_solve(a, jtr, free, q, low, step)
            if _active_groups(theta, step, lo, hi, order, nb, q, min_sep, group):
                _solve_grouped(a, jtr, group, q, low, step)
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
                x, y, trial, nb, shape, t_phi, t_dc, t_dw, t_de, t_h, g, t_coef, t_passive, low, t_r
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
    x,
    y,
    basis,
    starts,
    lo,
    hi,
    order,
    shape,
    fit_eta,
    max_iter,
    ftol,
    xtol,
    min_sep,
    race_iter,
    theta,
    coef,
):
    """Race the rows of ``starts``, then finish the leader; keep the lowest cost.

    Every start first runs at most ``race_iter`` iterations; only the start with the
    lowest residual is then iterated to convergence. ``race_iter >= max_iter``
    finishes every start.

    Returns
    -------
    status, n_iter, n_eval, cost, best_start
        Iterations and evaluations are summed over all starts.
    """
    n_start = starts.shape[0]
    thetas = starts.copy()
    coefs = np.empty((n_start, coef.size))
    costs = np.empty(n_start)
    states = np.empty(n_start, dtype=np.int64)
    total_it = 0
    total_eval = 0
    first = min(race_iter, max_iter)
    for s in range(n_start):
        status, it, nev, cost = fit_varpro(
            x,
            y,
            basis,
            thetas[s],
            lo,
            hi,
            order,
            shape,
            fit_eta,
            first,
            ftol,
            xtol,
            min_sep,
            coefs[s],
        )
        states[s] = status
        costs[s] = cost
        total_it += it
        total_eval += nev
    best = np.argmin(costs)
    if states[best] == STATUS_MAX_ITER and first < max_iter:
        status, it, nev, cost = fit_varpro(
            x,
            y,
            basis,
            thetas[best],
            lo,
            hi,
            order,
            shape,
            fit_eta,
            max_iter - first,
            ftol,
            xtol,
            min_sep,
            coefs[best],
        )
        states[best] = status
        costs[best] = cost
        total_it += it
        total_eval += nev
    theta[:] = thetas[best]
    coef[:] = coefs[best]
    return states[best], total_it, total_eval, costs[best], best


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
