"""Numba kernels for sets of spectra on one axis: each spectrum's variable projection.

A joint fit reads each spectrum's centres, FWHMs and eta from a parameter vector that
spectra share (`nmcraman._engine.pooled` assembles them); what is per spectrum (areas,
baseline coefficients, the residual and the projected Gauss-Newton matrix) is computed
here, spectrum by spectrum, with the same `nmcraman._kernels.varpro` routines a single fit
uses. Cost is linear in the number of spectra and there is no Python per spectrum.

Arguments are arrays and scalars only; ``thetas`` rows follow the layout of
`nmcraman._kernels.profiles` (centres, FWHMs, eta).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .jit import JIT
from .profiles import full_jacobian
from .varpro import design, evaluate, normal_equations, project


@njit(**JIT)
def _scratch(nb, m, q, n):
    phi = np.empty((m, n))
    dc = np.empty((nb, n))
    dw = np.empty((nb, n))
    de = np.empty((nb, n))
    h = np.empty((m, m))
    g = np.empty(m)
    passive = np.empty(m, dtype=np.bool_)
    low = np.empty((max(m, q), max(m, q)))
    r = np.empty(n)
    return phi, dc, dw, de, h, g, passive, low, r


@njit(**JIT)
def evaluate_set(x, ys, basis, thetas, nb, shape, costs, coefs):
    """Solve each spectrum's areas and baseline at its own row of ``thetas``.

    Parameters
    ----------
    x : float64 (n,)
        Ascending axis of the fit window, cm-1.
    ys : float64 (N, n)
        Scaled intensities, one spectrum per row.
    basis : float64 (p, n)
        Baseline columns.
    thetas : float64 (N, 2 nb + 1)
        Centres, FWHMs and eta of each spectrum.
    nb, shape : int
        Number of bands and line-shape code.
    costs : float64 (N,)
        Output: each spectrum's residual sum of squares.
    coefs : float64 (N, nb + p)
        Output: areas (non-negative) and baseline coefficients.
    """
    n = x.size
    m = nb + basis.shape[0]
    phi, dc, dw, de, h, g, passive, low, r = _scratch(nb, m, 2 * nb + 1, n)
    for s in range(ys.shape[0]):
        design(basis, ys[s], nb, phi, h, g)
        costs[s] = evaluate(x, ys[s], thetas[s], nb, shape, phi, dc, dw, de, h, g, coefs[s],
                            passive, low, r)  # fmt: skip


@njit(**JIT)
def normal_set(x, ys, basis, thetas, nb, shape, fit_eta, stride, costs, coefs, a, jtr):
    """`evaluate_set`, plus each spectrum's projected Gauss-Newton matrix and gradient.

    ``a`` (N, q, q) and ``jtr`` (N, q), q = 2 nb (+1 with ``fit_eta``), receive
    ``J^T J`` and ``-J^T r`` of each spectrum's variable projection by its own
    centres, FWHMs (and eta), as `nmcraman._kernels.varpro.normal_equations` gives them for
    one spectrum; ``stride`` samples the matrix (1: every point, as the covariance
    needs).
    """
    n = x.size
    m = nb + basis.shape[0]
    q = a.shape[1]
    phi, dc, dw, de, h, g, passive, low, r = _scratch(nb, m, q, n)
    for s in range(ys.shape[0]):
        design(basis, ys[s], nb, phi, h, g)
        costs[s] = evaluate(x, ys[s], thetas[s], nb, shape, phi, dc, dw, de, h, g, coefs[s],
                            passive, low, r)  # fmt: skip
        normal_equations(nb, q, fit_eta, phi, dc, dw, de, coefs[s], passive, r, stride, a[s],
                         jtr[s])  # fmt: skip


@njit(**JIT)
def fisher_set(x, basis, thetas, coefs, nb, shape, fit_eta, fisher):
    """Each spectrum's unweighted Fisher matrix ``J J^T`` of all its parameters.

    ``fisher`` (N, P, P), P = q + nb + p, rows in the order of
    `nmcraman._kernels.profiles.full_jacobian` (centres, FWHMs, eta if fitted, areas,
    baseline): what the joint covariance needs to carry the uncertainty of shared
    parameters into each spectrum's areas.
    """
    n = x.size
    npar = fisher.shape[1]
    jac = np.empty((npar, n))
    for s in range(thetas.shape[0]):
        full_jacobian(x, basis, thetas[s], coefs[s], nb, shape, fit_eta, jac)
        for i in range(npar):
            for j in range(i + 1):
                acc = 0.0
                for t in range(n):
                    acc += jac[i, t] * jac[j, t]
                fisher[s, i, j] = acc
                fisher[s, j, i] = acc


@njit(**JIT)
def project_set(thetas, lo, hi, order, nb, min_sep):
    """`nmcraman._kernels.varpro.project` on every row of ``thetas``."""
    for s in range(thetas.shape[0]):
        project(thetas[s], lo, hi, order, nb, min_sep)
