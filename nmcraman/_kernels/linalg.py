"""Small dense linear algebra for the kernels (numba): dot, Cholesky, NNLS.

The systems here are tiny (at most about 30 unknowns), so hand-written loops beat
LAPACK calls and keep each fit allocation-light; every solve is Jacobi-scaled.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .jit import JIT

_RIDGE = 1e-11


@njit(**JIT)
def copyto(dst, src):
    """``dst[:] = src`` for 1-D arrays of one size, as a plain loop (`numpy.copyto` order).

    numba compiles every slice assignment from an array with a formatted
    shape-mismatch error, string formatting included: about 6 s of a cold
    compile of the kernels that this loop does not need.
    """
    for i in range(src.size):
        dst[i] = src[i]


@njit(**JIT)
def dot(u, v):
    acc = 0.0
    for i in range(u.size):
        acc += u[i] * v[i]
    return acc


@njit(**JIT)
def cross(a, ka, b, kb, out, lower):
    """``out[s, t] = a[s] . b[t]`` for ``s < ka``, ``t < kb`` (only ``t <= s`` if ``lower``).

    Computed in blocks of 4 rows of ``a`` by 2 rows of ``b``: every loaded element
    feeds several products, so the loop is bound by arithmetic instead of loads
    (about twice as fast as one `dot` per entry). With ``lower``, entries just
    above the diagonal may be written too, with their correct values.
    """
    n = a.shape[1]
    for s0 in range(0, ka, 4):
        s1 = min(s0 + 1, ka - 1)
        s2 = min(s0 + 2, ka - 1)
        s3 = min(s0 + 3, ka - 1)
        t_end = min(s0 + 4, kb) if lower else kb
        for t0 in range(0, t_end, 2):
            t1 = min(t0 + 1, kb - 1)
            c00 = 0.0
            c01 = 0.0
            c10 = 0.0
            c11 = 0.0
            c20 = 0.0
            c21 = 0.0
            c30 = 0.0
            c31 = 0.0
            for i in range(n):
                u = b[t0, i]
                w = b[t1, i]
                x0 = a[s0, i]
                x1 = a[s1, i]
                x2 = a[s2, i]
                x3 = a[s3, i]
                c00 += x0 * u
                c01 += x0 * w
                c10 += x1 * u
                c11 += x1 * w
                c20 += x2 * u
                c21 += x2 * w
                c30 += x3 * u
                c31 += x3 * w
            out[s0, t0] = c00
            out[s0, t1] = c01
            out[s1, t0] = c10
            out[s1, t1] = c11
            out[s2, t0] = c20
            out[s2, t1] = c21
            out[s3, t0] = c30
            out[s3, t1] = c31


@njit(**JIT)
def chol_factor(a, idx, k, low, d):
    """Factor the Jacobi-scaled ``a[idx][:, idx]`` into ``low``; inverse scales into ``d``.

    The diagonal of ``low`` holds the reciprocals of the factor's diagonal and ``d``
    the reciprocals of the scales: the substitutions then multiply instead of
    divide, and a division costs as much as a dozen multiplications in their
    dependent chains. A tiny ridge keeps nearly collinear columns (two bands pushed
    onto each other) finite instead of failing.
    """
    for s in range(k):
        v = a[idx[s], idx[s]]
        d[s] = 1.0 / np.sqrt(v) if v > 0.0 else 1.0
    for s in range(k):
        ds = d[s]
        for t in range(s + 1):
            acc = a[idx[s], idx[t]] * (ds * d[t])
            for j in range(t):
                acc -= low[s, j] * low[t, j]
            if s == t:
                acc += _RIDGE
                low[s, s] = 1.0 / np.sqrt(acc) if acc > 0.0 else 1e150
            else:
                low[s, t] = acc * low[t, t]


@njit(**JIT)
def chol_forward(low, d, idx, k, rhs, z):
    """Forward half of a solve: ``z = L^-1 D rhs[idx]`` with a factor from `chol_factor`.

    ``z . z`` is then ``rhs^T a^-1 rhs``, which is all a Gram correction needs.
    """
    for s in range(k):
        acc = rhs[idx[s]] * d[s]
        for j in range(s):
            acc -= low[s, j] * z[j]
        z[s] = acc * low[s, s]


@njit(**JIT)
def chol_subst(low, d, idx, k, rhs, out, z):
    """Solve with a factor from `chol_factor`; write the solution into ``out[idx]``."""
    chol_forward(low, d, idx, k, rhs, z)
    for s in range(k - 1, -1, -1):
        acc = z[s]
        for j in range(s + 1, k):
            acc -= low[j, s] * z[j]
        z[s] = acc * low[s, s]
    for s in range(k):
        out[idx[s]] = z[s] * d[s]


@njit(**JIT)
def chol_inverse(low, d, k, out):
    """Inverse of the matrix factored by `chol_factor`, in its ``k`` x ``k`` index space.

    ``a^-1 = D L^-T L^-1 D``: the triangular inverse first, then its Gram; unlike
    one substitution per unit vector, whose steps wait on each other, every inner
    loop here runs over independent columns.
    """
    inv = np.zeros((k, k))
    for s in range(k):
        inv[s, s] = low[s, s]
        for t in range(s):
            acc = 0.0
            for j in range(t, s):
                acc += low[s, j] * inv[j, t]
            inv[s, t] = -acc * low[s, s]
    for s in range(k):
        for t in range(s + 1):
            acc = 0.0
            for j in range(s, k):
                acc += inv[j, s] * inv[j, t]
            out[s, t] = acc * d[s] * d[t]
            out[t, s] = out[s, t]


@njit(**JIT)
def chol_solve(a, rhs, idx, k, low, out):
    """Solve the SPD system ``a[idx][:, idx] z = rhs[idx]``; write z into ``out[idx]``."""
    d = np.empty(k)
    z = np.empty(k)
    chol_factor(a, idx, k, low, d)
    chol_subst(low, d, idx, k, rhs, out, z)


@njit(**JIT)
def passive_index(passive, idx):
    k = 0
    for j in range(passive.size):
        if passive[j]:
            idx[k] = j
            k += 1
    return k


@njit(**JIT)
def solve_passive(h, g, passive, low, out):
    idx = np.empty(passive.size, dtype=np.int64)
    k = passive_index(passive, idx)
    for j in range(passive.size):
        if not passive[j]:
            out[j] = 0.0
    chol_solve(h, g, idx, k, low, out)


@njit(**JIT)
def nnls_free(h, g, nb, coef, passive, low):
    """Least squares from normal equations with ``coef[:nb] >= 0``, the rest free.

    Lawson-Hanson active set on the normal equations ``h coef = g``; tries the
    unconstrained solution first since most spectra have all bands present.
    """
    m = g.size
    for j in range(m):
        passive[j] = True
    solve_passive(h, g, passive, low, coef)
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
    solve_passive(h, g, passive, low, coef)
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
            solve_passive(h, g, passive, low, z)
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
