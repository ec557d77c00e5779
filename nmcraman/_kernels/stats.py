"""Numba statistics of a solution: covariance, parameter errors, band table, flag codes.

Used by `Result` (one spectrum, `fit_summary`) and `MapResult` (`band_tables`, one
row per pixel) alike: one code path builds the band table and flags everywhere.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .jit import JIT
from .linalg import chol_factor, chol_inverse, cross
from .profiles import GAUSS_PEAK, GAUSSIAN, LORENTZ_PEAK, LORENTZIAN, full_jacobian, model

#: Bits of the flag codes written by `fit_summary`; `FLAG_ABSENT` stands alone.
FLAG_POSITION_AT_BOUND = 1
FLAG_FWHM_AT_BOUND = 2
FLAG_UNRESOLVED = 4
FLAG_ABSENT = 8
#: A centre or FWHM this close to a bound (cm-1) counts as stuck there.
BOUND_TOL = 1e-3


@njit(**JIT)
def bound_code(theta, lo, hi, nb, k):
    """Flag bits of band ``k`` for a centre or FWHM within `BOUND_TOL` of its bounds.

    A value held fixed (``lo == hi``, `nmcraman._engine.problem.Geometry`) is where the user
    put it, not stuck: it is never flagged.
    """
    code = 0
    if hi[k] > lo[k] and min(theta[k] - lo[k], hi[k] - theta[k]) < BOUND_TOL:
        code |= FLAG_POSITION_AT_BOUND
    j = nb + k
    if hi[j] > lo[j] and min(theta[j] - lo[j], hi[j] - theta[j]) < BOUND_TOL:
        code |= FLAG_FWHM_AT_BOUND
    return code


@njit(**JIT)
def held_count(link, q):
    """How many of the first ``q`` slots of ``link`` are held: fixed (-1) or tied."""
    n = 0
    for s in range(q):
        if link[s] != s:
            n += 1
    return n


@njit(**JIT)
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


@njit(**JIT)
def covariance(x, basis, theta, coef, nb, shape, fit_eta, redchi, link, cov):
    """Covariance ``redchi (J J^T)^-1`` of all parameters, rows as in `full_jacobian`.

    Parameters that do not move the model (the centre and width of a band whose
    area is zero) get NaN instead of making the matrix singular. The Gram matrix is
    left unscaled: `chol_factor` scales it to unit diagonal itself.

    ``link`` is the parameter map of the nonlinear slots
    (`nmcraman._engine.problem.parameter_links`): a slot tied to another moves with it, so
    its Jacobian row is added to that slot's; a fixed slot (-1) does not move. Held
    slots then get their target's rows and columns (tied) or zeros (fixed).
    """
    npar = cov.shape[0]
    n = x.size
    q = 2 * nb + (1 if fit_eta else 0)
    jac = np.empty((npar, n))
    full_jacobian(x, basis, theta, coef, nb, shape, fit_eta, jac)
    held = held_count(link, q)
    for s in range(q):
        if link[s] >= 0 and link[s] != s:
            for i in range(n):
                jac[link[s], i] += jac[s, i]
    for s in range(q):
        if link[s] != s:
            jac[s, :] = 0.0
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
    if held:
        _unfold(cov, link, q)


@njit(**JIT)
def _unfold(cov, link, q):
    """Give held slots their rows of ``cov``: a tied slot its target's, a fixed one zeros."""
    for s in range(q):
        if link[s] >= 0 and link[s] != s:
            cov[s, :] = cov[link[s], :]
    for s in range(q):
        if link[s] >= 0 and link[s] != s:
            cov[:, s] = cov[:, link[s]]
    for s in range(q):
        if link[s] < 0:
            cov[s, :] = 0.0
            cov[:, s] = 0.0


@njit(**JIT)
def parameter_errors(cov, coef, nb, fit_eta, err):
    """1-sigma errors from a covariance: every parameter, then each area fraction (%).

    ``err`` has ``cov.shape[0] + nb`` entries; NaN where the data do not determine
    a value, zero for a parameter held fixed (zero variance). Area fractions
    ``a_k / sum(a)`` by the delta method.
    """
    npar = cov.shape[0]
    for j in range(npar):
        err[j] = np.sqrt(cov[j, j]) if cov[j, j] >= 0.0 else np.nan
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


@njit(**JIT)
def errors(x, basis, theta, coef, nb, shape, fit_eta, redchi, link, cov, err):
    """`covariance` into ``cov``, then `parameter_errors` into ``err``."""
    covariance(x, basis, theta, coef, nb, shape, fit_eta, redchi, link, cov)
    parameter_errors(cov, coef, nb, fit_eta, err)


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


@njit(**JIT)
def fit_summary(x, y, basis, theta, coef, nb, shape, fit_eta, link, have_cov, initial, scale, lo,
                hi, curves, cov, err, table, codes):  # fmt: skip
    """Everything a `Result` holds of a solution in scaled units, in data units.

    ``y`` are the scaled data; data = ``initial + scale * y``; ``link`` is the
    parameter map of held slots (`covariance`). Writes ``curves``
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
        dof = max(n - npar + held_count(link, 2 * nb + (1 if fit_eta else 0)), 1)
        errors(x, basis, theta, coef, nb, shape, fit_eta, rss_scaled / dof, link, cov, err)
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


@njit(**JIT)
def band_table(theta, coef, nb, shape, scale, lo, hi, err, area_off, table, codes):
    """Fill `fit_summary`'s band table and flag codes (``err`` in data units)."""
    mix = 1.0 if shape == LORENTZIAN else (0.0 if shape == GAUSSIAN else theta[2 * nb])
    peak = mix * LORENTZ_PEAK + (1.0 - mix) * GAUSS_PEAK
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


@njit(**JIT)
def band_tables(theta, coef, err, scale, nb, shape, lo, hi, table, codes):
    """`band_table` of every row (a map's pixels), from the fits' scaled units.

    ``theta``, ``coef`` and ``err`` hold one solution per row as `errors` writes them
    (areas, baseline coefficients and their errors in units of the row's ``scale``);
    writes ``table`` (`TABLE_ROWS`, rows, nb) and ``codes`` (rows, nb).
    """
    npar = err.shape[1] - nb
    linear = npar - coef.shape[1]
    e = np.empty(err.shape[1])
    for i in range(theta.shape[0]):
        for j in range(e.size):
            e[j] = err[i, j] * (scale[i] if linear <= j < npar else 1.0)
        band_table(theta[i], coef[i], nb, shape, scale[i], lo, hi, e, linear, table[:, i, :],
                   codes[i])  # fmt: skip


def information_criteria(rss, n: int, k: int):
    """AIC and BIC of least-squares fits, for `Result` and `MapResult` alike.

    ``n ln(rss / n) + 2 k`` and ``n ln(rss / n) + k ln n`` for ``n`` points and ``k``
    fitted parameters (`nmcraman._engine.problem.Layout.n_fitted`: held ones do not count);
    ``rss`` a number or an array (one per pixel).
    """
    fit = n * np.log(np.maximum(rss, 1e-300) / n)
    return fit + 2 * k, fit + np.log(n) * k
