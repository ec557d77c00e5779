"""Numba driver that fits many spectra on one axis, with warm starts.

Spectra are grouped in chunks (a map row, say); inside a chunk, spectra run in
order and each is fitted from its predecessor's solution (a warm start) and from the
first prior start, and from the other prior starts only when that fit is poor.

The driver is serial and releases the GIL: `nmcraman.maps` runs blocks of chunks on
a pool of Python threads, which balances the load, overlaps the per-block numpy work
with the fitting, and needs no thread-safe numba threading layer (the default
workqueue layer is not).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._jit import JIT
from ._levmar import (
    PATH_LEN,
    S_FIT_ETA,
    S_SHAPE,
    S_WARM_RATIO,
    STATUS_MAX_ITER,
    _lm,
    fit_multistart,
)
from ._linalg import copyto
from ._stats import errors

#: Columns of the ``info`` output of `fit_batch`.
INFO = ("status", "n_iter", "n_eval", "cost", "start", "redchi")
#: Column of each of `INFO`.
INFO_STATUS, INFO_N_ITER, INFO_N_EVAL, INFO_COST, INFO_START, INFO_REDCHI = range(len(INFO))
#: ``info["status"]`` of a spectrum that was skipped (flagged bad before the fit).
STATUS_SKIPPED = -1
#: ``info["start"]`` of a spectrum solved from its neighbour's solution.
START_WARM = -1


@njit(**JIT)
def fit_batch(x, ys, basis, starts, lo, hi, order, settings, chunks, noise_var, skip,
              theta_out, coef_out, err_out, info_out):  # fmt: skip
    """Fit every row of ``ys`` (scaled intensities, one spectrum per row).

    Parameters
    ----------
    x : float64 (n,)
        Ascending axis of the fit window, cm-1.
    ys : float64 (N, n)
        Spectra, each already divided by its own scale and with any fixed starting
        baseline removed.
    basis, starts, lo, hi, order
        As for `nmcraman._levmar.fit_multistart`.
    settings : float64 array
        The settings record of `nmcraman._levmar.make_settings`; its ``warm_ratio``
        turns warm starts on (see below) and its ``all_starts`` applies to the
        prior starts.
    chunks : int64 (C + 1,)
        Spectra ``chunks[c]`` to ``chunks[c + 1] - 1`` form chunk c.
    noise_var : float64 (N,)
        Noise variance of each scaled spectrum; a warm-started fit whose reduced
        chi-square exceeds ``warm_ratio`` times it is refitted from all prior starts.
    skip : bool (N,)
        Spectra not to fit (flagged bad beforehand).
    theta_out, coef_out, err_out, info_out
        Outputs, one row per spectrum; ``err_out`` holds the parameter errors in
        `full_jacobian` order followed by the area-% errors.
    """
    shape = int(settings[S_SHAPE])
    fit_eta = settings[S_FIT_ETA] > 0.5
    warm_ratio = settings[S_WARM_RATIO]
    warm = warm_ratio > 0.0
    nb = order.size
    n = x.size
    # ``err_out`` has every parameter's error, then each area fraction's (the layout
    # of `nmcraman._problem.Layout`).
    npar = err_out.shape[1] - nb
    dof = max(n - npar, 1)
    n_start = starts.shape[0]
    for c in range(chunks.size - 1):
        have_prev = False
        prev = np.empty(starts.shape[1])
        theta = np.empty(starts.shape[1])
        coef = np.empty(coef_out.shape[1])
        t_theta = np.empty(starts.shape[1])
        t_coef = np.empty(coef_out.shape[1])
        warm_path = np.empty((PATH_LEN + 1, starts.shape[1]))
        cov = np.empty((npar, npar))
        for i in range(chunks[c], chunks[c + 1]):
            if skip[i]:
                info_out[i, INFO_STATUS] = STATUS_SKIPPED
                continue
            y = ys[i]
            n_iter = 0
            n_eval = 0
            best_cost = np.inf
            best_status = STATUS_MAX_ITER
            best_start = 0
            n_warm = 0
            n_first = n_start
            if warm and have_prev:
                copyto(theta, prev)
                best_status, n_iter, n_eval, best_cost, n_path = _lm(
                    x, y, basis, theta, lo, hi, order, settings, coef, warm_path[:0],
                    warm_path[:PATH_LEN], np.inf,
                )  # fmt: skip
                best_start = START_WARM
                if best_status != STATUS_MAX_ITER:
                    # Prior starts that run onto the warm fit's path stop there.
                    copyto(warm_path[n_path], theta)
                    n_warm = n_path + 1
                n_first = 1
            # The first prior start always runs: a warm start alone inherits its
            # neighbour's local minimum; the other starts only when the fit is still
            # poor.
            done_to = 0
            for upto in (n_first, n_start):
                if upto <= done_to:
                    continue
                if done_to > 0 and best_status != STATUS_MAX_ITER:
                    if best_cost / dof <= warm_ratio * noise_var[i]:
                        break
                status, it, nev, cost, b = fit_multistart(
                    x, y, basis, starts[done_to:upto], lo, hi, order, settings,
                    warm_path[:n_warm], best_cost, t_theta, t_coef,
                )  # fmt: skip
                n_iter += it
                n_eval += nev
                if cost < best_cost:
                    best_cost = cost
                    best_status = status
                    best_start = done_to + b
                    copyto(theta, t_theta)
                    copyto(coef, t_coef)
                done_to = upto
            info_out[i, INFO_STATUS] = best_status
            info_out[i, INFO_N_ITER] = n_iter
            info_out[i, INFO_N_EVAL] = n_eval
            info_out[i, INFO_COST] = best_cost
            info_out[i, INFO_START] = best_start
            info_out[i, INFO_REDCHI] = best_cost / dof
            copyto(theta_out[i], theta)
            copyto(coef_out[i], coef)
            redchi = info_out[i, INFO_REDCHI]
            errors(x, basis, theta, coef, nb, shape, fit_eta, redchi, cov, err_out[i])
            copyto(prev, theta)
            have_prev = True
