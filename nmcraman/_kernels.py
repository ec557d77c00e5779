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

import math

import numpy as np
from numba import njit

from ._jit import JIT
from ._linalg import (
    chol_factor,
    chol_forward,
    chol_inverse,
    chol_solve,
    copyto,
    cross,
    dot,
    nnls_free,
    passive_index,
)

LORENTZIAN = 0
GAUSSIAN = 1
PSEUDO_VOIGT = 2

STATUS_MAX_ITER = 0
STATUS_FTOL = 1
STATUS_XTOL = 2
STATUS_STALLED = 3
STATUS_DUPLICATE = 4
STATUS_GTOL = 5
STATUS_WORSE = 6
#: A start whose centres and widths all come this close (cm-1) to a minimum already
#: found by an earlier start, or to a point on the way there, is stopped: it would
#: converge to the same point. Measured on 120 benchmark spectra: 10 % fewer
#: iterations than stopping at 0.5 cm-1 from minima only, the same minima reached.
DUPLICATE_TOL = 4.0
#: A start is given up once its cost, less this many times the decrease its next
#: Gauss-Newton step predicts, is still above the best cost of an earlier start: it is
#: heading for a worse minimum. Measured on 240 benchmark spectra (two seeds): 15 to
#: 20 % fewer iterations; against running every start to its end, 4 spectra ended in
#: a minimum worse by at most 0.12 % of the residual (under 1 in chi-square).
WORSE_FACTOR = 2.0
#: ... after this many iterations of the start, so that its first steps, which
#: predict poorly, are taken.
WORSE_AFTER = 2
#: Points of each start's path kept for that test.
PATH_LEN = 64
#: Largest sampling stride of the Gauss-Newton matrix (see `hessian_stride`).
MAX_STRIDE = 8
#: Near a minimum (a step predicting less than this many noise variances of decrease),
#: the curvature the Gauss-Newton matrix misses along the last step is measured from
#: that step's actual decrease and added back for the next one (see `_lm`). Measured
#: on 180 benchmark spectra: 8 % fewer iterations from one start, 4 % from three and
#: 4 % on a map, the same minima (chi-square within 4e-7 of itself).
SECANT_NEAR = 0.1

_LN2 = np.log(2.0)
_GAUSS_PEAK = 2.0 * np.sqrt(_LN2 / np.pi)
_LORENTZ_PEAK = 2.0 / np.pi

_JIT = JIT


#: No reassociation here: it would undo the two-constant reduction of `exp_nonpositive`.
_EXACT_JIT = {**JIT, "fastmath": {"nsz", "contract"}}
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
#: Taylor coefficients 1/j! of exp, j = 13 down to 2.
_EXP_C = tuple(1.0 / math.factorial(j) for j in range(13, 1, -1))
_EXP_SHIFT = 600


@njit(**_EXACT_JIT)
def exp_nonpositive(t, out, work):
    """``out = exp(t)`` for ``t <= 0``, in loops LLVM vectorises (``work``: scratch, like t).

    numba's ``np.exp`` is a scalar libm call, eight times slower than a Lorentzian
    profile; this is the usual reduction ``t = k ln2 + r`` (ln2 in two parts),
    ``|r| <= ln2 / 2``, a degree-13 Taylor polynomial (truncation below 2e-16) and
    ``2^k`` added to the exponent bits, offset by `_EXP_SHIFT` and multiplied back
    so that subnormal results round correctly. Within 1 ulp of ``np.exp`` in the
    normal range (tests/test_kernels.py); ``t < -746`` gives 0, as exp does.
    """
    n = t.size
    for i in range(n):
        x = max(t[i], -746.0)
        k = np.floor(x * _LOG2E + 0.5)
        r = (x - k * _LN2_HI) - k * _LN2_LO
        p = _EXP_C[0]
        for c in _EXP_C[1:]:
            p = p * r + c
        out[i] = (p * r + 1.0) * r + 1.0
        work[i] = k + _EXP_SHIFT
    bits = out.view(np.int64)
    for i in range(n):
        bits[i] += np.int64(work[i]) << 52
    scale = 2.0**-_EXP_SHIFT
    for i in range(n):
        out[i] *= scale


@njit(**_JIT)
def band_columns(x, theta, nb, shape, phi, dc, dw, de):
    """Unit-area band profiles and their derivatives.

    Fills ``phi[k]`` with band k's unit-area profile and ``dc[k]``, ``dw[k]``,
    ``de[k]`` with its derivatives by centre, FWHM and eta; ``de`` only for the
    pseudo-Voigt (the other shapes have no eta, and nothing reads it for them).
    """
    n = x.size
    eta = theta[2 * nb]
    four_ln2 = 4.0 * _LN2
    m_gauss = n if shape != LORENTZIAN else 0
    arg = np.empty(m_gauss)
    gexp = np.empty(m_gauss)
    work = np.empty(m_gauss)
    for k in range(nb):
        c = theta[k]
        inv_w = 1.0 / theta[nb + k]
        if shape == LORENTZIAN:
            # A loop of its own: the Gaussian's load below would keep this one from
            # being vectorised.
            for i in range(n):
                u = (x[i] - c) * inv_w
                den = 1.0 / (1.0 + 4.0 * u * u)
                lor = _LORENTZ_PEAK * inv_w * den
                phi[k, i] = lor
                dc[k, i] = lor * 8.0 * u * den * inv_w
                dw[k, i] = lor * inv_w * (4.0 * u * u - 1.0) * den
            continue
        for i in range(n):
            u = (x[i] - c) * inv_w
            arg[i] = -four_ln2 * u * u
        exp_nonpositive(arg, gexp, work)
        for i in range(n):
            u = (x[i] - c) * inv_w
            uu = u * u
            gau = _GAUSS_PEAK * inv_w * gexp[i]
            gc = gau * 2.0 * four_ln2 * u * inv_w
            gw = gau * inv_w * (2.0 * four_ln2 * uu - 1.0)
            if shape == GAUSSIAN:
                phi[k, i] = gau
                dc[k, i] = gc
                dw[k, i] = gw
            else:
                den = 1.0 / (1.0 + 4.0 * uu)
                lor = _LORENTZ_PEAK * inv_w * den
                lc = lor * 8.0 * u * den * inv_w
                lw = lor * inv_w * (4.0 * uu - 1.0) * den
                phi[k, i] = eta * lor + (1.0 - eta) * gau
                dc[k, i] = eta * lc + (1.0 - eta) * gc
                dw[k, i] = eta * lw + (1.0 - eta) * gw
                de[k, i] = lor - gau


@njit(**_JIT)
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


@njit(**_JIT)
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


@njit(**_JIT)
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
    chol_solve(ar, br, idx, k, low, sol)
    for s in range(q):
        step[s] = sol[label[group[s]]] if group[s] >= 0 else 0.0


@njit(**_JIT)
def _bounded_step(a, jtr, theta, lo, hi, order, nb, q, min_sep, free, group, low, step):
    """Solve ``a step = jtr`` into ``step``, then again with `_active_groups` applied."""
    for s in range(q):
        free[s] = s
    chol_solve(a, jtr, free, q, low, step)
    if _active_groups(theta, step, lo, hi, order, nb, q, min_sep, group):
        _solve_grouped(a, jtr, group, q, low, step)


@njit(**_JIT)
def fit_varpro(
    x, y, basis, theta, lo, hi, order, shape, fit_eta, max_iter, ftol, xtol, gtol, min_sep, coef
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
    ftol, xtol, gtol, min_sep : float
        Relative cost change, step size (cm-1), cost decrease predicted by the next
        Gauss-Newton step (in units of the mean squared residual) and minimal centre
        separation.
    coef : float64 array (nb + p,)
        Output linear coefficients.

    Returns
    -------
    status, n_iter, n_eval, cost
    """
    return _lm(
        x,
        y,
        basis,
        theta,
        lo,
        hi,
        order,
        shape,
        fit_eta,
        max_iter,
        ftol,
        xtol,
        gtol,
        min_sep,
        coef,
        np.empty((0, theta.size)),
        np.empty((0, theta.size)),
        np.inf,
    )[:4]


@njit(**_JIT)
def _lm(x, y, basis, theta, lo, hi, order, shape, fit_eta, max_iter, ftol, xtol, gtol, min_sep,
        coef, known, path, bound):  # fmt: skip
    """`fit_varpro`, stopping early when another start already did better.

    Starts that run into a minimum an earlier start already found, or onto its path
    (within `DUPLICATE_TOL` of a row of ``known``), would only converge to the same
    point: they stop with `STATUS_DUPLICATE`. Starts whose cost stays above
    ``bound`` (the best cost found so far) by more than `WORSE_FACTOR` times the
    predicted decrease stop with `STATUS_WORSE`. Accepted iterates are written to
    the rows of ``path`` while there is room; the number written is returned after
    the cost.
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
    a = np.empty((q, q))
    jtr = np.empty(q)
    diag = np.zeros(q)
    step = np.empty(q)
    trial = theta.copy()
    free = np.empty(q, dtype=np.int64)
    group = np.empty(q, dtype=np.int64)

    dx_max = 0.0
    for i in range(1, n):
        dx_max = max(dx_max, x[i] - x[i - 1])
    design(basis, y, nb, phi, h, g)
    design(basis, y, nb, t_phi, t_h, g)
    project(theta, lo, hi, order, nb, min_sep)
    stride = hessian_stride(theta, nb, dx_max)
    cost = evaluate(x, y, theta, nb, shape, phi, dc, dw, de, h, g, coef, passive, low, r)
    n_eval = 1
    n_path = 0
    lam = 1e-3
    nu = 2.0
    sig = 0.0  # secant correction sig * last last' (see SECANT_NEAR)
    last = np.zeros(q)
    status = STATUS_MAX_ITER
    it = 0
    while it < max_iter:
        # The stride only ever shrinks: one that followed the widths both ways would
        # flip back and forth at an integer boundary, and a flip caused by a
        # last-digit difference sends the path elsewhere (numba's cached and freshly
        # compiled kernels differ in their last digits).
        stride = min(stride, hessian_stride(theta, nb, dx_max))
        normal_equations(nb, q, fit_eta, phi, dc, dw, de, coef, passive, r, stride, a, jtr)
        if sig > 0.0:
            for s in range(q):
                for t in range(q):
                    a[s, t] += sig * last[s] * last[t]
        # On a bound the step's push outwards cannot be taken: without it, dec is the
        # decrease left, and a minimum on a bound stops by gtol instead of crawling on
        # to ftol (measured: 9 % fewer iterations, 600 spectra; chi-square up on 2 by
        # under 1, through starts stopped as worse a little sooner).
        _bounded_step(a, jtr, theta, lo, hi, order, nb, q, min_sep, free, group, low, step)
        dec = 0.0
        for s in range(q):
            dec += step[s] * jtr[s]
        # The Gauss-Newton step predicts the decrease ``dec``; below gtol noise
        # variances the parameters sit within sqrt(gtol) standard errors of the
        # minimum, and further iterations only crawl along the flat valley.
        if dec < gtol * cost / n:
            return STATUS_GTOL, it, n_eval, cost, n_path
        if it >= WORSE_AFTER and cost - WORSE_FACTOR * dec > bound:
            return STATUS_WORSE, it, n_eval, cost, n_path
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
            _bounded_step(a, jtr, theta, lo, hi, order, nb, q, min_sep, free, group, low, step)
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
                return status, it, n_eval, cost, n_path
            t_cost = evaluate(
                x, y, trial, nb, shape, t_phi, t_dc, t_dw, t_de, t_h, g, t_coef, t_passive, low, t_r
            )
            n_eval += 1
            if t_cost < cost:
                accepted = True
                # Along a sloppy direction the residual's own curvature, which
                # Gauss-Newton leaves out, can match the Gauss-Newton part: steps then
                # overshoot and the iterates zigzag with rho near 1/3. On a quadratic,
                # pred - actual = step' S step for the missing part S; near the minimum
                # the next matrix gets that much added along this step (a rank-one
                # secant correction), which turns the zigzag into a step to the bottom.
                ss = 0.0
                for s in range(q):
                    ss += step[s] * step[s]
                miss = pred - (cost - t_cost)
                near = pred < SECANT_NEAR * cost / n
                sig = miss / (ss * ss) if near and miss > 0.0 and ss > 0.0 else 0.0
                for s in range(q):
                    last[s] = step[s]
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
                copyto(coef, t_coef)
                passive, t_passive = t_passive, passive
                r, t_r = t_r, r
                if n_path < path.shape[0]:
                    copyto(path[n_path], theta)
                    n_path += 1
                if done:
                    return STATUS_FTOL, it, n_eval, cost, n_path
                for k in range(known.shape[0]):
                    far = False
                    for s in range(q):
                        if abs(theta[s] - known[k, s]) > DUPLICATE_TOL:
                            far = True
                            break
                    if not far:
                        return STATUS_DUPLICATE, it, n_eval, cost, n_path
            else:
                lam *= nu
                nu *= 2.0
                if lam > 1e16:
                    return STATUS_STALLED, it, n_eval, cost, n_path
            if it >= max_iter:
                break
    return status, it, n_eval, cost, n_path


#: Bits of the flag codes written by `fit_summary`; `FLAG_ABSENT` stands alone.
FLAG_POSITION_AT_BOUND = 1
FLAG_FWHM_AT_BOUND = 2
FLAG_UNRESOLVED = 4
FLAG_ABSENT = 8
#: A centre or FWHM this close to a bound (cm-1) counts as stuck there.
BOUND_TOL = 1e-3


@njit(**_JIT)
def bound_code(theta, lo, hi, nb, k):
    """Flag bits of band ``k`` for a centre or FWHM within `BOUND_TOL` of its bounds."""
    code = 0
    if min(theta[k] - lo[k], hi[k] - theta[k]) < BOUND_TOL:
        code |= FLAG_POSITION_AT_BOUND
    j = nb + k
    if min(theta[j] - lo[j], hi[j] - theta[j]) < BOUND_TOL:
        code |= FLAG_FWHM_AT_BOUND
    return code


@njit(**_JIT)
def trapped(theta, coef, lo, hi, nb):
    """Whether a minimum looks like a start caught in a wrong basin.

    A band on a bound of its centre or FWHM, or with zero area, is what a start
    ends with when the bands took each other's places and one was squeezed out;
    an interior minimum with every band present is rarely improved by other starts
    (see `fit_multistart`).
    """
    for k in range(nb):
        if coef[k] <= 0.0 or bound_code(theta, lo, hi, nb, k) != 0:
            return True
    return False


@njit(**_JIT)
def band_code(theta, lo, hi, nb, k, area, c_err, w_err, a_err):
    """Flag bits of band ``k`` of a solution, for `Result` and `MapResult` alike.

    `FLAG_ABSENT` alone for a zero area; otherwise `bound_code` and
    `FLAG_UNRESOLVED` when the data do not determine the band: an error NaN, or the
    area's (``a_err``, in the units of ``area``) or FWHM's error above half its value.
    """
    if area <= 0.0:
        return FLAG_ABSENT
    code = bound_code(theta, lo, hi, nb, k)
    finite = np.isfinite(c_err) and np.isfinite(w_err) and np.isfinite(a_err)
    if not finite or a_err > 0.5 * area or w_err > 0.5 * theta[nb + k]:
        code |= FLAG_UNRESOLVED
    return code


@njit(**_JIT)
def band_codes(theta, err, area, area_err, lo, hi, nb, codes):
    """`band_code` of every band of every row (a map's pixels) into ``codes`` (rows, nb).

    ``theta`` and ``err`` (rows, parameters) hold the centres and FWHMs first and their
    errors; ``area`` and ``area_err`` (rows, nb) the areas and their errors.
    """
    for i in range(theta.shape[0]):
        for k in range(nb):
            codes[i, k] = band_code(theta[i], lo, hi, nb, k, area[i, k], err[i, k],
                                    err[i, nb + k], area_err[i, k])  # fmt: skip


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
    gtol,
    min_sep,
    known0,
    bound0,
    all_starts,
    theta,
    coef,
):
    """Fit from the rows of ``starts`` in turn; keep the lowest cost.

    Unless ``all_starts``, starts stop once the best minimum so far is not
    `trapped`: measured on 600 held-out benchmark spectra (Lorentzian), the later
    starts then improved the chi-square by more than 1 on 4 of 600 spectra (by at
    most 3.6, against a spread of sqrt(2 n) ~ 35 from the noise), while the 29 %
    of spectra whose first minimum is trapped hold 25 of the 29 spectra with an
    improvement above 1 (up to 92); the whole fit takes 39 % fewer iterations
    (``benchmarks/starts.py``).

    A start that comes within `DUPLICATE_TOL` of an earlier start's path or minimum
    stops there, and so does one heading for a worse minimum than the best so far
    (see `WORSE_FACTOR`). Rows of ``known0`` are points known to lead to a minimum
    found elsewhere (a warm start's path in a map) and ``bound0`` is that
    minimum's cost (inf if none): starts reaching them, or worse than it, stop too.
    If every start stops so, the returned cost is infinite.

    Returns
    -------
    status, n_iter, n_eval, cost, best_start
        Iterations and evaluations are summed over all starts.
    """
    n_start = starts.shape[0]
    nb = order.size
    thetas = starts.copy()
    coefs = np.empty((n_start, coef.size))
    costs = np.full(n_start, np.inf)
    states = np.empty(n_start, dtype=np.int64)
    total_it = 0
    total_eval = 0
    n_known = known0.shape[0]
    bound = bound0
    known = np.empty((n_known + n_start * (PATH_LEN + 1), starts.shape[1]))
    for j in range(n_known):
        copyto(known[j], known0[j])
    for s in range(n_start):
        path = known[n_known : n_known + PATH_LEN]
        status, it, nev, cost, n_path = _lm(
            x, y, basis, thetas[s], lo, hi, order, shape, fit_eta, max_iter, ftol, xtol, gtol,
            min_sep, coefs[s], known[:n_known], path, bound,
        )  # fmt: skip
        total_it += it
        total_eval += nev
        states[s] = status
        stopped = status == STATUS_DUPLICATE or status == STATUS_WORSE
        costs[s] = np.inf if stopped else cost
        bound = min(bound, costs[s])
        if status != STATUS_MAX_ITER:
            # Every point on the way to a minimum leads there: a later start passing
            # close to any of them is stopped as a duplicate.
            n_known += n_path
            copyto(known[n_known], thetas[s])
            n_known += 1
        best = np.argmin(costs)
        if not all_starts and costs[best] < np.inf:
            if not trapped(thetas[best], coefs[best], lo, hi, nb):
                break
    best = np.argmin(costs)
    copyto(theta, thetas[best])
    copyto(coef, coefs[best])
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
def covariance(x, basis, theta, coef, nb, shape, fit_eta, redchi, cov):
    """Covariance ``redchi (J J^T)^-1`` of all parameters, rows as in `full_jacobian`.

    Parameters that do not move the model (the centre and width of a band whose
    area is zero) get NaN instead of making the matrix singular. The Gram matrix is
    left unscaled: `chol_factor` scales it to unit diagonal itself.
    """
    npar = cov.shape[0]
    n = x.size
    jac = np.empty((npar, n))
    full_jacobian(x, basis, theta, coef, nb, shape, fit_eta, jac)
    gram = np.empty((npar, npar))
    cross(jac, npar, jac, npar, gram, True)
    top = 0.0
    for i in range(npar):
        top = max(top, gram[i, i])
    idx = np.empty(npar, dtype=np.int64)
    k = 0
    for i in range(npar):
        if gram[i, i] > 1e-24 * top:
            idx[k] = i
            k += 1
    low = np.empty((npar, npar))
    d = np.empty(npar)
    chol_factor(gram, idx, k, low, d)
    inv = np.empty((k, k))
    chol_inverse(low, d, k, inv)
    cov[:, :] = np.nan
    for s in range(k):
        for t in range(k):
            cov[idx[s], idx[t]] = inv[s, t] * redchi


@njit(**_JIT)
def parameter_errors(cov, coef, nb, fit_eta, err):
    """1-sigma errors from a covariance: every parameter, then each area fraction (%).

    ``err`` has ``cov.shape[0] + nb`` entries; NaN where the data do not determine
    a value. Area fractions ``a_k / sum(a)`` by the delta method.
    """
    npar = cov.shape[0]
    for j in range(npar):
        err[j] = np.sqrt(cov[j, j]) if cov[j, j] > 0.0 else np.nan
    off = 2 * nb + (1 if fit_eta else 0)
    total = 0.0
    for k in range(nb):
        total += coef[k]
    for k in range(nb):
        if total <= 0.0:
            err[npar + k] = np.nan
            continue
        # Gradient of a_k / S by a_i: (delta_ki S - a_k) / S^2.
        var = 0.0
        for i in range(nb):
            gi = ((1.0 if i == k else 0.0) * total - coef[k]) / (total * total)
            for j in range(nb):
                gj = ((1.0 if j == k else 0.0) * total - coef[k]) / (total * total)
                c = cov[off + i, off + j]
                if c == c:
                    var += gi * c * gj
        err[npar + k] = 100.0 * np.sqrt(var) if var > 0.0 else np.nan


@njit(**_JIT)
def errors(x, basis, theta, coef, nb, shape, fit_eta, redchi, cov, err):
    """`covariance` into ``cov``, then `parameter_errors` into ``err``."""
    covariance(x, basis, theta, coef, nb, shape, fit_eta, redchi, cov)
    parameter_errors(cov, coef, nb, fit_eta, err)


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


#: Rows of the ``table`` block written by `fit_summary`, in `Result.table`'s order.
TABLE_ROWS = (
    "position",
    "position_err",
    "fwhm",
    "fwhm_err",
    "height",
    "area",
    "area_err",
    "area_pct",
    "area_pct_err",
)


@njit(**_JIT)
def fit_summary(x, y, basis, theta, coef, nb, shape, fit_eta, have_cov, initial, scale, lo, hi,
                curves, cov, err, table, codes):  # fmt: skip
    """Everything a `Result` holds of a solution in scaled units, in data units.

    ``y`` are the scaled data; data = ``initial + scale * y``. Writes ``curves``
    (nb + 4, n): each band, the baseline, the data, the best fit and the residual;
    ``cov``, the covariance of all parameters (computed unless ``have_cov``, when it
    holds one in scaled units), and ``err``, their 1-sigma errors followed by those
    of the area fractions (%), both with areas and baseline coefficients in data
    units; ``table`` (`TABLE_ROWS`, nb), the band table's numbers; ``codes`` (nb),
    each band's flag bits (`band_code`): a centre or FWHM on its bounds
    ``lo``/``hi``, an undetermined band (an error NaN, or the area's or FWHM's
    error above half its value), or `FLAG_ABSENT` (zero area). Returns the residual
    and total sums of squares of the data.
    """
    n = x.size
    p = basis.shape[0]
    npar = cov.shape[0]
    comps = curves[:nb]
    base = model(x, basis, theta, coef, nb, shape, comps)
    rss_scaled = 0.0
    for i in range(n):
        fit_i = base[i]
        for k in range(nb):
            fit_i += comps[k, i]
        rss_scaled += (y[i] - fit_i) ** 2
    if have_cov:
        parameter_errors(cov, coef, nb, fit_eta, err)
    else:
        errors(x, basis, theta, coef, nb, shape, fit_eta, rss_scaled / max(n - npar, 1), cov,
               err)  # fmt: skip
    linear = npar - nb - p
    for j in range(npar):
        sj = scale if j >= linear else 1.0
        err[j] *= sj
        for t in range(npar):
            cov[j, t] *= sj * (scale if t >= linear else 1.0)
    mean = 0.0
    for i in range(n):
        mean += initial[i] + scale * y[i]
    mean /= n
    rss = 0.0
    tss = 0.0
    for i in range(n):
        data = initial[i] + scale * y[i]
        baseline = initial[i] + scale * base[i]
        fit_i = baseline
        for k in range(nb):
            comps[k, i] *= scale
            fit_i += comps[k, i]
        curves[nb, i] = baseline
        curves[nb + 1, i] = data
        curves[nb + 2, i] = fit_i
        curves[nb + 3, i] = data - fit_i
        rss += (data - fit_i) ** 2
        tss += (data - mean) ** 2
    band_table(theta, coef, nb, shape, scale, lo, hi, err, linear, table, codes)
    return rss, tss


@njit(**_JIT)
def band_table(theta, coef, nb, shape, scale, lo, hi, err, area_off, table, codes):
    """Fill `fit_summary`'s band table and flag codes (``err`` in data units)."""
    mix = 1.0 if shape == LORENTZIAN else (0.0 if shape == GAUSSIAN else theta[2 * nb])
    peak = mix * _LORENTZ_PEAK + (1.0 - mix) * _GAUSS_PEAK
    total = 0.0
    for k in range(nb):
        total += coef[k] * scale
    for k in range(nb):
        c = theta[k]
        w = theta[nb + k]
        area = coef[k] * scale
        c_err = err[k]
        w_err = err[nb + k]
        a_err = err[area_off + k]
        table[0, k] = c
        table[1, k] = c_err
        table[2, k] = w
        table[3, k] = w_err
        table[4, k] = area / w * peak
        table[5, k] = area
        table[6, k] = a_err
        table[7, k] = 100.0 * area / total if total > 0.0 else np.nan
        table[8, k] = err[err.size - nb + k]
        codes[k] = band_code(theta, lo, hi, nb, k, area, c_err, w_err, a_err)
