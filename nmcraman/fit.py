"""Fit orchestration: spectrum + priors -> fit window, starts, kernel -> `Result`.

The flow is ``deconvolve`` -> `prepare` (validate, window, baseline stage, starts)
-> engine (`nmcraman._kernels` by default, lmfit as reference) -> `finish`
(covariance, errors, table).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import _kernels as K
from ._validation import as_1d_float, as_float_array, as_number, check_fit_window
from .bands import PRESETS, Band, BandSpec, resolve_bands
from .baseline import BaselineStage, baseline_stage, joint_order, legendre_basis
from .errors import BandError, InputError
from .lineshapes import shape_code
from .result import Result
from .spectrum import Spectrum

__all__ = ["FitOptions", "Problem", "deconvolve", "prepare"]

#: Margin (cm-1) added around the outermost prior windows for the default fit window:
#: the joint baseline needs flanks where the bands are weak.
WINDOW_MARGIN = 150.0
#: Minimal separation (cm-1) between consecutive band centres, so bands never swap.
MIN_SEPARATION = 2.0
#: Start widths as multiples of the prior FWHM. Several starts because overlapping
#: broad bands have local minima (DESIGN.md); the lowest residual wins.
START_WIDTH_SCALES = (0.7, 1.0, 1.4)


@dataclass(frozen=True)
class FitOptions:
    """Numerical options of the fitter (defaults suit 0.5 to 2 cm-1 sampled spectra).

    Attributes
    ----------
    max_iter : int
        Iterations per start. Default is 1000.
    ftol : float
        Stop when the relative decrease of the residual sum of squares falls below
        this. Default is 1e-8 (parameters then sit within about 0.01 cm-1 of the
        minimum, far inside their errors).
    xtol : float
        Stop when no centre or FWHM moves more than this (cm-1). Default is 1e-5.
    gtol : float
        Stop when the next Gauss-Newton step predicts a decrease of the residual sum
        of squares below ``gtol`` times the mean squared residual: the parameters
        then lie within about ``sqrt(gtol)`` standard errors of the minimum (0.01
        at the default), and the last iterations along flat valleys are saved
        (measured: 12 % fewer iterations, RMSE against the truth unchanged).
        0 turns this test off. Default is 1e-4.
    width_scales : tuple of float
        Starting FWHMs as multiples of the prior FWHM, tried in this order (see
        ``all_starts``). Default is (0.7, 1, 1.4). ``(0.7,)``, one start, is hardly
        faster than the default (the same 0.43 ms median on the benchmark spectra,
        mean 0.55 against 0.63 ms) but ends in a worse local minimum on about 1
        spectrum in 12: RMSE against the truth 4.71 / 18.2 cm-1 for position / FWHM
        against 4.44 / 17.6 (``benchmarks/results/latest.md``).
    centre_shifts : tuple of float or None
        Starting centres moved by these fractions of the way to the window edge
        (negative: towards the low edge); one start per shift and width scale.
        None chooses by shape: ``(0,)`` for Lorentzian bands, ``(0, -0.4, 0.4)``
        for Gaussian and pseudo-Voigt bands, whose landscape has more local minima
        (noise-free Gaussian spectra: 11 of 60 trapped with three starts, 4 of 60
        with nine). Default is None.
    warm_ratio : float
        Maps only: a pixel is fitted from its neighbour's solution (warm start) and
        from the first prior start, and keeps the better of the two when its reduced
        chi-square is at most this many times the noise variance estimated from the
        data; otherwise the remaining prior starts run too. Measured on a synthetic
        50 x 50 core-shell map (area % RMSE against the truth, iterations per
        pixel): all prior starts 8.56 / 54; warm plus first start 8.63 / 26 at 1.3
        (8.65 / 34 at 1.1); the warm start alone inherited its
        neighbour's local minima (8.96). 0 turns warm starts off. Default is 1.3.
    all_starts : bool
        Lorentzian bands only: if False, the starts run in turn only until the best
        minimum so far has every band present and no centre or FWHM on a bound, the
        mark of a start caught in another basin (``_kernels.trapped``). Measured on
        600 held-out benchmark spectra: 39 % fewer iterations than running every
        start (22.0 against 36.2); the chi-square higher than every start's best on
        10 spectra, by at most 3.6 (its noise spread is about 35); RMSE against the
        truth 5.12 / 17.2 cm-1 for position / FWHM against 5.13 / 17.3 with every
        start (``benchmarks/starts.py``). Gaussian and pseudo-Voigt bands, trapped
        in interior minima too, always run every start, and map pixels fitted from a
        warm start run their prior starts by ``warm_ratio`` instead (adding this rule
        there cost 43 % more iterations for the same accuracy). True runs every
        start. Default is False.
    """

    max_iter: int = 1000
    ftol: float = 1e-8
    xtol: float = 1e-5
    gtol: float = 1e-4
    width_scales: tuple[float, ...] = START_WIDTH_SCALES
    centre_shifts: tuple[float, ...] | None = None
    warm_ratio: float = 1.3
    all_starts: bool = False

    def __post_init__(self) -> None:
        for name in ("max_iter",):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"FitOptions.{name} must be a positive integer, got {value!r}.")
        for name in ("ftol", "xtol", "gtol", "warm_ratio"):
            as_number(getattr(self, name), f"FitOptions.{name}", low=0.0)
        if not isinstance(self.all_starts, (bool, np.bool_)):
            raise InputError(
                f"FitOptions.all_starts must be True or False, got {self.all_starts!r}."
            )
        scales = as_float_array(self.width_scales, "FitOptions.width_scales")
        if scales.ndim != 1 or scales.size == 0 or not np.all(np.isfinite(scales) & (scales > 0)):
            raise InputError(
                "FitOptions.width_scales must be one or more positive numbers (multiples of"
                f" the prior FWHM), got {self.width_scales!r}."
            )
        if self.centre_shifts is not None:
            shifts = as_float_array(self.centre_shifts, "FitOptions.centre_shifts")
            if shifts.ndim != 1 or shifts.size == 0 or not np.all(np.abs(shifts) <= 1):
                raise InputError(
                    "FitOptions.centre_shifts must be None or numbers in [-1, 1],"
                    f" got {self.centre_shifts!r}."
                )


#: Built once: validating a FitOptions costs about 0.1 ms, a tenth of a fit.
_DEFAULT_OPTIONS = FitOptions()


@dataclass
class Geometry:
    """What does not depend on the intensities: window, basis, starts and bounds."""

    bands: list[Band]
    shape: str
    sel: np.ndarray
    x: np.ndarray
    basis: np.ndarray
    starts: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    order: np.ndarray
    fit_eta: bool
    options: FitOptions
    #: Band ids and labels, and the names of all parameters in the row order of
    #: `_kernels.full_jacobian`: fixed per geometry, so built once with it.
    ids: tuple[str, ...]
    labels: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def nb(self) -> int:
        """Number of bands."""
        return len(self.bands)

    def param_names(self) -> list[str]:
        """Names of all parameters, in the row order of `_kernels.full_jacobian`."""
        return list(self.names)

    @property
    def all_starts(self) -> bool:
        """Whether every start runs, not only those until a minimum is untrapped.

        The early stop is measured on Lorentzian bands only; Gaussian bands get
        trapped in interior minima too (measured: 3 of the 6 noise-free Gaussian
        test spectra lost their minimum with it). See `FitOptions.all_starts`.
        """
        return self.options.all_starts or self.shape != "lorentzian"


@dataclass
class Problem(Geometry):
    """Everything an engine needs for one spectrum, in kernel-ready arrays."""

    spectrum: Spectrum
    y: np.ndarray
    initial_baseline: np.ndarray
    scale: float
    baseline_name: str


def _as_spectrum(data, y) -> Spectrum:
    if isinstance(data, Spectrum):
        if y is not None:
            raise InputError("give either a Spectrum or x and y, not both.")
        return data
    if isinstance(data, (str, os.PathLike)):
        if y is not None:
            raise InputError("give either a file path or x and y arrays, not both.")
        from .io import read_spectrum

        return read_spectrum(data)
    if y is None:
        arr = as_float_array(data, "data")
        if arr.ndim == 2 and arr.shape[1] == 2:
            return Spectrum(arr[:, 0], arr[:, 1])
        if arr.ndim == 2 and arr.shape[0] == 2:
            return Spectrum(arr[0], arr[1])
        raise InputError(
            "give x and y (two arrays), a two-column array, a Spectrum or a file path."
        )
    return Spectrum(data, y)


def _sorted_like(x_raw, values, name: str) -> np.ndarray:
    """Reorder a user array given alongside x into ascending-x order."""
    x_raw = as_1d_float(x_raw, "x")
    arr = as_1d_float(values, name)
    if arr.size != x_raw.size:
        raise InputError(f"{name} has {arr.size} values but the spectrum has {x_raw.size}.")
    return arr[np.argsort(x_raw, kind="stable")]


def _window(x: np.ndarray, band_list: list[Band], xmin, xmax) -> tuple[float, float]:
    lo = min(b.window[0] for b in band_list) - WINDOW_MARGIN if xmin is None else xmin
    hi = max(b.window[1] for b in band_list) + WINDOW_MARGIN if xmax is None else xmax
    lo, hi = as_number(lo, "xmin"), as_number(hi, "xmax")
    if lo >= hi:
        raise InputError(f"xmin ({lo:g}) must be below xmax ({hi:g}) cm-1.")
    lo = max(lo, float(x[0]))
    hi = min(hi, float(x[-1]))
    if lo >= hi:
        raise InputError(
            f"the fit window lies outside the data ({x[0]:g} to {x[-1]:g} cm-1);"
            " check the axis units (cm-1) or set xmin/xmax."
        )
    for b in band_list:
        if b.window[0] < lo or b.window[1] > hi:
            raise BandError(
                f"band {b.id!r} window ({b.window[0]:g}, {b.window[1]:g}) cm-1 is not inside"
                f" the fitted range ({lo:g}, {hi:g}); widen xmin/xmax, measure a wider range"
                " or drop the band."
            )
    return lo, hi


def geometry(
    x_full: np.ndarray,
    band_list: list[Band],
    *,
    shape: str = "lorentzian",
    baseline_order: int = 3,
    xmin: float | None = None,
    xmax: float | None = None,
    eta: float | None = None,
    options: FitOptions | None = None,
) -> Geometry:
    """Fit window, baseline basis, starts and bounds for an ascending axis (cm-1).

    Cached: spectra from one instrument share their axis, and building this costs
    about 0.1 ms, a tenth of a fit. The arrays of a cached Geometry are shared, so
    nothing downstream may write into them.
    """
    x_bytes = np.ascontiguousarray(x_full, dtype=np.float64).tobytes()
    key = (x_bytes, tuple(band_list), shape, baseline_order, xmin, xmax, eta, options)
    try:
        hash(key)
    except TypeError:
        return _geometry(x_full, *key[1:])
    return _cached_geometry(key)


@lru_cache(maxsize=32)
def _cached_geometry(key: tuple) -> Geometry:
    return _geometry(np.frombuffer(key[0]), *key[1:])


def _geometry(x_full, band_list, shape, baseline_order, xmin, xmax, eta, options) -> Geometry:
    from .lineshapes import LINESHAPES

    if not isinstance(shape, str) or shape not in LINESHAPES:
        raise InputError(f"unknown shape {shape!r}; use one of {', '.join(LINESHAPES)}.")
    if eta is not None:
        eta = as_number(eta, "eta")
        if not 0.0 <= eta <= 1.0:
            raise InputError(f"eta must lie in [0, 1], got {eta:g}.")
    if options is not None and not isinstance(options, FitOptions):
        raise InputError(f"options must be a FitOptions, got {type(options).__name__}.")
    options = options or _DEFAULT_OPTIONS
    lo_x, hi_x = _window(x_full, band_list, xmin, xmax)
    sel = (x_full >= lo_x) & (x_full <= hi_x)
    x = np.ascontiguousarray(x_full[sel])
    basis = legendre_basis(x, baseline_order)
    nb = len(band_list)
    n_par = 3 * nb + basis.shape[0] + 1
    if x.size < max(2 * n_par, 20):
        raise InputError(
            f"only {x.size} points lie in the fit window ({lo_x:g} to {hi_x:g} cm-1);"
            f" {max(2 * n_par, 20)} or more are needed for {nb} bands."
        )
    fit_eta = shape == "pseudo_voigt" and eta is None
    eta0 = 0.5 if eta is None else float(eta)
    centres = np.array([b.centre for b in band_list])
    fwhms = np.array([b.fwhm for b in band_list])
    lo = np.concatenate(
        [[b.window[0] for b in band_list], [b.fwhm_range[0] for b in band_list], [0.0]]
    )
    hi = np.concatenate(
        [[b.window[1] for b in band_list], [b.fwhm_range[1] for b in band_list], [1.0]]
    )
    if not fit_eta:
        lo[-1] = hi[-1] = eta0
    shifts = options.centre_shifts
    if shifts is None:
        shifts = (0.0,) if shape == "lorentzian" else (0.0, -0.4, 0.4)
    edge = np.where(np.array(shifts)[:, None] < 0, centres - lo[:nb], hi[:nb] - centres)
    starts = np.array(
        [
            np.concatenate([centres + f * e, fwhms * s, [eta0]])
            for f, e in zip(shifts, edge, strict=True)
            for s in options.width_scales
        ]
    )
    ids = tuple(b.id for b in band_list)
    names = [f"{i}_position" for i in ids] + [f"{i}_fwhm" for i in ids]
    names += ["eta"] if fit_eta else []
    names += [f"{i}_area" for i in ids] + [f"baseline_c{j}" for j in range(basis.shape[0])]
    return Geometry(
        bands=list(band_list),
        shape=shape,
        sel=sel,
        x=x,
        basis=basis,
        starts=np.clip(starts, lo, hi),
        lo=lo,
        hi=hi,
        order=np.argsort(centres, kind="stable").astype(np.int64),
        fit_eta=fit_eta,
        options=options,
        ids=ids,
        labels=tuple(b.label for b in band_list),
        names=tuple(names),
    )


def prepare(
    spectrum: Spectrum,
    band_list: list[Band],
    *,
    shape: str = "lorentzian",
    baseline: str | np.ndarray | Callable | None = "poly3",
    refine: int = 1,
    xmin: float | None = None,
    xmax: float | None = None,
    eta: float | None = None,
    options: FitOptions | None = None,
    baseline_kwargs: dict | None = None,
) -> Problem:
    """Build the kernel-ready `Problem` for one spectrum (see `deconvolve`)."""
    geo = geometry(
        spectrum.x, band_list, shape=shape, baseline_order=joint_order(baseline, refine),
        xmin=xmin, xmax=xmax, eta=eta, options=options,
    )  # fmt: skip
    check_fit_window(geo.x, spectrum.y[geo.sel])
    if baseline_kwargs is not None and not isinstance(baseline_kwargs, Mapping):
        raise InputError(
            f"baseline_kwargs must be a dict of pybaselines options, got"
            f" {type(baseline_kwargs).__name__}."
        )
    stage: BaselineStage = baseline_stage(
        spectrum.x, spectrum.y, baseline, refine, **(baseline_kwargs or {})
    )
    initial = np.ascontiguousarray(stage.initial[geo.sel])
    y = spectrum.y[geo.sel] - initial
    lo, hi = float(y.min()), float(y.max())
    scale = max(-lo, hi)
    if scale == 0.0 or lo == hi:
        raise InputError("the spectrum is flat in the fit window: there is no band to fit.")
    return Problem(
        **vars(geo),
        spectrum=spectrum,
        y=np.ascontiguousarray(y / scale),
        initial_baseline=initial,
        scale=scale,
        baseline_name=stage.name,
    )


def _multistart(problem: Problem, starts: np.ndarray, shape: int, fit_eta: bool, all_starts: bool):
    opt = problem.options
    theta = np.empty(starts.shape[1])
    coef = np.empty(problem.nb + problem.basis.shape[0])
    status, n_iter, n_eval, _, best = K.fit_multistart(
        problem.x,
        problem.y,
        problem.basis,
        starts,
        problem.lo,
        problem.hi,
        problem.order,
        shape,
        fit_eta,
        opt.max_iter,
        opt.ftol,
        opt.xtol,
        opt.gtol,
        MIN_SEPARATION,
        np.empty((0, starts.shape[1])),
        np.inf,
        all_starts,
        theta,
        coef,
    )
    return theta, coef, int(status), int(n_iter), int(n_eval), int(best)


def _fit_numba(problem: Problem) -> dict:
    starts = problem.starts
    extra_iter = extra_eval = 0
    if problem.shape != "lorentzian":
        # Continuation: Lorentzian tails make the landscape smoother, so its solution
        # is a good extra start for Gaussian and pseudo-Voigt bands, which otherwise
        # get trapped more often (measured: 3 of 15 noise-free Gaussian spectra).
        lor, _, _, extra_iter, extra_eval, _ = _multistart(
            problem, starts, K.LORENTZIAN, False, problem.options.all_starts
        )
        lor[-1] = starts[0, -1]
        starts = np.vstack([lor[None, :], starts])
    theta, coef, status, n_iter, n_eval, best = _multistart(
        problem, starts, shape_code(problem.shape), problem.fit_eta, problem.all_starts
    )
    n_iter += extra_iter
    n_eval += extra_eval
    messages = {
        K.STATUS_FTOL: "converged: relative change of the residual below ftol",
        K.STATUS_XTOL: "converged: parameter steps below xtol",
        K.STATUS_STALLED: "converged: no further decrease possible",
        K.STATUS_DUPLICATE: "converged: reached a minimum found from another start",
        K.STATUS_WORSE: "stopped: heading for a worse minimum than another start",
        K.STATUS_GTOL: "converged: predicted decrease of the residual below gtol",
        K.STATUS_MAX_ITER: "not converged: maximum number of iterations reached",
    }
    return {
        "theta": theta,
        "coef": coef,
        "n_iter": n_iter,
        "n_eval": n_eval,
        "converged": status != K.STATUS_MAX_ITER,
        "message": messages[status],
        "covariance": None,
        "start": best,
    }


def _fit_once(problem: Problem, engine: str) -> Result:
    if engine == "numba":
        out = _fit_numba(problem)
    elif engine == "lmfit":
        from ._lmfit_engine import fit_lmfit

        out = fit_lmfit(problem)
    else:
        raise InputError(f"unknown engine {engine!r}; use 'numba' or 'lmfit'.")
    return Result.from_fit(problem, **out)


def deconvolve(
    data,
    y=None,
    *,
    bands: BandSpec = "auto",
    shape: str = "lorentzian",
    baseline: str | np.ndarray | Callable | None = "poly3",
    refine: int = 1,
    xmin: float | None = None,
    xmax: float | None = None,
    eta: float | None = None,
    engine: str = "numba",
    criterion: str = "bic",
    options: FitOptions | None = None,
    baseline_kwargs: dict | None = None,
) -> Result:
    """Deconvolve one Raman spectrum into its NMC bands.

    Parameters
    ----------
    data : array-like, str, path or Spectrum
        Raman shift x (cm-1, any order) when ``y`` is given; otherwise a path to a
        spectrum file, a `Spectrum`, or an (N, 2) array of x, y.
    y : array-like, optional
        Intensities, one per x.
    bands : str, path, dict or list of Band, optional
        ``"nmc"`` (six bands), ``"nmc+lo"`` (adds the rock-salt LO band), ``"auto"``
        (fits both and keeps the one the information criterion prefers), a TOML file
        of priors, a dict or a list of `Band`. Default is ``"auto"``.
    shape : {"lorentzian", "gaussian", "pseudo_voigt"}, optional
        Line shape of every band. Default is ``"lorentzian"``.
    baseline : str, array-like, callable or None, optional
        ``"polyN"`` fits a polynomial of order N jointly with the bands; a pybaselines
        method (``"asls"``, ``"arpls"``, ``"snip"`` ...), an array or a callable
        ``f(x, y)`` gives a fixed starting baseline refined by a joint polynomial of
        order ``refine``; None fits no baseline. Default is ``"poly3"`` (see Notes).
    refine : int, optional
        Order of the joint correction on top of a non-polynomial baseline. Default is 1.
    xmin, xmax : float, optional
        Fit window, cm-1. Default is the band windows widened by 150 cm-1, clipped to
        the data.
    eta : float, optional
        Pseudo-Voigt Lorentzian fraction; None fits one shared value. Default is None.
    engine : {"numba", "lmfit"}, optional
        ``"lmfit"`` builds the same model with lmfit, as a reference. Default is
        ``"numba"``.
    criterion : {"bic", "aic"}, optional
        Information criterion for ``bands="auto"``. Default is ``"bic"``.
    options : FitOptions, optional
        Iteration limits, tolerances and starts.
    baseline_kwargs : dict, optional
        Options passed to a pybaselines method.

    Returns
    -------
    Result
        ``.table`` (one row per band: position, FWHM, height, area, area % with
        1-sigma errors and a flag), ``.report()``, ``.plot()``, ``.to_csv()``.

    Raises
    ------
    InputError
        Invalid spectrum or option. `BandError` for invalid priors.

    Notes
    -----
    The baseline default is a cubic fitted jointly with the bands: subtracting a
    baseline estimated without the bands biases FWHM and area % on these broad,
    overlapping bands (docs: "Baselines"). Areas and baseline coefficients are solved
    linearly (non-negative areas) at every step of a bounded Levenberg-Marquardt on
    centres and widths (variable projection), from three starts (prior FWHMs scaled
    by 0.7, 1 and 1.4; Gaussian and pseudo-Voigt bands also from shifted centres and
    from the Lorentzian solution); the lowest residual wins. Errors are 1-sigma from the covariance
    of all parameters, scaled by the reduced chi-square.

    Examples
    --------
    >>> from nmcraman import deconvolve
    >>> from nmcraman.synthetic import simulate
    >>> s = simulate("Core_75", snr=200, rng=1)
    >>> res = deconvolve(s.x, s.y, bands="nmc")
    >>> list(res.table["band"])
    ['Ni_Eg', 'Co_Eg', 'Co_A1g', 'Ni_A1g', 'Mn_Eg', 'Mn_A1g']
    """
    if criterion not in ("bic", "aic"):
        raise InputError(f"criterion must be 'bic' or 'aic', got {criterion!r}.")
    spectrum = _as_spectrum(data, y)
    if baseline is not None and not isinstance(baseline, str) and not callable(baseline):
        baseline = _sorted_like(data if y is not None else spectrum.x, baseline, "baseline")
    kwargs = {
        "shape": shape,
        "baseline": baseline,
        "refine": refine,
        "xmin": xmin,
        "xmax": xmax,
        "eta": eta,
        "options": options,
        "baseline_kwargs": baseline_kwargs,
    }
    if isinstance(bands, str) and bands == "auto":
        return _auto(spectrum, engine, criterion, kwargs)
    return _fit_once(prepare(spectrum, resolve_bands(bands), **kwargs), engine)


def _auto(spectrum: Spectrum, engine: str, criterion: str, kwargs: dict) -> Result:
    fits = {
        name: _fit_once(prepare(spectrum, resolve_bands(name), **kwargs), engine)
        for name in PRESETS
    }
    scores = {name: res.stats[criterion] for name, res in fits.items()}
    chosen = min(scores, key=scores.get)
    other = next(n for n in scores if n != chosen)
    res = fits[chosen]
    res.model_choice = {
        "chosen": chosen,
        "criterion": criterion,
        "scores": scores,
        "margin": float(scores[other] - scores[chosen]),
        "alternative": fits[other],
    }
    return res
