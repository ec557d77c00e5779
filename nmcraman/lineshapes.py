"""Line shapes parametrised by area, centre and FWHM (pure numpy).

Every profile here integrates to ``area`` over the real line, peaks at ``centre``
and has full width at half maximum ``fwhm`` (cm-1). These are the reference
implementations: the numba kernels in `nmcraman._kernels.profiles` compute the same
functions and are tested against them.
"""

from __future__ import annotations

import numpy as np

from ._kernels.profiles import GAUSS_PEAK, LORENTZ_PEAK, SHAPE_CODES

__all__ = [
    "LINESHAPES",
    "gaussian",
    "lorentzian",
    "peak_height",
    "pseudo_voigt",
    "shape_code",
]

_LN2 = np.log(2.0)


def lorentzian(x, area, centre, fwhm):
    """Lorentzian (Cauchy) profile.

    Parameters
    ----------
    x : array-like
        Raman shift, cm-1.
    area : float
        Integrated intensity (intensity x cm-1).
    centre : float
        Peak position, cm-1.
    fwhm : float
        Full width at half maximum, cm-1.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> from nmcraman.lineshapes import lorentzian
    >>> round(float(lorentzian(500.0, 1.0, 500.0, 2.0 / 3.141592653589793)), 6)
    1.0
    """
    u = (np.asarray(x, dtype=float) - centre) / fwhm
    return area * LORENTZ_PEAK / fwhm / (1.0 + 4.0 * u * u)


def gaussian(x, area, centre, fwhm):
    """Gaussian profile.

    Parameters
    ----------
    x : array-like
        Raman shift, cm-1.
    area : float
        Integrated intensity.
    centre : float
        Peak position, cm-1.
    fwhm : float
        Full width at half maximum, cm-1.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> from nmcraman.lineshapes import gaussian
    >>> float(gaussian(510.0, 1.0, 500.0, 20.0) / gaussian(500.0, 1.0, 500.0, 20.0))
    0.5
    """
    u = (np.asarray(x, dtype=float) - centre) / fwhm
    return area * GAUSS_PEAK / fwhm * np.exp(-4.0 * _LN2 * u * u)


def pseudo_voigt(x, area, centre, fwhm, eta=0.5):
    """Pseudo-Voigt profile: ``eta`` Lorentzian plus ``1 - eta`` Gaussian, same FWHM.

    Parameters
    ----------
    x : array-like
        Raman shift, cm-1.
    area : float
        Integrated intensity.
    centre : float
        Peak position, cm-1.
    fwhm : float
        Full width at half maximum, cm-1.
    eta : float, optional
        Lorentzian fraction in [0, 1]. Default is 0.5.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> from nmcraman.lineshapes import pseudo_voigt, lorentzian
    >>> bool(pseudo_voigt(480.0, 2.0, 500.0, 30.0, eta=1.0) == lorentzian(480.0, 2.0, 500.0, 30.0))
    True
    """
    return eta * lorentzian(x, area, centre, fwhm) + (1.0 - eta) * gaussian(x, area, centre, fwhm)


#: Registry of line shapes by name; kernels use the integer codes from `shape_code`.
LINESHAPES = {"lorentzian": lorentzian, "gaussian": gaussian, "pseudo_voigt": pseudo_voigt}


def shape_code(shape: str) -> int:
    """Integer code of a line shape for the kernels (0 Lorentzian, 1 Gaussian, 2 pseudo-Voigt)."""
    return SHAPE_CODES[shape]


def peak_height(area, fwhm, shape: str = "lorentzian", eta: float = 0.5):
    """Peak height of a band from its area and FWHM (cm-1).

    Parameters
    ----------
    area : float or array-like
        Integrated intensity.
    fwhm : float or array-like
        Full width at half maximum, cm-1.
    shape : {"lorentzian", "gaussian", "pseudo_voigt"}, optional
        Default is ``"lorentzian"``.
    eta : float, optional
        Lorentzian fraction for the pseudo-Voigt. Default is 0.5.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> from nmcraman.lineshapes import peak_height
    >>> round(float(peak_height(3.141592653589793, 2.0)), 12)
    1.0
    """
    mix = {"lorentzian": 1.0, "gaussian": 0.0}.get(shape, eta)
    return np.asarray(area) / np.asarray(fwhm) * (mix * LORENTZ_PEAK + (1 - mix) * GAUSS_PEAK)
