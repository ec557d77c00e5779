"""Raman-shift calibration: measure an instrument's axis offset on a reference sample.

An uncalibrated spectrometer puts bands a few cm-1 off. Measure a reference sample
on the same instrument, compare its bands with their standard positions, and add the
difference to every axis measured that day:

- `offset_from_silicon`: the first-order phonon of crystalline silicon at 520.7 cm-1;
- `offset_from_polystyrene`: the polystyrene bands of ASTM E1840 (`POLYSTYRENE_E1840`).

Both return an `AxisOffset`, whose ``apply`` shifts one spectrum, a map or a batch,
and whose ``agrees`` says whether every band agrees with the standard once corrected
(if not, the spectrum is not of the standard, or the axis needs more than one shift).
Each band is located by a least-squares fit of a Lorentzian on a straight baseline
(``scipy.optimize.curve_fit``) over a few cm-1 around its highest point, so the
position falls between grid points and carries a 1-sigma error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import curve_fit

from .errors import InputError
from .lineshapes import lorentzian
from .spectrum import SpectralMap, Spectrum, check_shift

__all__ = [
    "AGREEMENT_K",
    "POLYSTYRENE_BANDS",
    "POLYSTYRENE_E1840",
    "SILICON_CM1",
    "AxisOffset",
    "band_position",
    "offset_from_polystyrene",
    "offset_from_silicon",
]

#: Raman shift of the first-order optical phonon of crystalline silicon at room
#: temperature (cm-1), the usual single-line check of a spectrometer's axis.
SILICON_CM1 = 520.7

#: Polystyrene Raman shifts (cm-1) and their standard deviations (cm-1) among the
#: laboratories of the interlaboratory study of ASTM E1840-96 (reapproved 2022),
#: "Standard Guide for Raman Shift Standards for Spectrometer Calibration", Table 1.
POLYSTYRENE_E1840: dict[float, float] = {
    620.9: 0.69,
    795.8: 0.78,
    1001.4: 0.54,
    1031.8: 0.43,
    1155.3: 0.56,
    1450.5: 0.56,
    1583.1: 0.86,
    1602.3: 0.73,
    2852.4: 0.83,
    2904.5: 0.72,
    3054.3: 1.17,
}

#: The bands `offset_from_polystyrene` uses by default: the sharp ring modes that stand
#: clear of their neighbours. The weak 795.8 band, the broad 1450.5 CH2 band and the
#: overlapping C-H stretches (2852.4, 2904.5, 3054.3) shift with the fit window by
#: more than their tolerance on low-resolution instruments.
POLYSTYRENE_BANDS = (620.9, 1001.4, 1031.8, 1155.3, 1583.1, 1602.3)


#: Coverage factor of `AxisOffset.agrees`: a band agrees with the standard when its
#: corrected position is within this many combined standard uncertainties (about 95 %).
AGREEMENT_K = 2.0


@dataclass(frozen=True)
class AxisOffset:
    """A measured axis offset: add ``shift`` (cm-1) to the Raman shift of every spectrum.

    Attributes
    ----------
    shift : float
        Offset in cm-1 to add to the axis: reference minus measured position
        (weighted mean over the bands).
    error : float
        1-sigma uncertainty of ``shift`` (cm-1).
    reference : tuple of float
        Standard position of each band used (cm-1).
    measured : tuple of float
        Where each band came out on the uncorrected axis (cm-1).
    measured_err : tuple of float
        1-sigma fit error of each measured position (cm-1).
    tolerance : tuple of float
        The standard's stated standard deviation of each reference (cm-1); 0 where
        it states none (silicon).
    standard : str
        What the reference positions are (``"silicon 520.7 cm-1"``, ``"ASTM E1840
        polystyrene"``).
    skipped : tuple of float
        Reference bands that were asked for but not measured (outside the axis, or no
        band found there).
    """

    shift: float
    error: float
    reference: tuple[float, ...]
    measured: tuple[float, ...]
    measured_err: tuple[float, ...]
    tolerance: tuple[float, ...]
    standard: str
    skipped: tuple[float, ...] = ()

    @property
    def residuals(self) -> np.ndarray:
        """Corrected minus reference position of each band (cm-1)."""
        return np.asarray(self.measured) + self.shift - np.asarray(self.reference)

    @property
    def uncertainty(self) -> np.ndarray:
        """Combined standard uncertainty of each residual (cm-1).

        ``sqrt(tolerance**2 + error**2 + measured_err**2)``: the standard's spread, the
        offset's error and the band's own fit error.
        """
        return np.sqrt(
            np.asarray(self.tolerance) ** 2 + self.error**2 + np.asarray(self.measured_err) ** 2
        )

    @property
    def disagreeing(self) -> tuple[float, ...]:
        """Reference positions (cm-1) of the bands that disagree with the standard.

        Those outside `within_tolerance` at ``k = AGREEMENT_K``: after the correction
        they still sit further from their reference than the uncertainty allows.
        """
        ok = self.within_tolerance(AGREEMENT_K)
        return tuple(float(r) for r, good in zip(self.reference, ok, strict=True) if not good)

    @property
    def agrees(self) -> bool:
        """Whether every band agrees with the standard (no `disagreeing` band).

        If not, the spectrum is not of the standard, or the axis is off by different
        amounts at different shifts: ``shift`` does not correct it and should not be used.
        """
        return not self.disagreeing

    def within_tolerance(self, k: float = AGREEMENT_K) -> np.ndarray:
        """Tell, per band, whether the corrected position agrees with the reference.

        Parameters
        ----------
        k : float, optional
            Coverage factor: a band agrees when ``|residual|`` is at most ``k`` times
            its combined standard uncertainty (`uncertainty`). Default is
            `AGREEMENT_K`, 2 (about 95 %).

        Returns
        -------
        numpy.ndarray of bool
            One value per band of ``reference``.
        """
        return np.abs(self.residuals) <= k * self.uncertainty

    def apply(self, data: Any) -> Any:
        """Shift a spectrum, a map or a batch by ``shift``.

        Parameters
        ----------
        data : Spectrum, SpectralMap or iterable of them
            What to correct; measured on the same instrument, on the same day, as the
            reference.

        Returns
        -------
        Spectrum, SpectralMap or list
            The same type (a list for an iterable), each with ``x + shift`` and
            ``meta["shift_cm1"]`` (see `Spectrum.shifted`).

        Raises
        ------
        InputError
            If ``data`` is none of these.
        """
        if isinstance(data, (Spectrum, SpectralMap)):
            return data.shifted(self.shift)
        if isinstance(data, Iterable) and not isinstance(data, (str, bytes, np.ndarray)):
            return [self.apply(item) for item in data]
        raise InputError(
            f"apply takes a Spectrum, a SpectralMap or a list of them, got {type(data).__name__}."
        )

    def __str__(self) -> str:
        return (
            f"shift {self.shift:+.2f} +- {self.error:.2f} cm-1 from {len(self.reference)}"
            f" band(s) ({self.standard})"
        )


def band_position(
    spectrum: Spectrum, centre: float, *, search: float = 8.0, half_width: float = 10.0
) -> tuple[float, float]:
    """Locate the band nearest ``centre`` between grid points.

    Parameters
    ----------
    spectrum : Spectrum
        The spectrum (axis in cm-1).
    centre : float
        Where the band is expected (cm-1).
    search : float, optional
        The band's highest point is looked for within ``centre +- search`` (cm-1).
        Default is 8.
    half_width : float, optional
        Half-width of the fit window around that point (cm-1); widened to three grid
        steps on coarse axes. Default is 10.

    Returns
    -------
    position : float
        Centre of the fitted Lorentzian (cm-1).
    error : float
        Its 1-sigma error from the fit covariance (cm-1).

    Raises
    ------
    InputError
        If the axis does not cover the search window, the highest point is at its
        edge, the fitted area is below 3 times its error (no band there, only noise),
        the fitted centre leaves the search window, or the fit fails.
    """
    x, y = spectrum.x, spectrum.y
    inside = np.flatnonzero(np.abs(x - centre) <= search)
    if inside.size < 3:
        raise InputError(
            f"no data within {centre:g} +- {search:g} cm-1 (axis {x[0]:.1f} to {x[-1]:.1f})."
        )
    top = inside[np.argmax(y[inside])]
    if top in (inside[0], inside[-1]):
        raise InputError(f"no band near {centre:g} cm-1: the intensity peaks at the window edge.")
    x0 = float(x[top])
    half = max(half_width, 3 * float(np.median(np.diff(x))))
    window = np.abs(x - x0) <= half
    xw, yw = x[window], y[window]
    if xw.size < 6:
        raise InputError(f"too few points around {centre:g} cm-1 to fit the band.")

    def model(t, area, position, fwhm, offset, slope):
        return lorentzian(t, area, position, fwhm) + offset + slope * (t - x0)

    base = float(min(yw[0], yw[-1]))
    start = [(y[top] - base) * np.pi * half / 2, x0, half / 2, base, 0.0]
    bounds = ([0, x0 - half, 0.1, -np.inf, -np.inf], [np.inf, x0 + half, 4 * half, np.inf, np.inf])
    try:
        params, cov = curve_fit(model, xw, yw, p0=start, bounds=bounds)
    except (RuntimeError, ValueError) as exc:
        raise InputError(f"the band near {centre:g} cm-1 cannot be fitted ({exc}).") from None
    error, area_error = float(np.sqrt(cov[1, 1])), float(np.sqrt(cov[0, 0]))
    # A fit converges on noise too: keep a band only if its area stands out of its error
    # and its centre stays where the band was looked for.
    if not (np.isfinite(error) and params[0] > 3 * area_error):
        raise InputError(f"no band near {centre:g} cm-1 stands out of the noise.")
    if abs(params[1] - centre) > search:
        raise InputError(f"no band near {centre:g} cm-1: the fit moved to {params[1]:.1f}.")
    return float(params[1]), error


def offset_from_silicon(
    spectrum: Spectrum | str | os.PathLike,
    *,
    reference: float = SILICON_CM1,
    search: float = 10.0,
    half_width: float = 15.0,
) -> AxisOffset:
    """Measure the axis offset from a silicon spectrum.

    Parameters
    ----------
    spectrum : Spectrum, str or os.PathLike
        A spectrum of crystalline silicon, or its file (read with `read_spectrum`).
    reference : float, optional
        The Si phonon position to calibrate to (cm-1). Default is `SILICON_CM1`.
    search, half_width : float, optional
        See `band_position`. Defaults are 10 and 15 cm-1.

    Returns
    -------
    AxisOffset
        ``shift = reference - measured``, ``error`` the fit error of the position.

    Raises
    ------
    InputError
        If no Si line is found within ``reference +- search``.

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman import Spectrum
    >>> from nmcraman.calibration import offset_from_silicon
    >>> x = np.arange(400.0, 650.0, 0.7)
    >>> si = Spectrum(x, 100 + 5000 / (1 + ((x - 518.4) / 1.8) ** 2))
    >>> offset = offset_from_silicon(si)
    >>> round(offset.shift, 2), round(float(offset.apply(si).x[0]), 2)
    (2.3, 402.3)
    """
    spectrum = _as_spectrum(spectrum)
    reference = check_shift(reference)
    try:
        position, error = band_position(spectrum, reference, search=search, half_width=half_width)
    except InputError as exc:
        raise InputError(f"silicon line: {exc}") from None
    return AxisOffset(
        reference - position, error, (reference,), (position,), (error,), (0.0,),
        f"silicon {reference:g} cm-1",
    )  # fmt: skip


def offset_from_polystyrene(
    spectrum: Spectrum | str | os.PathLike,
    *,
    bands: Iterable[float] = POLYSTYRENE_BANDS,
    search: float = 8.0,
    half_width: float = 10.0,
) -> AxisOffset:
    """Measure the axis offset from a polystyrene spectrum and the bands of ASTM E1840.

    Parameters
    ----------
    spectrum : Spectrum, str or os.PathLike
        A polystyrene spectrum, or its file.
    bands : iterable of float, optional
        Reference positions to use, keys of `POLYSTYRENE_E1840` (cm-1). Bands outside
        the axis, or where no band is found, are left out and listed in ``skipped``.
        Default is `POLYSTYRENE_BANDS`.
    search, half_width : float, optional
        See `band_position`. Defaults are 8 and 10 cm-1.

    Returns
    -------
    AxisOffset
        ``shift`` is the mean of reference minus measured positions weighted by
        ``1 / (fit error**2 + standard deviation**2)``; ``error`` its standard error,
        scaled up by the scatter of the bands about it when that is larger than
        their errors predict (Birge ratio), as on an axis that is off by different
        amounts at different shifts. Check ``agrees`` before using ``shift``: a band
        that disagrees (``disagreeing``) means the spectrum is not polystyrene, or
        one shift does not correct this axis.

    Raises
    ------
    InputError
        If a band is not one of `POLYSTYRENE_E1840`, or fewer than two are measured.
    """
    spectrum = _as_spectrum(spectrum)
    wanted = tuple(float(b) for b in bands)
    unknown = [b for b in wanted if b not in POLYSTYRENE_E1840]
    if unknown:
        raise InputError(
            f"{unknown[0]:g} cm-1 is not an ASTM E1840 polystyrene band; use"
            f" {', '.join(f'{b:g}' for b in POLYSTYRENE_E1840)}."
        )
    found, skipped = [], []
    for band in wanted:
        try:
            position = band_position(spectrum, band, search=search, half_width=half_width)
            found.append((band, *position))
        except InputError:
            skipped.append(band)
    if len(found) < 2:
        raise InputError(
            f"only {len(found)} of the {len(wanted)} polystyrene bands were found; is this a"
            " polystyrene spectrum covering 600 to 1650 cm-1?"
        )
    reference, measured, measured_err = (np.array(v) for v in zip(*found, strict=True))
    tolerance = np.array([POLYSTYRENE_E1840[b] for b in reference])
    shift, error = _weighted_mean(reference - measured, np.hypot(measured_err, tolerance))
    return AxisOffset(
        shift, error, tuple(reference), tuple(measured), tuple(measured_err), tuple(tolerance),
        "ASTM E1840 polystyrene", tuple(skipped),
    )  # fmt: skip


def _weighted_mean(values: np.ndarray, sigma: np.ndarray) -> tuple[float, float]:
    """Weighted mean and its error, scaled by the Birge ratio when above 1."""
    weights = 1.0 / sigma**2
    mean = float(np.sum(weights * values) / np.sum(weights))
    error = float(np.sqrt(1.0 / np.sum(weights)))
    chi2 = float(np.sum(weights * (values - mean) ** 2))
    return mean, error * max(1.0, np.sqrt(chi2 / (values.size - 1)))


def _as_spectrum(data: Any) -> Spectrum:
    if isinstance(data, Spectrum):
        return data
    if isinstance(data, (str, os.PathLike)):
        from .io import read_spectrum

        return read_spectrum(data)
    raise InputError(f"give a Spectrum or a file path, got {type(data).__name__}.")
