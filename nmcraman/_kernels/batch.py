"""Numba driver that fits many spectra on one axis, with warm starts.

Spectra are grouped in chunks (a map row, say); inside a chunk, spectra run in
order and each is fitted from its predecessor's solution (a warm start) and from the
first prior start, and from the other prior starts only when that fit is poor. A
spectrum without a warm start (the first of a chunk, or every one when warm starts
are off) is fitted exactly as `nmcraman.deconvolve` fits it (`fit_cold`).

The driver is serial and releases the GIL: `nmcraman.maps` runs blocks of chunks on
a pool of Python threads, which balances the load, overlaps the per-block numpy work
with the fitting, and needs no thread-safe numba threading layer (the default
workqueue layer is not).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .jit import JIT
from .levmar import (
    PATH_LEN,
    S_ALL_STARTS,
    S_FIT_ETA,
    S_SHAPE,
    S_WARM_RATIO,
    STATUS_MAX_ITER,
    _lm,
    fit_multistart,
    trapped,
)
from .linalg import copyto
from .profiles import LORENTZIAN, model
from .stats import errors, held_count

#: Columns of the ``info`` output of `fit_batch`.
INFO = ("status", "n_iter", "n_eval", "cost", "start", "redchi")
#: Column of each of `INFO`.
INFO_STATUS, INFO_N_ITER, INFO_N_EVAL, INFO_COST, INFO_START, INFO_REDCHI = range(len(INFO))
#: ``info["status"]`` of a spectrum that was skipped (flagged bad before the fit).
STATUS_SKIPPED = -1
#: ``info["start"]`` of a spectrum solved from its neighbour's solution.
START_WARM = -1
#: ``row_mode`` of `fit_batch`: rows' own starts unused, used alone (screening), or
#: continued with the prior starts (full fit of a screened candidate).
ROW_NONE, ROW_SCREEN, ROW_CONTINUE = range(3)


@njit(**JIT)
def fit_batch(x, ys, basis, starts, lo, hi, order, link, settings, chunks, noise_var, skip,
              row_starts, row_mode, theta_out, coef_out, err_out, info_out):  # fmt: skip
    """Fit every row of ``ys`` (scaled intensities, one spectrum per row).

    Parameters
    ----------
    x : float64 (n,)
        Ascending axis of the fit window, cm-1.
    ys : float64 (N, n)
        Spectra, each already divided by its own scale and with any fixed starting
        baseline removed.
    basis, starts, lo, hi, order, link
        As for `nmcraman._kernels.levmar.fit_multistart`.
    settings : float64 array
        The settings record of `nmcraman._kernels.levmar.make_settings`; its ``warm_ratio``
        turns warm starts on (see below) and its ``all_starts`` is the rule of the
        spectra fitted without one (`fit_cold`).
    chunks : int64 (C + 1,)
        Spectra ``chunks[c]`` to ``chunks[c + 1] - 1`` form chunk c.
    noise_var : float64 (N,)
        Noise variance of each scaled spectrum; a warm-started fit whose reduced
        chi-square exceeds ``warm_ratio`` times it is refitted from all prior starts.
    skip : bool (N,)
        Spectra not to fit (flagged bad beforehand).
    row_starts : float64 (N, q) or (0, q)
        A start of each row's own (a solution of the same spectrum in a neighbouring
        window or baseline order, `nmcraman.maps.choice`), used where finite as
        ``row_mode`` says, in place of the neighbour's warm start or the priors.
    row_mode : int
        `ROW_SCREEN`: fit from the row's start alone (`nmcraman.choice.screen` of a
        candidate after the first); `ROW_CONTINUE`: from it and the prior starts as
        `nmcraman._engine.single.solve` continues a screened candidate (`_fit_continued`).
    theta_out, coef_out, err_out, info_out
        Outputs, one row per spectrum; ``err_out`` holds the parameter errors in
        `full_jacobian` order followed by the area-% errors.
    """
    shape = int(settings[S_SHAPE])
    fit_eta = settings[S_FIT_ETA] > 0.5
    warm_ratio = settings[S_WARM_RATIO]
    warm = warm_ratio > 0.0
    # Warm-started spectra run their prior starts by ``warm_ratio``, every one they run.
    every = _with(settings, S_ALL_STARTS, 1.0)
    nb = order.size
    n = x.size
    # ``err_out`` has every parameter's error, then each area fraction's (the layout
    # of `nmcraman._engine.problem.Layout`).
    npar = err_out.shape[1] - nb
    dof = max(n - npar + held_count(link, 2 * nb + (1 if fit_eta else 0)), 1)
    n_start = starts.shape[0]
    for c in range(chunks.size - 1):
        have_prev = False
        prev = np.empty(starts.shape[1])
        theta = np.empty(starts.shape[1])
        coef = np.empty(coef_out.shape[1])
        t_theta = np.empty(starts.shape[1])
        t_coef = np.empty(coef_out.shape[1])
        warm_path = np.empty((PATH_LEN + 1, starts.shape[1]))
        cold_starts = np.empty((n_start + 1, starts.shape[1]))
        cov = np.empty((npar, npar))
        for i in range(chunks[c], chunks[c + 1]):
            if skip[i]:
                info_out[i, INFO_STATUS] = STATUS_SKIPPED
                continue
            y = ys[i]
            own = row_starts.shape[0] > 0 and np.isfinite(row_starts[i, 0])
            if own and row_mode == ROW_SCREEN:
                best_status, n_iter, n_eval, best_cost, best_start = fit_multistart(
                    x, y, basis, row_starts[i : i + 1], lo, hi, order, link, settings,
                    cold_starts[:0], np.inf, theta, coef,
                )  # fmt: skip
            elif own and row_mode == ROW_CONTINUE:
                best_status, n_iter, n_eval, best_cost, best_start = _fit_continued(
                    x, y, basis, starts, lo, hi, order, link, settings, row_starts[i],
                    cold_starts, theta, coef, t_theta, t_coef,
                )  # fmt: skip
            elif warm and have_prev:
                best_status, n_iter, n_eval, best_cost, best_start = _fit_warm(
                    x, y, basis, starts, lo, hi, order, link, every, prev,
                    warm_ratio * noise_var[i], dof, warm_path, theta, coef, t_theta, t_coef,
                )  # fmt: skip
            else:
                best_status, n_iter, n_eval, best_cost, best_start = fit_cold(
                    x, y, basis, starts, lo, hi, order, link, settings, cold_starts, theta, coef
                )
            info_out[i, INFO_STATUS] = best_status
            info_out[i, INFO_N_ITER] = n_iter
            info_out[i, INFO_N_EVAL] = n_eval
            info_out[i, INFO_COST] = best_cost
            info_out[i, INFO_START] = best_start
            info_out[i, INFO_REDCHI] = best_cost / dof
            copyto(theta_out[i], theta)
            copyto(coef_out[i], coef)
            redchi = info_out[i, INFO_REDCHI]
            errors(x, basis, theta, coef, nb, shape, fit_eta, redchi, link, cov, err_out[i])
            copyto(prev, theta)
            have_prev = True


@njit(**JIT)
def _fit_warm(x, y, basis, starts, lo, hi, order, link, settings, prev, good_redchi, dof,
              warm_path, theta, coef, t_theta, t_coef):  # fmt: skip
    """Fit from the neighbour's solution ``prev`` and the first prior start, keep the better.

    The other prior starts run only when the better fit's reduced chi-square (cost over
    ``dof``) is above ``good_redchi``, or that fit did not converge; ``settings`` is
    the settings record with ``all_starts`` set, so that they all run then. Returns
    status, iterations, evaluations, cost and start (`START_WARM` for the warm start);
    the solution in ``theta`` and ``coef``.
    """
    copyto(theta, prev)
    best_status, n_iter, n_eval, best_cost, n_path = _lm(
        x, y, basis, theta, lo, hi, order, link, settings, coef, warm_path[:0],
        warm_path[:PATH_LEN], np.inf,
    )  # fmt: skip
    best_start = START_WARM
    n_warm = 0
    if best_status != STATUS_MAX_ITER:
        # Prior starts that run onto the warm fit's path stop there.
        copyto(warm_path[n_path], theta)
        n_warm = n_path + 1
    # The first prior start always runs: a warm start alone inherits its neighbour's
    # local minimum; the other starts only when the fit is still poor.
    for first, upto in ((0, 1), (1, starts.shape[0])):
        if upto <= first:
            continue
        if first > 0 and best_status != STATUS_MAX_ITER and best_cost / dof <= good_redchi:
            break
        status, it, nev, cost, b = fit_multistart(
            x, y, basis, starts[first:upto], lo, hi, order, link, settings, warm_path[:n_warm],
            best_cost, t_theta, t_coef,
        )  # fmt: skip
        n_iter += it
        n_eval += nev
        if cost < best_cost:
            best_cost = cost
            best_status = status
            best_start = first + b
            copyto(theta, t_theta)
            copyto(coef, t_coef)
    return best_status, n_iter, n_eval, best_cost, best_start


@njit(**JIT)
def _fit_continued(x, y, basis, starts, lo, hi, order, link, settings, warm, work, theta, coef,
                   t_theta, t_coef):  # fmt: skip
    """Fit from ``warm`` and the first prior start, then the others if needed.

    As `nmcraman._engine.single.solve` continues a candidate from its screening solution:
    both starts always run; the other prior starts when every start is asked for
    (``all_starts``, or bands other than Lorentzian) or the better minimum is trapped
    (`nmcraman._kernels.levmar.trapped`). ``work`` has room for two starts. The returned start
    index counts ``warm`` as 0.
    """
    nb = order.size
    copyto(work[0], warm)
    copyto(work[1], starts[0])
    every = _with(settings, S_ALL_STARTS, 1.0)
    status, n_iter, n_eval, cost, best = fit_multistart(
        x, y, basis, work[:2], lo, hi, order, link, every, work[:0], np.inf, theta, coef
    )
    all_starts = settings[S_ALL_STARTS] > 0.5 or int(settings[S_SHAPE]) != LORENTZIAN
    if starts.shape[0] > 1 and (all_starts or trapped(theta, coef, lo, hi, nb)):
        rest = every if all_starts else settings
        more = fit_multistart(
            x, y, basis, starts[1:], lo, hi, order, link, rest, work[:0], np.inf, t_theta,
            t_coef,
        )  # fmt: skip
        n_iter += more[1]
        n_eval += more[2]
        if more[3] < cost:
            status, cost, best = more[0], more[3], more[4] + 2
            copyto(theta, t_theta)
            copyto(coef, t_coef)
    return status, n_iter, n_eval, cost, best


@njit(**JIT)
def fit_cold(x, y, basis, starts, lo, hi, order, link, settings, work, theta, coef):
    """Fit from the prior starts alone, exactly as `nmcraman.fit.deconvolve` does.

    The starts run by `fit_multistart`'s rule (every one if the settings record's
    ``all_starts``). Gaussian and pseudo-Voigt bands are first fitted as Lorentzians,
    whose smoother landscape traps fewer starts, and that solution leads the starts
    (``work`` holds them, one row more than ``starts``); every start then runs.
    Returns status, iterations, evaluations, cost and the index of the winning start;
    the solution in ``theta`` and ``coef``.
    """
    none = work[:0]
    if int(settings[S_SHAPE]) == LORENTZIAN:
        return fit_multistart(
            x, y, basis, starts, lo, hi, order, link, settings, none, np.inf, theta, coef
        )
    lorentzian = _with(_with(settings, S_SHAPE, float(LORENTZIAN)), S_FIT_ETA, 0.0)
    _, it, nev, _, _ = fit_multistart(
        x, y, basis, starts, lo, hi, order, link, lorentzian, none, np.inf, theta, coef
    )
    copyto(work[0], theta)
    work[0, -1] = starts[0, -1]
    for s in range(starts.shape[0]):
        copyto(work[s + 1], starts[s])
    status, it2, nev2, cost, best = fit_multistart(
        x, y, basis, work, lo, hi, order, link, _with(settings, S_ALL_STARTS, 1.0), none,
        np.inf, theta, coef,
    )  # fmt: skip
    return status, it + it2, nev + nev2, cost, best


@njit(**JIT)
def _with(settings, field, value):
    """Copy the settings record ``settings`` with ``settings[field]`` set to ``value``."""
    record = settings.copy()
    record[field] = value
    return record


@njit(**JIT)
def averaged_rss(x, ys, basis, thetas, coefs, weights, nb, shape, rss_out):
    """Residual sum of squares of each row's model average (``window="auto"`` maps).

    Parameters
    ----------
    x, ys, basis
        As for `fit_batch`, ``basis`` of the highest order averaged: the Legendre
        columns of lower orders are its first rows.
    thetas : float64 (F, N, q)
        Each fit's solution per row.
    coefs : float64 (F, N, nb + basis rows)
        Each fit's areas and baseline coefficients, zero past its own order.
    weights : float64 (F, N)
        Each fit's weight per row; a fit of weight 0 is not evaluated.
    rss_out : float64 (N,)
        Written: ``|y - sum_f w_f model_f|^2`` per row, scaled units.
    """
    n = x.size
    comps = np.empty((nb, n))
    acc = np.empty(n)
    for i in range(ys.shape[0]):
        acc[:] = 0.0
        for f in range(thetas.shape[0]):
            w = weights[f, i]
            if w == 0.0:
                continue
            base = model(x, basis, thetas[f, i], coefs[f, i], nb, shape, comps)
            for j in range(n):
                total = base[j]
                for k in range(nb):
                    total += comps[k, j]
                acc[j] += w * total
        total = 0.0
        for j in range(n):
            r = ys[i, j] - acc[j]
            total += r * r
        rss_out[i] = total
