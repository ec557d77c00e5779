"""Baseline stage: the starting baseline the fitter refines jointly with the bands.

Two kinds of baseline are offered:

- ``"polyN"`` (N = 0 to 6): a polynomial of order N fitted *jointly* with the bands.
  Its coefficients are linear parameters of the fit, solved exactly at every step
  together with the band areas. ``"auto"``, the default of `nmcraman.deconvolve`,
  fits each order of `AUTO_ORDERS` and averages the fits (`nmcraman.choice`); maps
  and joint fits default to ``"poly3"`` and, asked for ``"auto"``, choose one order.
- A starting baseline estimated before the fit (a pybaselines method such as
  ``"asls"``, ``"arpls"``, ``"snip"``, a user array, or a callable), which is then
  held fixed while a low-order polynomial correction (``refine``, default order 1)
  is fitted jointly with the bands.

Notes
-----
Why joint fitting is the default: the Lorentzian tails of these broad, overlapping
bands reach across the whole window, so any baseline estimated without the bands
(asymmetric least squares, SNIP, masked polynomials) takes part of the band area.
Subtract-then-fit biased FWHM by tens of cm-1 and area % by several points in our
measurements (docs page "Baselines", made by ``docs/figures/make_figures.py``); a
cubic fitted jointly
was unbiased on smooth fluorescence backgrounds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._validation import as_float_array
from .errors import InputError

__all__ = [
    "AUTO_ORDERS", "BASELINES", "BaselineStage", "baseline_meta", "baseline_name",
    "baseline_stage", "check_baseline_name", "legendre_basis",
]  # fmt: skip

#: Orders of the joint polynomial that ``baseline="auto"`` averages (`deconvolve`) or
#: chooses between (maps and joint fits): averaging 2 to 5 was more accurate than 3 to
#: 5 or 2 to 6 on every background of benchmarks/window.py.
AUTO_ORDERS = (2, 3, 4, 5)

#: Named baselines: joint polynomials and the pybaselines methods offered by name.
BASELINES: dict[str, str] = {
    **{f"poly{k}": f"polynomial of order {k}, fitted jointly with the bands" for k in range(7)},
    "auto": "polynomials of order 2 to 5 fitted jointly and averaged (pooled: one chosen)",
    "asls": "asymmetric least squares (pybaselines), then a joint polynomial correction",
    "arpls": "asymmetrically reweighted penalized least squares (pybaselines), then refine",
    "airpls": "adaptive iteratively reweighted penalized least squares (pybaselines), refine",
    "snip": "statistics-sensitive non-linear iterative peak clipping (pybaselines), refine",
    "modpoly": "modified polynomial (pybaselines), then a joint polynomial correction",
    "imodpoly": "improved modified polynomial (pybaselines), then refine",
    "rubberband": "rubber band (convex hull, pybaselines), then refine",
    "none": "no baseline: the data are already baseline-free",
}
_POLY = re.compile(r"^poly(\d)$")


@dataclass(frozen=True)
class BaselineStage:
    """What the fitter receives from the baseline stage.

    Attributes
    ----------
    initial : numpy.ndarray, shape (N,)
        Fixed starting baseline (zeros for a joint polynomial).
    order : int
        Order of the polynomial refined jointly with the bands; -1 for none.
    name : str
        Description for reports.
    """

    initial: np.ndarray
    order: int
    name: str


def legendre_basis(x: np.ndarray, order: int) -> np.ndarray:
    """Legendre polynomials P0..P_order on ``x`` mapped to [-1, 1], shape (order + 1, N).

    Legendre rather than monomials keeps the linear solve well conditioned for any
    axis range.
    """
    if order < 0:
        return np.empty((0, x.size))
    out = np.empty((order + 1, x.size))
    out[0] = 1.0
    if order >= 1:
        out[1] = (2.0 * x - (x[0] + x[-1])) / (x[-1] - x[0])
    # Bonnet's recurrence: a tenth of the time of numpy's legvander on a fit window.
    for k in range(1, order):
        out[k + 1] = ((2 * k + 1) * out[1] * out[k] - k * out[k - 1]) / (k + 1)
    return out


def joint_order(baseline, refine: int = 1) -> int:
    """Order of the polynomial fitted jointly with the bands; -1 for none.

    Examples
    --------
    >>> from nmcraman.baseline import joint_order
    >>> joint_order("poly2"), joint_order("asls", refine=1), joint_order(None)
    (2, 1, -1)
    """
    if baseline is None or (isinstance(baseline, str) and baseline.lower() == "none"):
        return -1
    if isinstance(baseline, str):
        match = _POLY.match(baseline.lower())
        if match and baseline.lower() in BASELINES:
            return int(match.group(1))
    return _check_refine(refine)


def baseline_stage(
    x: np.ndarray,
    y: np.ndarray,
    baseline: str | np.ndarray | Callable | None = "poly3",
    refine: int = 1,
    **kwargs,
) -> BaselineStage:
    """Compute the starting baseline and the order of the joint polynomial.

    Parameters
    ----------
    x, y : numpy.ndarray, shape (N,)
        The whole validated, ascending spectrum (cm-1); the fit slices its window.
    baseline : str, array-like, callable or None, optional
        ``"polyN"``, a pybaselines method name, ``"none"``/None, an array like
        shape (N,), or a callable ``f(x, y) -> array``. Default is ``"poly3"``.
    refine : int, optional
        Order of the joint polynomial added to a non-polynomial starting baseline;
        -1 for none. Default is 1.
    **kwargs
        Passed to the pybaselines method (e.g. ``lam=1e6``).

    Returns
    -------
    BaselineStage

    Raises
    ------
    InputError
        Unknown name, wrong array length, or a failing pybaselines call.

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman.baseline import baseline_stage
    >>> x = np.linspace(200.0, 800.0, 601)
    >>> baseline_stage(x, 1 + x / 100).order
    3
    """
    if baseline is None or (isinstance(baseline, str) and baseline.lower() == "none"):
        return BaselineStage(np.zeros_like(y), -1, "none")
    refine = _check_refine(refine)
    if isinstance(baseline, str):
        key = baseline.lower()
        if key == "auto":
            raise InputError(
                "baseline 'auto' is a choice between joint polynomials, made by"
                " nmcraman.choice before the fit; give 'polyN' to fit one order."
            )
        match = _POLY.match(key)
        if match and key in BASELINES:
            order = int(match.group(1))
            return BaselineStage(np.zeros_like(y), order, baseline_name(key))
        check_baseline_name(baseline)
        from pybaselines import Baseline

        try:
            initial, _ = getattr(Baseline(x_data=x), key)(y, **kwargs)
        except (TypeError, ValueError) as exc:  # LinAlgError is a ValueError
            text = " ".join(str(exc).split())
            raise InputError(
                f"baseline {key!r} failed or rejected its options ({text}); check"
                " baseline_kwargs or use the default 'poly3'."
            ) from None
    elif callable(baseline):
        initial = baseline(x, y)
    else:
        initial = baseline
    initial = as_float_array(initial, "the starting baseline")
    if initial.shape != y.shape or not np.all(np.isfinite(initial)):
        raise InputError(
            f"the starting baseline must be {y.size} finite values, one per point of the"
            f" spectrum; got shape {initial.shape}."
        )
    return BaselineStage(initial, int(refine), baseline_name(baseline, refine))


def check_baseline_name(baseline: str) -> None:
    """Refuse a baseline name that is not one of `BASELINES` (any case).

    Raises
    ------
    InputError
        Naming the names there are.
    """
    if baseline.lower() not in BASELINES:
        methods = (k for k in BASELINES if not k.startswith("poly") and k not in ("auto", "none"))
        raise InputError(
            f"unknown baseline {baseline!r}; use auto, poly0..poly6, none, or one of"
            f" {', '.join(methods)}."
        )


def baseline_name(baseline, refine: int = 1) -> str:
    """Describe a baseline as reports and metadata name it (``meta["baseline"]``).

    Parameters
    ----------
    baseline : str, array-like, callable or None
        As for `baseline_stage`; ``"auto"`` is described as a choice.
    refine : int, optional
        Order of the joint polynomial correction of a starting baseline. Default is 1.

    Returns
    -------
    str

    Examples
    --------
    >>> from nmcraman.baseline import baseline_name
    >>> baseline_name("poly3"), baseline_name("asls", refine=2)
    ('joint polynomial, order 3', 'asls (pybaselines) + joint polynomial order 2')
    """
    if baseline is None or (isinstance(baseline, str) and baseline.lower() == "none"):
        return "none"
    if isinstance(baseline, str):
        key = baseline.lower()
        match = _POLY.match(key)
        if match and key in BASELINES:
            return f"joint polynomial, order {int(match.group(1))}"
        if key == "auto":
            return BASELINES["auto"]
        start = f"{key} (pybaselines)"
    elif callable(baseline):
        start = getattr(baseline, "__name__", "callable")
    else:
        start = "user array"
    return f"{start} + joint polynomial order {refine}"


def baseline_meta(baseline, refine: int = 1) -> dict:
    """Return a map's baseline metadata: ``baseline`` (`baseline_name`), ``baseline_order``.

    ``baseline_order`` is the order of the polynomial fitted jointly with the bands
    (`joint_order`; -1 for none).
    """
    return {
        "baseline": baseline_name(baseline, refine),
        "baseline_order": joint_order(baseline, refine),
    }


def _check_refine(refine) -> int:
    """Return ``refine`` as an int in -1..6 or raise `InputError`."""
    try:
        order = int(refine)
        ok = not isinstance(refine, (bool, np.bool_)) and order == refine and -1 <= order <= 6
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise InputError(f"refine must be an order from -1 to 6 (an integer), got {refine!r}.")
    return order
