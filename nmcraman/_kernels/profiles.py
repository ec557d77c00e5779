"""Numba band profiles: unit-area line shapes, their derivatives, the model, the Jacobian.

The one definition of the line-shape codes and peak constants: `nmcraman.lineshapes`
(the pure numpy reference shapes) imports them from here.

Parameter layout read by these kernels (``nb`` bands, ``p`` baseline columns):

- ``theta`` (2 nb + 1): centres, FWHMs (cm-1), then the pseudo-Voigt mixing ratio
  ``eta`` (ignored unless the shape is pseudo-Voigt);
- ``coef`` (nb + p): band areas, then baseline coefficients.

`nmcraman._engine.problem.Layout` owns the names, counts and slices of this layout.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .jit import JIT

#: Line-shape codes of the kernels, by name (`SHAPE_CODES`).
LORENTZIAN = 0
GAUSSIAN = 1
PSEUDO_VOIGT = 2
SHAPE_CODES = {"lorentzian": LORENTZIAN, "gaussian": GAUSSIAN, "pseudo_voigt": PSEUDO_VOIGT}

_LN2 = np.log(2.0)
#: Peak value of a unit-area Gaussian times its FWHM.
GAUSS_PEAK = 2.0 * np.sqrt(_LN2 / np.pi)
#: Peak value of a unit-area Lorentzian times its FWHM.
LORENTZ_PEAK = 2.0 / np.pi

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

    numba's ``np.exp`` is a scalar libm call, several times slower than a Lorentzian
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


@njit(**JIT)
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
                lor = LORENTZ_PEAK * inv_w * den
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
            gau = GAUSS_PEAK * inv_w * gexp[i]
            gc = gau * 2.0 * four_ln2 * u * inv_w
            gw = gau * inv_w * (2.0 * four_ln2 * uu - 1.0)
            if shape == GAUSSIAN:
                phi[k, i] = gau
                dc[k, i] = gc
                dw[k, i] = gw
            else:
                den = 1.0 / (1.0 + 4.0 * uu)
                lor = LORENTZ_PEAK * inv_w * den
                lc = lor * 8.0 * u * den * inv_w
                lw = lor * inv_w * (4.0 * uu - 1.0) * den
                phi[k, i] = eta * lor + (1.0 - eta) * gau
                dc[k, i] = eta * lc + (1.0 - eta) * gc
                dw[k, i] = eta * lw + (1.0 - eta) * gw
                de[k, i] = lor - gau


@njit(**JIT)
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


@njit(**JIT)
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
