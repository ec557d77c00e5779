"""The same model built with lmfit: the reference engine (``engine="lmfit"``).

Same parameters (centre, FWHM, area per band, Legendre baseline coefficients, eta),
same bounds, same starts (areas and baseline from the linear solve at each start),
same scaled data; lmfit's Levenberg-Marquardt (MINPACK ``leastsq``) instead of the
variable-projection kernel. The band-order constraint is not expressible as simple
bounds, so lmfit relies on the centre windows alone.
"""

from __future__ import annotations

import numpy as np

from .._kernels import levmar, varpro
from ..lineshapes import LINESHAPES


def _linear_start(problem, theta: np.ndarray) -> np.ndarray:
    nb, n = problem.nb, problem.x.size
    m = problem.layout.n_linear
    coef = np.empty(m)
    phi, h, g = np.empty((m, n)), np.empty((m, m)), np.empty(m)
    varpro.design(problem.basis, problem.y, nb, phi, h, g)
    scratch = (np.empty((nb, n)) for _ in range(3))
    varpro.evaluate(
        problem.x,
        problem.y,
        theta,
        nb,
        problem.shape_code,
        phi,
        *scratch,
        h,
        g,
        coef,
        np.empty(m, dtype=np.bool_),
        np.empty((m, m)),
        np.empty(n),
    )
    return coef


def _vectors(v, ids, n_basis) -> tuple[np.ndarray, np.ndarray]:
    """Return the kernel's ``theta`` and ``coef`` for a set of lmfit parameters."""
    theta = np.array(
        [v[f"{i}_position"].value for i in ids]
        + [v[f"{i}_fwhm"].value for i in ids]
        + [v["eta"].value]
    )
    coef = np.array(
        [v[f"{i}_area"].value for i in ids] + [v[f"baseline_c{j}"].value for j in range(n_basis)]
    )
    return theta, coef


def fit_lmfit(problem) -> dict:
    """Fit ``problem`` with lmfit from its starts; return the best, like the kernel.

    Starts run in turn and, as in the kernel, stop once the best minimum is not
    `nmcraman._kernels.levmar.trapped` unless ``FitOptions.all_starts`` (Lorentzian bands).
    """
    import lmfit

    nb = problem.nb
    names = problem.param_names()
    ids = [b.id for b in problem.bands]
    profile = LINESHAPES[problem.shape]
    x, y, basis = problem.x, problem.y, problem.basis

    def residual(params):
        v = params.valuesdict()
        extra = {"eta": v["eta"]} if problem.shape == "pseudo_voigt" else {}
        out = y.copy()
        for i in ids:
            out -= profile(x, v[f"{i}_area"], v[f"{i}_position"], v[f"{i}_fwhm"], **extra)
        for j in range(basis.shape[0]):
            out -= v[f"baseline_c{j}"] * basis[j]
        return out

    best = None
    n_eval = 0
    for start, theta0 in enumerate(problem.starts):
        coef0 = _linear_start(problem, theta0)
        params = lmfit.Parameters()
        for k, i in enumerate(ids):
            for name, slot in ((f"{i}_position", k), (f"{i}_fwhm", nb + k)):
                _add_bounded(params, name, theta0[slot], problem.lo[slot], problem.hi[slot])
            params.add(f"{i}_area", max(coef0[k], 1e-6), min=0.0)
        for j in range(basis.shape[0]):
            params.add(f"baseline_c{j}", coef0[nb + j])
        params.add("eta", theta0[problem.layout.eta], min=0.0, max=1.0, vary=problem.fit_eta)
        _constrain(params, problem.bands)
        out = lmfit.minimize(residual, params, method="leastsq", max_nfev=20000)
        n_eval += out.nfev
        if best is None or out.chisqr < best[0].chisqr:
            best = (out, start, *_vectors(out.params, ids, basis.shape[0]))
        # The kernel's rule for the remaining starts (see FitOptions.all_starts).
        if not problem.all_starts and not levmar.trapped(
            best[2], best[3], problem.lo, problem.hi, nb
        ):
            break
    out, start, theta, coef = best
    cov = None
    if out.covar is not None:
        cov = _covariance(out, names, problem.bands)
    return {
        "theta": theta,
        "coef": coef,
        "n_iter": int(n_eval),
        "n_eval": int(n_eval),
        "converged": bool(out.success),
        "message": f"lmfit leastsq: {out.message}",
        "covariance": cov,
        "start": start,
        "engine": "lmfit",
    }


def _add_bounded(params, name: str, value: float, lo: float, hi: float) -> None:
    """Add a parameter within ``[lo, hi]``; held at ``lo`` when the two meet (`Band.fix`)."""
    if lo < hi:
        params.add(name, value, min=lo, max=hi)
    else:
        params.add(name, lo, vary=False)


def _constrain(params, bands) -> None:
    """`Band.fix` as ``vary=False`` at the prior value, `Band.tie` as an lmfit ``expr``."""
    for b in bands:
        for param in b.fix:
            value = b.centre if param == "position" else b.fwhm
            params[f"{b.id}_{param}"].set(value=value, vary=False)
        for param, target in b.tie:
            params[f"{b.id}_{param}"].set(expr=f"{target}_{param}")


def _covariance(out, names, bands) -> np.ndarray:
    """Spread lmfit's covariance of the varied parameters onto every name.

    A fixed parameter gets zero variance, a tied one the rows of the parameter it reads.
    """
    source = {f"{b.id}_{p}": f"{t}_{p}" for b in bands for p, t in b.tie}
    pos = {name: k for k, name in enumerate(out.var_names)}
    idx = np.array([pos.get(source.get(name, name), -1) for name in names])
    live = idx >= 0
    cov = np.zeros((len(names), len(names)))
    cov[np.ix_(live, live)] = out.covar[np.ix_(idx[live], idx[live])]
    return cov
