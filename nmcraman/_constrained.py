"""One spectrum whose bands fix or tie parameters (`Band.fix`, `Band.tie`).

The parameter map (`nmcraman._problem.parameter_map`) folds fixed and tied slots away;
the pooled Levenberg-Marquardt of `nmcraman._pooling`, on a set of one spectrum, walks
what is left. `nmcraman.fit` uses this engine whenever a band holds a parameter.
"""

from __future__ import annotations

import numpy as np

from . import _pooling as PL
from ._problem import parameter_map
from .qc import noise_sigma


def fit_single(problem, min_sep: float, free_theta=None) -> dict:
    """One spectrum whose bands fix or tie parameters: a pooled fit of a set of one.

    Runs from ``free_theta`` (the spectrum's fit without the constraints, put onto
    them: the best start, as constraints move a minimum little) and from each of the
    problem's starts, and keeps the lowest residual; returns what
    `nmcraman.result.Result.from_fit` takes, like the other engines.
    """
    lay = problem.layout
    fold, offset = parameter_map(problem.bands, lay.fit_eta)
    model = PL.Model(
        lay.nb, problem.shape_code, lay.fit_eta, float(problem.starts[0, lay.eta]),
        np.full(fold.shape[1], PL.SHARED), fold, offset, np.asarray(problem.lo),
        np.asarray(problem.hi), np.asarray(problem.order), min_sep,
    )  # fmt: skip
    group = PL.Group(
        problem.x, np.ascontiguousarray(problem.y[None]), problem.basis, np.zeros(1, int)
    )
    # Weighted by the noise, so that the tolerances are in chi-square units.
    w, tau = np.array([1.0 / max(noise_sigma(problem.y)[0], 1e-12) ** 2]), np.zeros(model.q)
    best, chosen, n_iter = None, 0, 0
    starts = np.asarray(problem.starts)
    if free_theta is not None:
        starts = np.vstack([free_theta[None, :], starts])
    for k, start in enumerate(starts):
        mu0 = model.reduce(start)
        res = PL.fit([group], model, w, mu0, mu0[None], tau, lay.n_linear)
        n_iter += res.n_iter
        if best is None or res.costs[0] < best.costs[0]:
            best, chosen = res, k
    cov = PL.covariance([group], model, w, best, tau, lay.n_linear)
    redchi = w[0] * best.costs[0] / max(problem.x.size - lay.n_fitted, 1)
    full = PL.full_covariance(
        problem.x, problem.basis, best.thetas[:1], best.coefs[:1], model, cov.theta[:1], w, redchi
    )[0]
    return {
        "theta": best.thetas[0],
        "coef": best.coefs[0],
        "n_iter": n_iter,
        "n_eval": n_iter,
        "converged": best.converged,
        "message": "converged: fixed and tied parameters held"
        if best.converged
        else "not converged: maximum number of iterations reached",
        "covariance": full,
        "start": chosen,
    }
