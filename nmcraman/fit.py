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


def _as_spectrum(data, y, shift=0.0, read=None) -> Spectrum:
    """Return the spectrum to fit: read from a file with the reader options, or arrays.

    ``shift`` applies to any input; ``read`` (`nmcraman._validation.check_read`) only to
    a file.
    """
    from ._validation import check_read, reading_with_read, refuse_file_options
    from .io import read_spectrum
    from .spectrum import check_shift

    shift = check_shift(shift)
    read = check_read(read)
    if isinstance(data, (str, os.PathLike)):
        if y is not None:
            raise InputError("give either a file path or x and y arrays, not both.")
        with reading_with_read():
            return read_spectrum(data, shift=shift, **read)
    refuse_file_options(read)
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
    window: str | tuple[float | None, float | None] = "auto",
    eta: float | None = None,
    refine: int = 1,
    baseline_kwargs: dict | None = None,
    options: FitOptions | None = None,
    engine: str = "numba",
    criterion: str = "bic",
    despike: bool = False,
    shift: float = 0.0,
    read: dict | None = None,
) -> Result:
    """Deconvolve one Raman spectrum into its NMC bands.

    Parameters
    ----------
    data, y : array-like, or str, path or Spectrum and None
        Raman shift x (cm-1, any order) and intensities; or a file
        (`nmcraman.read_spectrum`), a `Spectrum` or an (N, 2) array of x, y.
    bands : str, path, dict or list of Band, optional
        ``"nmc"``, ``"nmc+lo"`` (with the rock-salt LO band), ``"auto"`` (both; the one
        ``criterion``, ``"bic"`` or ``"aic"``, prefers), a TOML file, a dict or Bands.
    shape : {"lorentzian", "gaussian", "pseudo_voigt"}, optional
        Line shape of every band; ``eta`` holds the pseudo-Voigt fraction (None fits it).
    baseline : str, array-like, callable or None, optional
        ``"polyN"``, fitted jointly with the bands; ``"auto"``, orders 2 to 5 averaged;
        a pybaselines method (options in ``baseline_kwargs``), an array or ``f(x, y)``,
        then refined by a joint polynomial of order ``refine``; None, no baseline.
    window : {"auto", "bands", "wide"} or (xmin, xmax), optional
        ``"bands"``, the prior windows widened by 150 cm-1; ``"wide"``, at least 150 to
        900 cm-1; ``"auto"``, the better by BIC per point; a pair of cm-1 is kept
        exactly (a side None is placed by ``"auto"``). Clipped to the data.
    options, engine : FitOptions, {"numba", "lmfit"}, optional
        Iteration limits, tolerances and starts; ``"lmfit"`` fits with lmfit instead.
    despike : bool, optional
        Remove cosmic-ray spikes first (they are flagged in `Result.qc` either way).
    shift, read : float, dict, optional
        Calibration shift, cm-1, added to the axis (`nmcraman.calibration`); for a
        file, ``laser_nm`` and ``column`` as for `nmcraman.read_spectrum`.

    Returns
    -------
    Result
        ``.table``: per band position, FWHM, height, area, area % with 1-sigma errors
        and a flag. How the fit works: docs "How a spectrum is fitted", "Baselines".

    Examples
    --------
    >>> from nmcraman import deconvolve, synthetic
    >>> s = synthetic.simulate("Core_75", snr=200, rng=1)
    >>> list(deconvolve(s.x, s.y, bands="nmc").table["band"])
    ['Ni_Eg', 'Co_Eg', 'Co_A1g', 'Ni_A1g', 'Mn_Eg', 'Mn_A1g']
    """
    spec = ModelSpec(
        bands=bands, shape=shape, eta=eta, baseline=baseline, refine=refine,
        baseline_kwargs=baseline_kwargs, window=window, options=options, criterion=criterion,
        engine=engine, despike=despike,
    )  # fmt: skip
    spectrum = _as_spectrum(data, y, shift, read)
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
