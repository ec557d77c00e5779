"""Slow, obviously correct numpy twins of the numba kernels."""

import math

import numpy as np
from scipy.optimize import lsq_linear

from nmcraman.lineshapes import LINESHAPES

SHAPES = ("lorentzian", "gaussian", "pseudo_voigt")


def unit_profiles(x, theta, nb, shape):
    """Unit-area band profiles, shape (nb, n)."""
    extra = {"eta": theta[2 * nb]} if shape == "pseudo_voigt" else {}
    f = LINESHAPES[shape]
    return np.array([f(x, 1.0, theta[k], theta[nb + k], **extra) for k in range(nb)])


def model(x, basis, theta, coef, nb, shape):
    """Full model: bands plus baseline."""
    return coef[:nb] @ unit_profiles(x, theta, nb, shape) + coef[nb:] @ basis


def numeric_jacobian(x, basis, theta, coef, nb, shape, fit_eta, h=1e-6):
    """Central differences of `model`, rows as in `nmcraman._kernels.profiles.full_jacobian`."""
    rows = []
    idx = list(range(2 * nb)) + ([2 * nb] if fit_eta else [])
    for j in idx:
        tp, tm = theta.copy(), theta.copy()
        tp[j] += h
        tm[j] -= h
        rows.append(
            (model(x, basis, tp, coef, nb, shape) - model(x, basis, tm, coef, nb, shape)) / (2 * h)
        )
    rows.extend(unit_profiles(x, theta, nb, shape))
    rows.extend(basis)
    return np.array(rows)


def chi2_sf(x, df):
    """Chi-square survival function in closed form: ``erfc`` for 1 degree of freedom, and for
    an even number ``2m`` the Poisson sum ``exp(-x/2) sum_{j<m} (x/2)^j / j!``."""
    if df == 1:
        return math.erfc(math.sqrt(x / 2.0))
    if df % 2:
        raise ValueError("closed form for 1 or an even number of degrees of freedom only")
    half = x / 2.0
    return math.exp(-half) * math.fsum(half**j / math.factorial(j) for j in range(df // 2))


def nnls_free(phi, y, nb):
    """Least squares with the first nb coefficients non-negative, via scipy."""
    lb = np.r_[np.zeros(nb), np.full(phi.shape[0] - nb, -np.inf)]
    return lsq_linear(phi.T, y, bounds=(lb, np.inf), method="bvls", tol=1e-14).x


def covariance(jac, redchi):
    """``redchi (J J^T)^-1`` with NaN for parameters that do not move the model."""
    npar = jac.shape[0]
    norms = np.sqrt(np.einsum("ij,ij->i", jac, jac))
    live = norms > 1e-12 * norms.max()
    cov = np.full((npar, npar), np.nan)
    js = jac[live] / norms[live, None]
    cov[np.ix_(live, live)] = np.linalg.inv(js @ js.T) / np.outer(norms[live], norms[live]) * redchi
    return cov


def kaufman_normal_equations(x, basis, theta, coef, nb, shape, fit_eta, r):
    """Kaufman's variable-projection ``J^T J`` and ``-J^T r`` from explicit n x n algebra.

    ``coef`` must be the least-squares coefficients at ``theta`` (all bands present),
    so that ``r`` is orthogonal to every column.
    """
    jac = numeric_jacobian(x, basis, theta, coef, nb, shape, fit_eta)
    q = 2 * nb + int(fit_eta)
    v = jac[:q]
    phi = np.vstack([unit_profiles(x, theta, nb, shape), basis])
    proj = np.eye(x.size) - phi.T @ np.linalg.solve(phi @ phi.T, phi)
    jk = -proj @ v.T
    return jk.T @ jk, -jk.T @ r
