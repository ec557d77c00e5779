"""One prepared problem fitted by an engine: the numba kernels or lmfit.

`solve` runs the numba engine (optionally from a warm start: the solution of a
neighbouring problem), `run` either engine into the output `Result.from_fit` takes
(`nmcraman.choice.fit_once` builds the Result). Orchestration (which
problems to fit, and what to make of them) is `nmcraman.fit`'s and
`nmcraman.choice`'s.
"""

from __future__ import annotations

import numpy as np

from .._kernels import levmar
from .._kernels.profiles import LORENTZIAN
from ..errors import InputError
from .problem import MIN_SEPARATION, Problem

__all__ = ["run", "solve"]


def _multistart(problem: Problem, starts, shape: int, fit_eta: bool, all_starts: bool, options):
    settings = levmar.make_settings(shape, fit_eta, options, MIN_SEPARATION, all_starts)
    theta = np.empty(problem.layout.n_theta)
    coef = np.empty(problem.layout.n_linear)
    status, n_iter, n_eval, cost, best = levmar.fit_multistart(
        problem.x, problem.y, problem.basis, starts, problem.lo, problem.hi, problem.order,
        problem.link, settings, np.empty((0, starts.shape[1])), np.inf, theta, coef,
    )  # fmt: skip
    return theta, coef, int(status), int(n_iter), int(n_eval), float(cost), int(best)


#: How each status of `nmcraman._kernels.levmar` reads in `Result.stats["message"]`.
_MESSAGES = {
    levmar.STATUS_FTOL: "converged: relative change of the residual below ftol",
    levmar.STATUS_XTOL: "converged: parameter steps below xtol",
    levmar.STATUS_STALLED: "converged: no further decrease possible",
    levmar.STATUS_DUPLICATE: "converged: reached a minimum found from another start",
    levmar.STATUS_WORSE: "stopped: heading for a worse minimum than another start",
    levmar.STATUS_GTOL: "converged: predicted decrease of the residual below gtol",
    levmar.STATUS_MAX_ITER: "not converged: maximum number of iterations reached",
}


def solve(problem: Problem, warm: np.ndarray | None = None, options=None) -> tuple[dict, float]:
    """Fit one prepared problem with the numba engine.

    Parameters
    ----------
    problem : Problem
    warm : numpy.ndarray, optional
        A start better than the priors: the screening solution of this problem, run
        with the first prior start (`_solve_warm`); when screening, the solution of a
        neighbouring problem (another baseline order or window of the same
        spectrum), run alone. Gaussian and pseudo-Voigt bands then skip their
        Lorentzian continuation, which only makes a first start.
    options : FitOptions, optional
        Iterations and tolerances in place of ``problem.options``, for screening
        (`nmcraman.choice.screen`): only the first prior start (or ``warm``) runs.

    Returns
    -------
    out : dict
        What `Result.from_fit` takes.
    cost : float
        Residual sum of squares in the problem's scaled units.
    """
    screening = options is not None
    starts = problem.starts[:1] if screening else problem.starts
    options = options if screening else problem.options
    all_starts = options.all_starts or problem.shape != "lorentzian"
    if warm is not None and screening:
        starts = warm[None, :]
    elif warm is not None:
        return _solve_warm(problem, warm, starts, options, all_starts)
    extra_iter = extra_eval = 0
    if problem.shape != "lorentzian" and warm is None:
        # Continuation: Lorentzian tails make the landscape smoother, so its solution
        # is a good extra start for Gaussian and pseudo-Voigt bands, which otherwise
        # get trapped more often.
        lor, _, _, extra_iter, extra_eval, _, _ = _multistart(
            problem, starts, LORENTZIAN, False, options.all_starts, options
        )
        lor[-1] = starts[0, -1]
        starts = np.vstack([lor[None, :], starts])
    theta, coef, status, n_iter, n_eval, cost, best = _multistart(
        problem, starts, problem.shape_code, problem.fit_eta, all_starts, options
    )
    return _out(theta, coef, status, n_iter + extra_iter, n_eval + extra_eval, best), cost


def _solve_warm(problem: Problem, warm, starts, options, all_starts: bool):
    """`solve` from a warm start and the first prior start, then the others if needed.

    As on maps (`nmcraman._kernels.batch`): both always run, since a warm start alone inherits
    its neighbour's local minima; the other prior starts run when every start is asked
    for or the better minimum is trapped (`nmcraman._kernels.levmar.trapped`). The returned
    start index counts the warm start as 0.
    """
    args = (problem.shape_code, problem.fit_eta)
    first = np.vstack([warm[None, :], starts[:1]])
    theta, coef, status, n_iter, n_eval, cost, best = _multistart(
        problem, first, *args, True, options
    )
    trapped = levmar.trapped(theta, coef, problem.lo, problem.hi, problem.layout.nb)
    if starts.shape[0] > 1 and (all_starts or trapped):
        more = _multistart(problem, starts[1:], *args, all_starts, options)
        n_iter, n_eval = n_iter + more[3], n_eval + more[4]
        if more[5] < cost:
            theta, coef, status, cost, best = *more[:3], more[5], more[6] + 2
    return _out(theta, coef, status, n_iter, n_eval, best), cost


def _out(theta, coef, status: int, n_iter: int, n_eval: int, start: int) -> dict:
    """Return the engine output that `Result.from_fit` takes."""
    return {
        "theta": theta,
        "coef": coef,
        "n_iter": n_iter,
        "n_eval": n_eval,
        "converged": status != levmar.STATUS_MAX_ITER,
        "message": _MESSAGES[status],
        "covariance": None,
        "start": start,
    }


def run(problem: Problem, engine: str) -> dict:
    """Fit one prepared problem with ``engine`` ("numba" or "lmfit"): `Result.from_fit`'s input."""
    if engine == "numba":
        out = solve(problem)[0]
    elif engine == "lmfit":
        from .lmfit_engine import fit_lmfit

        out = fit_lmfit(problem)
    else:
        raise InputError(f"unknown engine {engine!r}; use 'numba' or 'lmfit'.")
    return out
