"""Numba bounded Levenberg-Marquardt on the projected problem, from one or many starts.

`fit_varpro` runs one start; `fit_multistart` runs several in turn and stops starts
that head for a minimum already found or for a worse one. The linear algebra of each
step (evaluate, normal equations, bounds) is `nmcraman._kernels.varpro`'s.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numba import njit

from .jit import JIT
from .linalg import copyto
from .stats import bound_code
from .varpro import (
    _bounded_step,
    design,
    evaluate,
    hessian_stride,
    normal_equations,
    project,
)

#: How a start ended (``status`` of `fit_varpro` and `fit_multistart`).
STATUS_MAX_ITER = 0
STATUS_FTOL = 1
STATUS_XTOL = 2
STATUS_STALLED = 3
STATUS_DUPLICATE = 4
STATUS_GTOL = 5
STATUS_WORSE = 6
#: A start whose centres and widths all come this close (cm-1) to a minimum already
#: found by an earlier start, or to a point on the way there, is stopped: it would
#: converge to the same point.
DUPLICATE_TOL = 4.0
#: A start is given up once its cost, less this many times the decrease its next
#: Gauss-Newton step predicts, is still above the best cost of an earlier start: it is
#: heading for a worse minimum.
WORSE_FACTOR = 2.0
#: ... after this many iterations of the start, so that its first steps, which
#: predict poorly, are taken.
WORSE_AFTER = 2
#: Points of each start's path kept for that test.
PATH_LEN = 64
#: Near a minimum (a step predicting less than this many noise variances of decrease),
#: the curvature the Gauss-Newton matrix misses along the last step is measured from
#: that step's actual decrease and added back for the next one (see `_secant`).
SECANT_NEAR = 0.1

#: Fields of the settings record, one float64 array read by `fit_varpro`,
#: `fit_multistart` and `nmcraman._kernels.batch.fit_batch` alike (built by `make_settings`).
SETTINGS = (
    "shape", "fit_eta", "max_iter", "ftol", "xtol", "gtol", "min_sep", "all_starts", "warm_ratio",
)  # fmt: skip
#: Index of each of `SETTINGS`.
(S_SHAPE, S_FIT_ETA, S_MAX_ITER, S_FTOL, S_XTOL, S_GTOL, S_MIN_SEP, S_ALL_STARTS,
 S_WARM_RATIO) = range(len(SETTINGS))  # fmt: skip


@lru_cache(maxsize=64)
def make_settings(shape, fit_eta, options, min_sep, all_starts=False, warm_ratio=0.0) -> np.ndarray:
    """Build the settings record of the kernels, in the order of `SETTINGS`.

    Parameters
    ----------
    shape : int
        Line-shape code (`nmcraman._kernels.profiles.SHAPE_CODES`).
    fit_eta : bool
        Whether eta is fitted (pseudo-Voigt only).
    options : FitOptions
        Gives ``max_iter`` (accepted-or-rejected steps per start), ``ftol`` (relative
        cost change), ``xtol`` (step size, cm-1) and ``gtol`` (cost decrease
        predicted by the next Gauss-Newton step, in mean squared residuals).
    min_sep : float
        Minimal separation of consecutive centres, cm-1.
    all_starts : bool, optional
        `fit_multistart` runs every start instead of stopping once a minimum is not
        `trapped`.
    warm_ratio : float, optional
        `nmcraman._kernels.batch.fit_batch` only: warm starts and the ratio that keeps them
        (see `FitOptions.warm_ratio`); 0 turns warm starts off.

    Returns
    -------
    numpy.ndarray
        Read-only: cached, as every fit of a kind reads the same record.
    """
    values = {
        "shape": shape, "fit_eta": fit_eta, "max_iter": options.max_iter,
        "ftol": options.ftol, "xtol": options.xtol, "gtol": options.gtol,
        "min_sep": min_sep, "all_starts": all_starts, "warm_ratio": warm_ratio,
    }  # fmt: skip
    record = np.array([float(values[name]) for name in SETTINGS])
    record.setflags(write=False)
    return record


@njit(**JIT)
def fit_varpro(x, y, basis, theta, lo, hi, order, link, settings, coef):
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
    link : int64 array like theta
        The parameter map (`nmcraman._engine.problem.parameter_links`): ``s`` for a free
        slot, -1 for one held fixed (its bounds equal its value), the target's
        index for a tied one (same bounds and start as its target).
    settings : float64 array
        The settings record (`make_settings`): shape, eta, tolerances, separation.
    coef : float64 array (nb + p,)
        Output linear coefficients.

    Returns
    -------
    status, n_iter, n_eval, cost
    """
    none = np.empty((0, theta.size))
    return _lm(x, y, basis, theta, lo, hi, order, link, settings, coef, none, none, np.inf)[:4]


@njit(**JIT)
def _point(m, nb, n):
    """Allocate the arrays of the model at one point (`varpro.evaluate`'s outputs).

    Design rows ``phi`` and their derivatives ``dc``, ``dw``, ``de``, Gram matrix
    ``h``, passive set and residual ``r``, for ``m`` linear parameters, ``nb`` bands
    and ``n`` points. `_lm` keeps two, the current point's and the trial's, and swaps
    them when a trial is accepted.
    """
    return (np.empty((m, n)), np.empty((nb, n)), np.empty((nb, n)), np.empty((nb, n)),
            np.empty((m, m)), np.empty(m, dtype=np.bool_), np.empty(n))  # fmt: skip


@njit(**JIT)
def _work(theta, m, q):
    """Allocate the scratch of the steps of a start from ``theta``.

    Gauss-Newton matrix ``a``, gradient ``jtr``, Marquardt scaling ``diag``, ``step``,
    ``trial`` point, active-set indices ``free`` and ``group``, Cholesky factor
    ``low`` and the ``last`` accepted step.
    """
    k = max(m, q)
    return (np.empty((q, q)), np.empty(q), np.zeros(q), np.empty(q), theta.copy(),
            np.empty(q, dtype=np.int64), np.empty(q, dtype=np.int64), np.empty((k, k)),
            np.zeros(q))  # fmt: skip


@njit(**JIT)
def _add_secant(a, sig, last, q):
    """Add the rank-one secant correction ``sig last last'`` to ``a`` (see `_secant`)."""
    if sig > 0.0:
        for s in range(q):
            for t in range(q):
                a[s, t] += sig * last[s] * last[t]


@njit(**JIT)
def _scaling(a, diag, q):
    """Raise the Marquardt scaling ``diag`` to the diagonal of ``a``; return its maximum."""
    dmax = 0.0
    for s in range(q):
        diag[s] = max(diag[s], a[s, s])
        dmax = max(dmax, diag[s])
    return dmax


@njit(**JIT)
def _damped_step(a, jtr, diag, dmax, lam, theta, lo, hi, order, nb, q, min_sep, link, free,
                 group, low, step):  # fmt: skip
    """Solve the Levenberg-Marquardt system with damping ``lam`` into ``step``.

    The damping is added to the diagonal of ``a``, scaled by ``diag`` (at least 1e-12
    of its largest entry ``dmax``), and taken off again.
    """
    for s in range(q):
        a[s, s] += lam * max(diag[s], 1e-12 * dmax)
    _bounded_step(a, jtr, theta, lo, hi, order, nb, q, min_sep, link, free, group, low, step)
    for s in range(q):
        a[s, s] -= lam * max(diag[s], 1e-12 * dmax)


@njit(**JIT)
def _trial(theta, step, trial, a, jtr, lo, hi, order, nb, q, min_sep, xtol):
    """Project ``theta + step`` into ``trial``; keep the step taken in ``step``.

    Returns whether every parameter moved at most ``xtol`` and the decrease of the
    cost the Gauss-Newton model predicts for the step taken.
    """
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
    return small, pred


@njit(**JIT)
def _secant(step, last, q, pred, gain, cost, n):
    """Scale of the rank-one secant correction after an accepted ``step``.

    Along a sloppy direction the residual's own curvature, which Gauss-Newton leaves
    out, can match the Gauss-Newton part: steps then overshoot and the iterates zigzag
    with rho near 1/3. On a quadratic, ``pred - gain = step' S step`` for the missing
    part S; near the minimum (`SECANT_NEAR`) the next matrix gets that much added
    along this step, which turns the zigzag into a step to the bottom. Stores the step
    in ``last``.
    """
    ss = 0.0
    for s in range(q):
        ss += step[s] * step[s]
    miss = pred - gain
    near = pred < SECANT_NEAR * cost / n
    for s in range(q):
        last[s] = step[s]
    return miss / (ss * ss) if near and miss > 0.0 and ss > 0.0 else 0.0


@njit(**JIT)
def _is_duplicate(theta, known, q):
    """Whether ``theta`` lies within `DUPLICATE_TOL` of a row of ``known`` in every entry."""
    for k in range(known.shape[0]):
        far = False
        for s in range(q):
            if abs(theta[s] - known[k, s]) > DUPLICATE_TOL:
                far = True
                break
        if not far:
            return True
    return False


@njit(**JIT)
def _lm(x, y, basis, theta, lo, hi, order, link, settings, coef, known, path, bound):
    """`fit_varpro`, stopping early when another start already did better.

    Starts that run into a minimum an earlier start already found, or onto its path
    (within `DUPLICATE_TOL` of a row of ``known``), would only converge to the same
    point: they stop with `STATUS_DUPLICATE`. Starts whose cost stays above
    ``bound`` (the best cost found so far) by more than `WORSE_FACTOR` times the
    predicted decrease stop with `STATUS_WORSE`. Accepted iterates are written to
    the rows of ``path`` while there is room; the number written is returned after
    the cost.
    """
    shape = int(settings[S_SHAPE])
    fit_eta = settings[S_FIT_ETA] > 0.5
    max_iter = int(settings[S_MAX_ITER])
    ftol, xtol, gtol = settings[S_FTOL], settings[S_XTOL], settings[S_GTOL]
    min_sep = settings[S_MIN_SEP]
    n = x.size
    nb = order.size
    m = nb + basis.shape[0]
    q = 2 * nb + (1 if fit_eta else 0)
    phi, dc, dw, de, h, passive, r = _point(m, nb, n)
    t_phi, t_dc, t_dw, t_de, t_h, t_passive, t_r = _point(m, nb, n)
    g = np.empty(m)
    t_coef = np.empty(m)
    a, jtr, diag, step, trial, free, group, low, last = _work(theta, m, q)
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
    status = STATUS_MAX_ITER
    it = 0
    while it < max_iter:
        # The stride only ever shrinks: one that followed the widths both ways would
        # flip back and forth at an integer boundary, and a flip caused by a
        # last-digit difference sends the path elsewhere (numba's cached and freshly
        # compiled kernels differ in their last digits).
        stride = min(stride, hessian_stride(theta, nb, dx_max))
        normal_equations(nb, q, fit_eta, phi, dc, dw, de, coef, passive, r, stride, a, jtr)
        _add_secant(a, sig, last, q)
        # On a bound the step's push outwards cannot be taken: without it, dec is the
        # decrease left, and a minimum on a bound stops by gtol instead of crawling on
        # to ftol.
        _bounded_step(a, jtr, theta, lo, hi, order, nb, q, min_sep, link, free, group, low, step)
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
        dmax = _scaling(a, diag, q)
        if dmax == 0.0:
            status = STATUS_STALLED
            break
        accepted = False
        while not accepted:
            it += 1
            _damped_step(a, jtr, diag, dmax, lam, theta, lo, hi, order, nb, q, min_sep, link,
                         free, group, low, step)  # fmt: skip
            small, pred = _trial(theta, step, trial, a, jtr, lo, hi, order, nb, q, min_sep, xtol)
            if small:
                return STATUS_XTOL, it, n_eval, cost, n_path
            t_cost = evaluate(x, y, trial, nb, shape, t_phi, t_dc, t_dw, t_de, t_h, g, t_coef,
                              t_passive, low, t_r)  # fmt: skip
            n_eval += 1
            if t_cost < cost:
                accepted = True
                sig = _secant(step, last, q, pred, cost - t_cost, cost, n)
                rho = (cost - t_cost) / pred if pred > 0.0 else 0.0
                lam *= max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
                nu = 2.0
                done = cost - t_cost <= ftol * cost
                cost = t_cost
                for s in range(theta.size):
                    theta[s] = trial[s]
                # The trial's arrays become the current point's; the old ones are reused.
                phi, dc, dw, de, h, passive, r, t_phi, t_dc, t_dw, t_de, t_h, t_passive, t_r = (
                    t_phi, t_dc, t_dw, t_de, t_h, t_passive, t_r, phi, dc, dw, de, h, passive, r
                )  # fmt: skip
                copyto(coef, t_coef)
                if n_path < path.shape[0]:
                    copyto(path[n_path], theta)
                    n_path += 1
                if done:
                    return STATUS_FTOL, it, n_eval, cost, n_path
                if _is_duplicate(theta, known, q):
                    return STATUS_DUPLICATE, it, n_eval, cost, n_path
            else:
                lam *= nu
                nu *= 2.0
                if lam > 1e16:
                    return STATUS_STALLED, it, n_eval, cost, n_path
            if it >= max_iter:
                break
    return status, it, n_eval, cost, n_path


@njit(**JIT)
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


@njit(**JIT)
def fit_multistart(x, y, basis, starts, lo, hi, order, link, settings, known0, bound0, theta,
                   coef):  # fmt: skip
    """Fit from the rows of ``starts`` in turn; keep the lowest cost.

    ``link`` is the parameter map of `fit_varpro`; ``settings`` is the settings
    record (`make_settings`). Unless its ``all_starts``,
    starts stop once the best minimum so far is not `trapped`: later starts rarely
    improve an untrapped minimum, while trapped ones hold most of the improvements.

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
    all_starts = settings[S_ALL_STARTS] > 0.5
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
            x, y, basis, thetas[s], lo, hi, order, link, settings, coefs[s], known[:n_known], path,
            bound,
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
