"""Input checks done once, at the edge of the public API.

Everything behind this module (baseline, kernels, fit) may assume finite, 1-D,
float64, strictly ascending x with a y of the same length.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

MIN_POINTS = 8


def as_1d_float(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array or raise `InputError`."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numbers; could not convert it ({exc}).") from None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional; got an array of shape {arr.shape}.")
    return arr


def check_xy(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Validate a spectrum and return it sorted by ascending x.

    Parameters
    ----------
    x : array-like, shape (N,)
        Raman shift in cm-1, in any order.
    y : array-like, shape (N,)
        Intensity.

    Returns
    -------
    x, y : numpy.ndarray
        New contiguous float64 arrays, sorted so that x ascends.

    Raises
    ------
    InputError
        If the arrays are empty, of different lengths, not finite, too short,
        have repeated x values, or y is constant.
    """
    x = as_1d_float(x, "x")
    y = as_1d_float(y, "y")
    if x.size == 0 or y.size == 0:
        raise InputError("the spectrum is empty: x and y need at least one point each.")
    if x.size != y.size:
        raise InputError(
            f"x and y differ in length ({x.size} and {y.size}); give one intensity per shift."
        )
    for arr, name in ((x, "x"), (y, "y")):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{name} has {int(bad.sum())} NaN or infinite value(s) (first at index {first});"
                " remove or interpolate them."
            )
    if x.size < MIN_POINTS:
        raise InputError(f"the spectrum has only {x.size} points; at least {MIN_POINTS} needed.")
    order = np.argsort(x, kind="stable")
    x = np.ascontiguousarray(x[order])
    y = np.ascontiguousarray(y[order])
    dup = np.diff(x) == 0
    if dup.any():
        raise InputError(
            f"x has {int(dup.sum())} repeated value(s) (first at {x[1:][dup][0]:g} cm-1);"
            " average or drop duplicate points."
        )
    if np.ptp(y) == 0:
        raise InputError(f"y is constant ({y[0]:g}): there is no signal to fit.")
    return x, y
