"""Numerical options of the fitter, shared by `deconvolve` and the map functions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array, as_number
from .errors import InputError

__all__ = ["FitOptions"]

#: Start widths as multiples of the prior FWHM. Several starts because overlapping
#: broad bands have local minima; the lowest residual wins.
START_WIDTH_SCALES = (0.7, 1.0, 1.4)


@dataclass(frozen=True)
class FitOptions:
    """Numerical options of the fitter (defaults suit 0.5 to 2 cm-1 sampled spectra).

    What each default buys, measured on the benchmark spectra, is in the docs'
    "Performance and accuracy" page (docs/performance.rst), beside the commands that
    measure it.

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
        at the default), and the last iterations along flat valleys are saved.
        0 turns this test off. Default is 1e-4.
    width_scales : tuple of float
        Starting FWHMs as multiples of the prior FWHM, tried in this order (see
        ``all_starts``). Default is (0.7, 1, 1.4). ``(0.7,)``, one start, is hardly
        faster but ends in a worse local minimum more often.
    centre_shifts : tuple of float or None
        Starting centres moved by these fractions of the way to the window edge
        (negative: towards the low edge); one start per shift and width scale.
        None chooses by shape: ``(0,)`` for Lorentzian bands, ``(0, -0.4, 0.4)``
        for Gaussian and pseudo-Voigt bands, whose landscape has more local minima.
        Default is None.
    warm_ratio : float
        Maps only: a pixel is fitted from its neighbour's solution (warm start) and
        from the first prior start, and keeps the better of the two when its reduced
        chi-square is at most this many times the noise variance estimated from the
        data; otherwise the remaining prior starts run too. The first prior start
        always runs because a warm start alone inherits its neighbour's local
        minima. 0 turns warm starts off. Default is 1.3.
    all_starts : bool
        Lorentzian bands only: if False, the starts run in turn only until the best
        minimum so far has every band present and no centre or FWHM on a bound, the
        mark of a start caught in another basin (``nmcraman._kernels.levmar.trapped``): later starts
        rarely improve an untrapped minimum, and most of the iterations are saved.
        Gaussian and pseudo-Voigt bands, trapped in interior minima too, always run
        every start, and map pixels fitted from a warm start run their prior starts
        by ``warm_ratio`` instead. True runs every start. Default is False.
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
