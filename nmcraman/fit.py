"""Fit orchestration: spectrum + priors -> `Problem` -> engine -> `Result`.

The flow is ``deconvolve`` -> `nmcraman._engine.problem.prepare` (validate, window, baseline
stage, starts) -> engine (`nmcraman._kernels.levmar` by default, lmfit as reference) ->
`Result.from_fit` (covariance, errors, table).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np

from . import choice
from ._engine.problem import Problem, geometry, prepare
from ._engine.single import solve
from ._validation import as_1d_float, as_float_array
from .bands import BandSpec, band_sets
from .choice import fit_once
from .errors import InputError
from .model import ModelSpec
from .options import FitOptions
from .results.result import Result, choose_model
from .spectrum import Spectrum

__all__ = [
    "FitOptions", "Problem", "deconvolve", "fit_once", "fit_spectrum", "geometry", "prepare",
    "solve",
]  # fmt: skip


def _as_spectrum(data, y, shift=0.0, laser_nm=None, column=None) -> Spectrum:
    """Return the spectrum to fit: read from a file with the reader options, or arrays.

    ``shift`` applies to any input; ``laser_nm`` and ``column`` only to a file.
    """
    from ._validation import refuse_file_options
    from .io import read_spectrum
    from .spectrum import check_shift

    shift = check_shift(shift)
    if isinstance(data, (str, os.PathLike)):
        if y is not None:
            raise InputError("give either a file path or x and y arrays, not both.")
        return read_spectrum(data, shift=shift, laser_nm=laser_nm, column=column)
    refuse_file_options(laser_nm, column)
    if isinstance(data, Spectrum):
        if y is not None:
            raise InputError("give either a Spectrum or x and y, not both.")
        spectrum = data
    elif y is None:
        arr = as_float_array(data, "data")
        if arr.ndim == 2 and arr.shape[1] == 2:
            spectrum = Spectrum(arr[:, 0], arr[:, 1])
        elif arr.ndim == 2 and arr.shape[0] == 2:
            spectrum = Spectrum(arr[0], arr[1])
        else:
            raise InputError(
                "give x and y (two arrays), a two-column array, a Spectrum or a file path."
            )
    else:
        spectrum = Spectrum(data, y)
    return spectrum.shifted(shift) if shift else spectrum


def _sorted_like(x_raw, values, name: str) -> np.ndarray:
    """Reorder a user array given alongside x into ascending-x order."""
    x_raw = as_1d_float(x_raw, "x")
    arr = as_1d_float(values, name)
    if arr.size != x_raw.size:
        raise InputError(f"{name} has {arr.size} values but the spectrum has {x_raw.size}.")
    return arr[np.argsort(x_raw, kind="stable")]


def deconvolve(
    data,
    y=None,
    *,
    bands: BandSpec = "auto",
    shape: str = "lorentzian",
    baseline: str | np.ndarray | Callable | None = "auto",
    refine: int = 1,
    xmin: float | None = None,
    xmax: float | None = None,
    eta: float | None = None,
    engine: str = "numba",
    criterion: str = "bic",
    options: FitOptions | None = None,
    baseline_kwargs: dict | None = None,
    despike: bool = False,
    window: str = "auto",
    shift: float = 0.0,
    laser_nm: float | None = None,
    column: str | int | None = None,
) -> Result:
    """Deconvolve one Raman spectrum into its NMC bands.

    Parameters
    ----------
    data : array-like, str, path or Spectrum
        Raman shift x (cm-1, any order) when ``y`` is given; otherwise a path to a
        spectrum file (read by `nmcraman.io.read_spectrum`), a `Spectrum`, or an
        (N, 2) array of x, y.
    y : array-like, optional
        Intensities, one per x.
    bands : str, path, dict or list of Band, optional
        ``"nmc"`` (six bands), ``"nmc+lo"`` (adds the rock-salt LO band), ``"auto"``
        (fits both and keeps the one the information criterion prefers), a TOML file
        of priors, a dict or a list of `Band`. Default is ``"auto"``.
    shape : {"lorentzian", "gaussian", "pseudo_voigt"}, optional
        Line shape of every band. Default is ``"lorentzian"``.
    baseline : str, array-like, callable or None, optional
        ``"polyN"`` fits a polynomial of order N jointly with the bands; ``"auto"``
        fits orders 2 to 5 so and averages the fits, weighted by how well each fits
        (see Notes); a pybaselines method (``"asls"``, ``"arpls"``, ``"snip"`` ...), an
        array or a callable ``f(x, y)`` gives a fixed starting baseline refined by a
        joint polynomial of order ``refine``; None fits no baseline. Default is
        ``"auto"``.
    refine : int, optional
        Order of the joint correction on top of a non-polynomial baseline. Default is 1.
    xmin, xmax : float, optional
        Fit window, cm-1, kept exactly; a side left None is placed by ``window``.
        Always clipped to the data.
    window : {"auto", "bands", "wide"}, optional
        Rule for the sides of the fit window that ``xmin``/``xmax`` leave unset:
        ``"bands"``, the prior windows widened by 150 cm-1 (180 to 775 cm-1 for the
        NMC presets); ``"wide"``, that window widened to at least 150 to 900 cm-1;
        ``"auto"``, whichever fits best, each with the order that suits it best, by
        BIC per point (`nmcraman.choice`; the choice is in ``meta["auto_choice"]``).
        Default is ``"auto"``.
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
    despike : bool, optional
        Remove cosmic-ray spikes before fitting (`nmcraman.qc.despike`, as
        ``despike_spectra`` of maps); ``meta["despiked"]`` then says one was removed.
        Spikes are flagged in `Result.qc` either way. Default is False.
    shift : float, optional
        Calibration shift in cm-1 added to the axis before fitting (see
        `nmcraman.calibration`), for a file or arrays alike. Default is 0.
    laser_nm, column : optional
        For a file only, as for `nmcraman.io.read_spectrum`: the excitation
        wavelength (nm) that converts an axis in nm, and the intensity column of a
        file with several (a name or a 0-based index). Default is None.

    Returns
    -------
    Result
        ``.table`` (one row per band: position, FWHM, height, area, area % with
        1-sigma errors and a flag), ``.report()``, ``.plot()``, ``.to_csv()``.

    Raises
    ------
    InputError
        Invalid spectrum or option (``laser_nm`` or ``column`` without a file).
        `BandError` for invalid priors, `ReadError` for a file that cannot be read.

    Notes
    -----
    The baseline is a polynomial fitted jointly with the bands: subtracting a baseline
    estimated without the bands biases FWHM and area % on these broad, overlapping
    bands (docs: "Baselines"). Which window and order give the best areas depends on
    the background, so by default both come from the data (`nmcraman.choice`): the
    window by BIC per point over 2 windows x 4 orders (screened with the numba engine,
    each candidate from its neighbour's solution), then orders 2 to 5 fitted in full by
    ``engine`` in that window and averaged with weights from their BIC per point; the
    table's errors include the spread between orders, and ``stats`` are those of the
    order with the largest weight. Measured against the truth, this is at least as
    accurate as the best fixed window and order for each background tried; what it
    costs is in the docs ("Baselines", "Performance and accuracy"). ``window="bands",
    baseline="poly3"`` is the fast fixed model, on every door.
    Areas and baseline coefficients are solved linearly (non-negative areas) at every
    step of a bounded Levenberg-Marquardt on centres and widths (variable projection),
    from three starts (prior FWHMs scaled by 0.7, 1 and 1.4; Gaussian and
    pseudo-Voigt bands also from shifted centres and from the Lorentzian solution);
    the lowest residual wins. Errors are 1-sigma from the covariance of all
    parameters, scaled by the reduced chi-square.

    Examples
    --------
    >>> from nmcraman import deconvolve
    >>> from nmcraman.synthetic import simulate
    >>> s = simulate("Core_75", snr=200, rng=1)
    >>> res = deconvolve(s.x, s.y, bands="nmc")
    >>> list(res.table["band"])
    ['Ni_Eg', 'Co_Eg', 'Co_A1g', 'Ni_A1g', 'Mn_Eg', 'Mn_A1g']
    """
    spec = ModelSpec(
        bands=bands, shape=shape, eta=eta, baseline=baseline, refine=refine,
        baseline_kwargs=baseline_kwargs, window=window, xmin=xmin, xmax=xmax, options=options,
        criterion=criterion, engine=engine, despike=despike,
    )  # fmt: skip
    spectrum = _as_spectrum(data, y, shift, laser_nm, column)
    if baseline is not None and not isinstance(baseline, str) and not callable(baseline):
        spec = spec.replace(
            baseline=_sorted_like(data if y is not None else spectrum.x, baseline, "baseline")
        )
    return fit_spectrum(spectrum, spec)


def fit_spectrum(spectrum: Spectrum, spec: ModelSpec) -> Result:
    """Fit one spectrum as ``spec`` says (`deconvolve` after reading its arguments).

    The specification goes into the result's ``meta["model"]`` (`ModelSpec.record`).
    """
    if spec.despike:
        spectrum = despiked(spectrum)
    kwargs = spec.prepare_kwargs
    band_lists = band_sets(spec.bands)
    auto = "" not in band_lists
    if spec.choosing:
        fits = _chosen(spectrum, band_lists, kwargs, spec.engine)
    else:
        fits = {
            k: fit_once(prepare(spectrum, b, **kwargs), spec.engine) for k, b in band_lists.items()
        }
    res = choose_model(fits, spec.criterion) if auto else fits[""]
    return dataclasses.replace(res, meta={**res.meta, "model": spec.record()})


def _chosen(spectrum: Spectrum, band_lists: dict, kwargs: dict, engine: str) -> dict:
    """Fit every band set of ``band_lists`` in the window `choice.choose_window` picks.

    The window is chosen with the largest band set: a superset of bands leaves the
    least band structure in the residual for the baseline to answer. Each band set is
    then fitted there by ``engine``, averaged over the orders if ``baseline="auto"``
    (`choice.fit_orders`), from the screening solutions of the largest set.
    """
    name = max(band_lists, key=lambda k: len(band_lists[k]))
    setting, screened = choice.choose_window(spectrum, band_lists[name], kwargs)
    return {
        k: choice.fit_orders(spectrum, b, setting, engine, screened) for k, b in band_lists.items()
    }


def despiked(spectrum: Spectrum) -> Spectrum:
    """``spectrum`` with its spikes removed, ``meta["despiked"]`` True if there were any."""
    from .qc import despike

    clean, found = despike(spectrum.y[None, :])
    if not found[0]:
        return spectrum
    return Spectrum(spectrum.x, clean[0], {**spectrum.meta, "despiked": True})
