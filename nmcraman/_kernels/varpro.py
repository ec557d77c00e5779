"""Numba variable projection: design, linear solve, normal equations, bounds, active set.

Nothing here validates input: `nmcraman.fit` hands over contiguous float64 arrays
with ascending x and consistent sizes. Arguments are arrays and scalars only; the
parameter layout is that of `nmcraman._kernels.profiles`.

Notes
-----
Why variable projection: with areas and baseline solved linearly, the search space
shrinks from about 3 nb + p to 2 nb dimensions, the linear parameters are always
optimal for the current centres and widths (so a poor amplitude start cannot trap
the fit), and iterations drop. The Jacobian is Kaufman's approximation,
``J = -P_perp dPhi/dtheta coef``, whose gradient ``J^T r`` is exact.

Bounds are handled by projection plus an active set: parameters sitting on a bound
with the step pointing outwards are frozen for that step, so the other parameters
still get a full Gauss-Newton step. Parameters the user holds (`Band.fix`,
`Band.tie`) go through the same grouped solve: a fixed slot is frozen for every
step (its bounds equal its value), a tied slot moves with its target, so a
constrained fit costs what a free one does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .jit import JIT
from .linalg import (
    chol_factor,
    chol_forward,
    chol_solve,
    copyto,
    cross,
    dot,
    nnls_free,
    passive_index,
)
from .profiles import band_columns

#: Largest sampling stride of the Gauss-Newton matrix (see `hessian_stride`).
MAX_STRIDE = 8


@njit(**JIT)
def design(basis, y, nb, phi, h, g):
    """Fill the constant baseline rows of ``phi``, ``h`` and ``g`` (done once per fit)."""
    m = phi.shape[0]
    for a in range(nb, m):
        copyto(phi[a], basis[a - nb])
    for a in range(nb, m):
        g[a] = dot(phi[a], y)
        for b in range(nb, a + 1):
            h[a, b] = dot(phi[a], phi[b])
            h[b, a] = h[a, b]


@njit(**JIT)
def evaluate(x, y, theta, nb, shape, phi, dc, dw, de, h, g, coef, passive, low, r):
    """Fill the band rows of the design, solve the linear parameters, return the RSS.

    The baseline rows of ``phi``, ``h`` and ``g`` must have been filled by `design`.
    """
    n = x.size
    m = phi.shape[0]
    band_columns(x, theta, nb, shape, phi, dc, dw, de)
    hb = np.empty((nb, m))
    cross(phi, nb, phi, m, hb, False)
    # The band rows' products with y as one more block product: it shares the loads
    # of four rows at a time, where a dot per row would load y seven times.
    gb = np.empty((nb, 1))
    cross(phi, nb, y.reshape(1, n), 1, gb, False)
    for a in range(nb):
        g[a] = gb[a, 0]
        for b in range(m):
            h[a, b] = hb[a, b]
            h[b, a] = hb[a, b]
    nnls_free(h, g, nb, coef, passive, low)
    # Four rows per pass over r: a quarter of the loads and stores of one per row.
    # Rows outside the passive set have coef 0 and add nothing.
    for i in range(n):
        r[i] = y[i]
    for a0 in range(0, m, 4):
        c0 = coef[a0]
        c1 = coef[a0 + 1] if a0 + 1 < m else 0.0
        c2 = coef[a0 + 2] if a0 + 2 < m else 0.0
        c3 = coef[a0 + 3] if a0 + 3 < m else 0.0
        a1 = min(a0 + 1, m - 1)
        a2 = min(a0 + 2, m - 1)
        a3 = min(a0 + 3, m - 1)
        for i in range(n):
            r[i] -= c0 * phi[a0, i] + c1 * phi[a1, i] + c2 * phi[a2, i] + c3 * phi[a3, i]
    return dot(r, r)


@njit(**JIT)
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


@njit(**JIT)
def hessian_stride(theta, nb, dx_max):
    """Every how many points `normal_equations` samples its Gauss-Newton matrix.

    Inside the window, sums over a smooth profile sampled every ``h`` cm-1 differ
    from the full sums by about ``exp(-2 pi HWHM / h)`` (the trapezoid rule on a
    function whose nearest complex pole lies one half-width away): one sample per
    quarter of the narrowest current FWHM keeps that below 1e-5. What remains comes
    from the window edges; with the end corrections of `normal_equations` the
    projected matrix is within about 3e-4 of the full one (tests/test_kernels.py),
    plenty for a step direction, at an eighth of the work on 1 cm-1 data. `_lm`
    starts from the stride of its start and lowers it whenever a band narrows, but
    never raises it again.
    """
    w_min = theta[nb]
    for k in range(1, nb):
        w_min = min(w_min, theta[nb + k])
    return max(1, min(MAX_STRIDE, int(w_min / (4.0 * dx_max))))


@njit(**JIT)
def normal_equations(nb, q, fit_eta, phi, dc, dw, de, coef, passive, r, stride, a, jtr):
    """Gauss-Newton matrix ``a = J^T J`` and gradient ``jtr = -J^T r`` of the projection.

    With ``V`` the derivative columns scaled by area and ``B = Phi V^T``, Kaufman's
    ``J = -P_perp V^T`` gives ``J^T J = V V^T - B^T H^-1 B``: no n-long projected
    columns are formed. The gradient is exact, from every point; the matrix only
    steers the step, so it is summed over every ``stride``-th point (and the last),
    weighted by the trapezoid rule, with ``H`` summed over the same points so that
    it stays positive semi-definite. The minimum reached is the same: only the path
    to it depends on the matrix.
    """
    n = phi.shape[1]
    m = phi.shape[0]
    for k in range(nb):
        jtr[k] = coef[k] * dot(dc[k], r)
        jtr[nb + k] = coef[k] * dot(dw[k], r)
    if fit_eta:
        acc = 0.0
        for k in range(nb):
            acc += coef[k] * dot(de[k], r)
        jtr[2 * nb] = acc
    ns = (n - 2 + stride) // stride + 1 if n > 1 else 1
    at = np.empty(ns, dtype=np.int64)
    sw = np.empty(ns)
    for j in range(ns):
        at[j] = min(j * stride, n - 1)
        # Trapezoid weights in index space plus half a point at each end
        # (Euler-Maclaurin): sums of smooth products then match the full sums to
        # second order, window edges included.
        prev = max(j - 1, 0) * stride
        nxt = min((j + 1) * stride, n - 1)
        sw[j] = np.sqrt(0.5 * (nxt - prev) + (0.5 if j == 0 or j == ns - 1 else 0.0))
    vs = np.empty((q, ns))
    ps = np.empty((m, ns))
    # Row by row: each gathers from one contiguous row and writes one.
    for k in range(nb):
        ak = coef[k]
        for j in range(ns):
            vs[k, j] = ak * sw[j] * dc[k, at[j]]
            vs[nb + k, j] = ak * sw[j] * dw[k, at[j]]
    if fit_eta:
        for j in range(ns):
            acc = 0.0
            for k in range(nb):
                acc += coef[k] * de[k, at[j]]
            vs[2 * nb, j] = acc * sw[j]
    for b in range(m):
        for j in range(ns):
            ps[b, j] = phi[b, at[j]] * sw[j]
    vv = np.empty((q, q))
    cross(vs, q, vs, q, vv, True)
    vp = np.empty((q, m))
    cross(vs, q, ps, m, vp, False)
    hs = np.empty((m, m))
    cross(ps, m, ps, m, hs, True)
    idx = np.empty(m, dtype=np.int64)
    kp = passive_index(passive, idx)
    d = np.empty(m)
    low = np.empty((m, m))
    chol_factor(hs, idx, kp, low, d)
    # B^T H^-1 B = W^T W with W = L^-1 B: one forward substitution per column.
    w = np.empty((q, m))
    for j in range(q):
        chol_forward(low, d, idx, kp, vp[j], w[j])
    for s in range(q):
        for t in range(s + 1):
            acc = vv[s, t]
            for u in range(kp):
                acc -= w[s, u] * w[t, u]
            a[s, t] = acc
            a[t, s] = acc


@njit(**JIT)
def _active_groups(theta, step, lo, hi, order, nb, q, min_sep, link, group):
    """Active set for a step: held parameters, bound parameters, pinned neighbours.

    ``group[s]`` starts as the parameter map ``link`` (-1 for a slot held fixed, the
    target's index for a tied one, ``s`` for a free one). It becomes -1 for a
    parameter on a bound with the step pointing out (and for the slots tied to it),
    and a shared index for two centres held ``min_sep`` apart whose step would
    cross: they then move together instead of crawling along the constraint.
    Returns True when any parameter is held, frozen or tied.
    """
    active = False
    for s in range(q):
        group[s] = link[s]
        if link[s] != s:
            active = True
    for s in range(q):
        if group[s] != s:
            continue
        if (theta[s] <= lo[s] and step[s] < 0.0) or (theta[s] >= hi[s] and step[s] > 0.0):
            group[s] = -1
            active = True
    for s in range(q):
        if group[s] >= 0 and group[group[s]] < 0:
            group[s] = -1
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


@njit(**JIT)
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
    chol_solve(ar, br, idx, k, low, sol)
    for s in range(q):
        step[s] = sol[label[group[s]]] if group[s] >= 0 else 0.0


@njit(**JIT)
def _bounded_step(a, jtr, theta, lo, hi, order, nb, q, min_sep, link, free, group, low, step):
    """Solve ``a step = jtr`` into ``step``, then again with `_active_groups` applied.

    The first solve already holds the slots that ``link`` fixes or ties (see
    `_active_groups`): the signs of its step decide which bounds are active.
    """
    held = False
    for s in range(q):
        free[s] = s
        group[s] = link[s]
        held = held or link[s] != s
    if held:
        _solve_grouped(a, jtr, group, q, low, step)
    else:
        chol_solve(a, jtr, free, q, low, step)
    if _active_groups(theta, step, lo, hi, order, nb, q, min_sep, link, group):
        _solve_grouped(a, jtr, group, q, low, step)
