"""Input checks done once, at the edge of the public API.

Everything behind this module (baseline, kernels, fit) may assume finite, 1-D,
float64, strictly ascending x with a y of the same length.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from .errors import InputError, ReadError

MIN_POINTS = 8
#: Largest intensity magnitude accepted. The fit squares intensities (residual sums,
#: covariances); beyond about 1e150 those overflow to inf, below 1e-150 they vanish.
MAX_INTENSITY = 1e100
#: Smallest accepted largest-magnitude intensity (the spectrum's scale).
MIN_INTENSITY = 1e-100
#: Smallest accepted spread of y (max - min) relative to its largest magnitude. Below
#: this the bands sink into float64 rounding: with an offset 1e9 times the band
#: heights, fits lost digits and returned undefined errors flagged "ok".
MIN_RELATIVE_SPREAD = 1e-6
#: Consecutive points at the top intensity of the fit window that mark a saturated
#: (clipped) detector; see `check_saturation`.
SATURATION_RUN = 5

_ComplexWarning = getattr(getattr(np, "exceptions", np), "ComplexWarning", Warning)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _is_complex(values) -> bool:
    try:
        return bool(np.iscomplexobj(values))
    except (TypeError, ValueError, OverflowError):
        return False


def as_float_array(values, name: str) -> np.ndarray:
    """Return ``values`` as a float64 array of any shape, or raise `InputError`.

    Refuses what numpy would convert silently but wrongly: complex numbers (the
    imaginary part would be dropped), masked arrays with masked points (the mask
    would be dropped) and dates or times.
    """
    if type(values) is np.ndarray and values.dtype == np.float64:
        # The common case (a float64 array, not a subclass such as a masked array)
        # needs none of the checks below; they cost as much as a small fit's setup.
        return values
    if np.ma.isMaskedArray(values) and np.ma.getmaskarray(values).any():
        n = int(np.ma.getmaskarray(values).sum())
        raise InputError(
            f"{name} has {n} masked value(s); drop them (.compressed()) or fill them"
            " (.filled()) before fitting."
        )
    kind = getattr(getattr(values, "dtype", None), "kind", None)
    if kind in ("M", "m"):
        raise InputError(f"{name} holds dates or times, not numbers; pass the values in cm-1.")
    if kind == "c" or (kind is None and _is_complex(values)):
        raise InputError(
            f"{name} is complex-valued; pass real numbers (e.g. the real part or the modulus)."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _ComplexWarning)
            arr = np.asarray(values, dtype=np.float64)
    except _ComplexWarning:
        raise InputError(
            f"{name} is complex-valued; pass real numbers (e.g. the real part or the modulus)."
        ) from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(
            f"{name} must be numbers; could not convert it ({one_line(exc)})."
        ) from None
    return arr


def as_1d_float(values, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D float64 array or raise `InputError`."""
    arr = as_float_array(values, name)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional; got an array of shape {arr.shape}.")
    return arr


def as_number(value, name: str, *, low: float = -math.inf, high: float = math.inf) -> float:
    """Return ``value`` as a finite float within ``[low, high]`` or raise `InputError`.

    For scalar options such as ``xmin``, ``xmax`` and ``eta``.
    """
    if isinstance(value, (bool, np.bool_)) or value is None:
        out = math.nan
    else:
        try:
            out = float(value)
        except (TypeError, ValueError, OverflowError):
            out = math.nan
    if not (math.isfinite(out) and low <= out <= high):
        where = "" if (low, high) == (-math.inf, math.inf) else f" in [{low:g}, {high:g}]"
        raise InputError(f"{name} must be a finite number{where}; got {value!r}.")
    return out


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
        If the arrays are empty, of different lengths, not real numbers, not
        finite, too short, have repeated x values, y is constant, or the
        intensities are beyond what float64 arithmetic on them can hold
        (largest magnitude outside 1e-100 to 1e100, or a spread below 1e-6 of
        that magnitude).
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
        if not np.isfinite(arr).all():
            bad = ~np.isfinite(arr)
            first = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{name} has {int(bad.sum())} NaN or infinite value(s) (first at index {first});"
                " remove or interpolate them."
            )
    if x.size < MIN_POINTS:
        raise InputError(f"the spectrum has only {x.size} points; at least {MIN_POINTS} needed.")
    if (x[1:] > x[:-1]).all():
        # Already strictly ascending (most files): no sort, and no repeated values.
        x, y = x.copy(), y.copy()
    else:
        order = np.argsort(x, kind="stable")
        x = np.ascontiguousarray(x[order])
        y = np.ascontiguousarray(y[order])
        with np.errstate(over="ignore"):
            dup = np.diff(x) == 0
        if dup.any():
            raise InputError(
                f"x has {int(dup.sum())} repeated value(s) (first at {x[1:][dup][0]:g} cm-1);"
                " average or drop duplicate points."
            )
    lo, hi = float(y.min()), float(y.max())
    if lo == hi:
        raise InputError(f"y is constant ({y[0]:g}): there is no signal to fit.")
    _check_intensity_range(y, "y", lo, hi)
    return x, y


def _check_intensity_range(y: np.ndarray, where: str, lo: float, hi: float) -> None:
    """Refuse intensities float64 cannot fit (see `check_xy`); ``lo``, ``hi``: y's extremes."""
    top = max(-lo, hi)
    if not MIN_INTENSITY <= top <= MAX_INTENSITY:
        raise InputError(
            f"{where} reaches {top:g} at most in magnitude, outside {MIN_INTENSITY:g} to"
            f" {MAX_INTENSITY:g}; rescale the intensities (e.g. divide by their maximum)."
        )
    spread = hi - lo  # finite: |y| <= MAX_INTENSITY
    if spread < MIN_RELATIVE_SPREAD * top:
        raise InputError(
            f"{where} varies by only {spread / top:.1g} of its level {top:g}, too little for"
            " float64 arithmetic to resolve bands; subtract the offset or check the data."
        )


def check_fit_window(x: np.ndarray, y: np.ndarray) -> None:
    """Check the part of a validated spectrum that is fitted.

    `check_xy` validates the whole spectrum; the fit window cut from it may still
    hold no usable signal. Raises `InputError` if, inside the window, the largest
    intensity is outside ``MIN_INTENSITY``..``MAX_INTENSITY``, the intensities vary by
    less than ``MIN_RELATIVE_SPREAD`` of their level (the bands would be below
    float64 precision), or the detector saturated (`check_saturation`).

    Parameters
    ----------
    x, y : numpy.ndarray, shape (N,)
        The validated, ascending spectrum restricted to the fit window, before any
        baseline is subtracted.
    """
    if y.size == 0:
        return
    hi = float(y.max())
    _check_intensity_range(y, "y in the fit window", float(y.min()), hi)
    check_saturation(x, y, top=hi)


def check_saturation(
    x: np.ndarray, y: np.ndarray, run: int = SATURATION_RUN, top: float | None = None
) -> None:
    """Refuse a fit window whose band region is clipped at the detector maximum.

    Rule: ``run`` (default 5) or more *consecutive* points exactly equal to the
    highest intensity of the window mean the detector saturated there (a flat top
    at 65535 counts, or wherever the electronics clipped). Measured peaks with
    noise never repeat their maximum exactly five times in a row.

    Parameters
    ----------
    x, y : numpy.ndarray, shape (N,)
        The validated, ascending spectrum restricted to the fit window.
    run : int, optional
        Minimal length of the flat top. Default is `SATURATION_RUN`.
    top : float, optional
        ``y.max()``, when the caller has it already.

    Raises
    ------
    InputError
        If the window holds such a flat top.

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman._validation import check_saturation
    >>> x = np.arange(100.0)
    >>> from nmcraman import InputError
    >>> check_saturation(x, np.sin(x / 30))  # no flat top: returns None
    >>> try:
    ...     check_saturation(x, np.minimum(np.sin(x / 30), 0.9))
    ... except InputError as exc:
    ...     print(str(exc)[:19])
    saturated detector:
    """
    y = np.asarray(y)
    if y.size < run:
        return
    top = y.max() if top is None else top
    at_top = y == top
    if np.count_nonzero(at_top) < run:
        return
    edges = np.diff(np.concatenate(([0], at_top.view(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    k = int(np.argmax(ends - starts))
    if ends[k] - starts[k] >= run:
        a, b = float(x[starts[k]]), float(x[ends[k] - 1])
        raise InputError(
            f"saturated detector: {ends[k] - starts[k]} consecutive points at the maximum"
            f" {top:g} from {a:g} to {b:g} cm-1; reduce exposure or laser power and"
            " measure again, or leave that range out of the fit window (window=(xmin, xmax);"
            " --xmin/--xmax on the command line)."
        )


#: What ``read=`` of the fitting functions holds: how a reader takes x and y from a file.
READ_OPTIONS = ("laser_nm", "column")


def check_read(read) -> dict:
    """Return the reader options ``read`` (`READ_OPTIONS`) given, without those left None.

    Raises
    ------
    InputError
        If ``read`` is not a dict, or names an option not in `READ_OPTIONS`.
    """
    if read is None:
        return {}
    if not isinstance(read, Mapping):
        raise InputError(
            f"read must be a dict such as {{'laser_nm': 785}}, got {type(read).__name__}."
        )
    unknown = sorted(set(read) - set(READ_OPTIONS))
    if unknown:
        raise InputError(f"read= takes {' and '.join(READ_OPTIONS)}, not {unknown[0]!r}.")
    return {k: v for k, v in read.items() if v is not None}


#: A reader keyword that a reader's message names (``pass laser_nm=``, ``column=5 is
#: out of range``), with its value if one follows.
_READER_KEYWORD = re.compile(
    r"(?<![\w.\-'])(laser_nm|column)=(?!=)('[^']*'|-?\d+(?:\.\d+)?(?![\d.]\d))?"
)


def read_spelling(message: str) -> str:
    """Return a reader's ``message`` with its keywords spelled as ``read=`` takes them.

    The readers take ``laser_nm=`` and ``column=`` (`nmcraman.read_spectrum`); the
    fitting functions take them inside ``read=``, so ``pass laser_nm=`` becomes ``pass
    read={'laser_nm': ...}`` and ``column=5`` becomes ``read={'column': 5}``.
    """
    return _READER_KEYWORD.sub(lambda m: f"read={{'{m[1]}': {m[2] or '...'}}}", message)


@contextmanager
def reading_with_read() -> Iterator[None]:
    """Re-raise a reader's `ReadError` with its keywords spelled as ``read=`` (`read_spelling`)."""
    try:
        yield
    except ReadError as exc:
        message = read_spelling(str(exc))
        if message == str(exc):
            raise
        raise ReadError(message) from exc


def refuse_file_options(read: dict) -> None:
    """Refuse reader options (`check_read`) for data that are not read from a file.

    They tell a reader how to take x and y from a file; arrays and `Spectrum` objects
    have both already, so the options would be silently ignored.

    Raises
    ------
    InputError
        If any is given.
    """
    if read:
        raise InputError(
            f"read={read!r} applies only to data read from a file (how to read it); pass the"
            " file's path, or drop read= for arrays and Spectrum objects."
        )
