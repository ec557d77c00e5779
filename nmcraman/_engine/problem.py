"""The parameter layout, the fit geometry and one spectrum's problem, ready for an engine.

`Geometry` is what a fit is about before any intensity is read (window, basis,
starts, bounds); `Problem` adds one spectrum.

`Layout` is the one owner of the parameter layout: counts, slices and names of the
nonlinear parameters (``theta``: centres, FWHMs, eta) and the linear ones (``coef``:
areas, baseline coefficients), in the row order of the covariance and of the errors.
Everything else (`nmcraman.fit`, `nmcraman.results`, `nmcraman.maps`) asks it.

`Geometry` and `Problem` are frozen and their arrays read-only: cached geometries are
shared between fits (`geometry` is an lru_cache), so nothing may write into them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from functools import cached_property, lru_cache

import numpy as np

from .._validation import as_number, check_fit_window
from ..bands import Band, check_ties
from ..baseline import BaselineStage, baseline_stage, joint_order, legendre_basis
from ..errors import BandError, InputError
from ..lineshapes import shape_code
from ..model import FIXED, WIDE_WINDOW, WINDOW_MARGIN, WINDOWS, check_eta, check_shape
from ..options import FitOptions
from ..spectrum import Spectrum

#: Minimal separation (cm-1) between consecutive band centres, so bands never swap.
MIN_SEPARATION = 2.0
#: Built once: validating a FitOptions costs a noticeable part of a fit.
_DEFAULT_OPTIONS = FitOptions()


@dataclass(frozen=True)
class Layout:
    """Where each parameter of a fit lives.

    The kernels' vectors are ``theta`` (`n_theta`: centres, FWHMs, then eta, whose
    slot is there even when eta is not fitted) and ``coef`` (`n_linear`: areas, then
    baseline coefficients). The covariance and the errors have one row per fitted
    parameter (`n_params`, in the order of `names`: centres, FWHMs, eta if fitted,
    areas, baseline); the errors then go on with the area fractions (`n_errors`).

    Attributes
    ----------
    ids : tuple of str
        Band ids, in table order.
    n_basis : int
        Baseline columns fitted jointly.
    fit_eta : bool
        Whether the pseudo-Voigt eta is fitted.
    n_held : int
        Centres and FWHMs held by the bands' ``fix`` and ``tie`` (`parameter_map`):
        they keep their rows (with zero variance) but are not counted as fitted.
    """

    ids: tuple[str, ...]
    n_basis: int
    fit_eta: bool
    n_held: int = 0

    @property
    def nb(self) -> int:
        """Number of bands."""
        return len(self.ids)

    @property
    def n_theta(self) -> int:
        """Length of the kernels' ``theta`` (2 nb + 1)."""
        return 2 * self.nb + 1

    @property
    def n_nonlinear(self) -> int:
        """Nonlinear parameters fitted: centres, FWHMs and eta if fitted."""
        return 2 * self.nb + int(self.fit_eta)

    @property
    def n_linear(self) -> int:
        """Linear parameters: areas and baseline coefficients (``coef``)."""
        return self.nb + self.n_basis

    @property
    def n_params(self) -> int:
        """Every fitted parameter: rows of the covariance, ``k`` of AIC and BIC."""
        return self.n_nonlinear + self.n_linear

    @property
    def n_fitted(self) -> int:
        """Parameters actually fitted: ``k`` of AIC and BIC, and of the degrees of freedom."""
        return self.n_params - self.n_held

    @property
    def n_errors(self) -> int:
        """Length of the errors: every parameter, then each band's area fraction."""
        return self.n_params + self.nb

    @property
    def position(self) -> slice:
        """Centres, in ``theta``, the covariance and the errors."""
        return slice(0, self.nb)

    @property
    def fwhm(self) -> slice:
        """FWHMs, in ``theta``, the covariance and the errors."""
        return slice(self.nb, 2 * self.nb)

    @property
    def eta(self) -> int:
        """Index of eta in ``theta`` (and in the covariance and errors if fitted)."""
        return 2 * self.nb

    @property
    def area(self) -> slice:
        """Areas in the covariance and the errors (in ``coef``: the first nb)."""
        return slice(self.n_nonlinear, self.n_nonlinear + self.nb)

    @property
    def baseline(self) -> slice:
        """Baseline coefficients in the covariance and the errors."""
        return slice(self.n_nonlinear + self.nb, self.n_params)

    @property
    def area_pct(self) -> slice:
        """Area-fraction (%) errors, after the parameters' errors."""
        return slice(self.n_params, self.n_errors)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Names of the fitted parameters, in the row order of the covariance."""
        ids = self.ids
        names = [f"{i}_position" for i in ids] + [f"{i}_fwhm" for i in ids]
        names += ["eta"] if self.fit_eta else []
        names += [f"{i}_area" for i in ids] + [f"baseline_c{j}" for j in range(self.n_basis)]
        return tuple(names)

    def min_points(self) -> int:
        """Fewest points a fit window needs: twice the parameters with eta, at least 20.

        Eta is counted whether fitted or not, so that a spectrum's window is accepted
        or refused whatever the shape.
        """
        return max(2 * (3 * self.nb + self.n_basis + 1), 20)


@dataclass(frozen=True, eq=False)
class Geometry:
    """What does not depend on the intensities: window, basis, starts and bounds.

    Arrays are read-only (see the module docstring); ``theta``-long arrays follow
    `Layout`. Held parameters (`Band.fix`, `Band.tie`) are in the arrays the kernels
    read: ``link`` is their parameter map (`parameter_links`); a fixed slot's bounds
    both equal its value, and a tied slot shares its target's start and bounds (the
    tighter of the two).
    """

    bands: tuple[Band, ...]
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
    layout: Layout
    link: np.ndarray

    _ARRAYS = ("sel", "x", "basis", "starts", "lo", "hi", "order", "link")

    def __post_init__(self) -> None:
        for name in self._ARRAYS:
            getattr(self, name).setflags(write=False)

    @property
    def nb(self) -> int:
        """Number of bands."""
        return self.layout.nb

    @property
    def ids(self) -> tuple[str, ...]:
        """Band ids, in table order."""
        return self.layout.ids

    @cached_property
    def labels(self) -> tuple[str, ...]:
        """Band display labels, in table order."""
        return tuple(b.label for b in self.bands)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of all fitted parameters (`Layout.names`)."""
        return self.layout.names

    def param_names(self) -> list[str]:
        """Names of all fitted parameters, in the row order of the covariance."""
        return list(self.layout.names)

    @property
    def shape_code(self) -> int:
        """The kernels' code of the line shape."""
        return shape_code(self.shape)

    @property
    def all_starts(self) -> bool:
        """Whether every start runs, not only those until a minimum is untrapped.

        The early stop suits Lorentzian bands only: Gaussian and pseudo-Voigt bands
        get trapped in interior minima too. See `FitOptions.all_starts`.
        """
        return self.options.all_starts or self.shape != "lorentzian"


@dataclass(frozen=True, eq=False)
class Problem(Geometry):
    """Everything an engine needs for one spectrum, in kernel-ready arrays."""

    spectrum: Spectrum
    y: np.ndarray
    initial_baseline: np.ndarray
    scale: float
    baseline_name: str

    #: The geometry's arrays come read-only from a `Geometry` (see `prepare`).
    _ARRAYS = ("y", "initial_baseline")


#: Fields a `Problem` takes over from its `Geometry`.
_GEOMETRY_FIELDS = tuple(f.name for f in fields(Geometry))


def window_bounds(band_list: list[Band], rule: str, xmin=None, xmax=None) -> tuple[float, float]:
    """Return the fit window of a `WINDOWS` rule, cm-1, before clipping to the data.

    ``xmin`` and ``xmax``, when given, replace the rule's side exactly.

    Raises
    ------
    InputError
        An unknown rule, or a bound that is not a number.
    """
    if not isinstance(rule, str) or rule not in WINDOWS:
        raise InputError(f"unknown window {rule!r}; use 'auto' or one of {', '.join(WINDOWS)}.")
    lo = min(b.window[0] for b in band_list) - WINDOW_MARGIN
    hi = max(b.window[1] for b in band_list) + WINDOW_MARGIN
    if rule == "wide":
        lo, hi = min(lo, WIDE_WINDOW[0]), max(hi, WIDE_WINDOW[1])
    lo = lo if xmin is None else as_number(xmin, "xmin")
    hi = hi if xmax is None else as_number(xmax, "xmax")
    return lo, hi


def _window(x: np.ndarray, band_list: list[Band], xmin, xmax, rule) -> tuple[float, float]:
    lo, hi = window_bounds(band_list, rule, xmin, xmax)
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
                f" the fitted range ({lo:g}, {hi:g}); widen the window, measure a wider range"
                " or drop the band."
            )
    return lo, hi


def geometry(
    x_full: np.ndarray,
    band_list: list[Band],
    *,
    shape: str = "lorentzian",
    baseline_order: int = joint_order(FIXED["baseline"], 1),
    xmin: float | None = None,
    xmax: float | None = None,
    eta: float | None = None,
    options: FitOptions | None = None,
    window: str = FIXED["window"],
) -> Geometry:
    """Fit window, baseline basis, starts and bounds for an ascending axis (cm-1).

    ``window`` names the `WINDOWS` rule for the sides that ``xmin`` and ``xmax`` leave
    unset. Cached: spectra from one instrument share their axis, and building this
    costs about a tenth of a fit. A cached Geometry is shared: it is frozen and its
    arrays are read-only.
    """
    x_bytes = np.ascontiguousarray(x_full, dtype=np.float64).tobytes()
    key = (x_bytes, tuple(band_list), shape, baseline_order, xmin, xmax, eta, options, window)
    try:
        hash(key)
    except TypeError:
        return _geometry(x_full, *key[1:])
    return _cached_geometry(key)


@lru_cache(maxsize=32)
def _cached_geometry(key: tuple) -> Geometry:
    return _geometry(np.frombuffer(key[0]), *key[1:])


def _geometry(
    x_full, band_list, shape, baseline_order, xmin, xmax, eta, options, window
) -> Geometry:
    check_shape(shape)
    eta = check_eta(eta)
    if options is not None and not isinstance(options, FitOptions):
        raise InputError(f"options must be a FitOptions, got {type(options).__name__}.")
    options = options or _DEFAULT_OPTIONS
    lo_x, hi_x = _window(x_full, band_list, xmin, xmax, window)
    sel = (x_full >= lo_x) & (x_full <= hi_x)
    x = np.ascontiguousarray(x_full[sel])
    basis = legendre_basis(x, baseline_order)
    nb = len(band_list)
    fit_eta = shape == "pseudo_voigt" and eta is None
    held = sum(len(b.fix) + len(b.tie) for b in band_list)
    layout = Layout(tuple(b.id for b in band_list), basis.shape[0], fit_eta, held)
    if x.size < layout.min_points():
        raise InputError(
            f"only {x.size} points lie in the fit window ({lo_x:g} to {hi_x:g} cm-1);"
            f" {layout.min_points()} or more are needed for {nb} bands."
        )
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
    link = parameter_links(band_list, fit_eta)
    _hold(lo, hi, link, *parameter_map(band_list, fit_eta))
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
    tied = np.flatnonzero(link >= 0)
    starts[:, tied] = starts[:, link[tied]]  # free slots copy themselves
    return Geometry(
        bands=tuple(band_list),
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
        layout=layout,
        link=link,
    )


def prepare(
    spectrum: Spectrum,
    band_list: list[Band],
    *,
    shape: str = "lorentzian",
    baseline: str | np.ndarray | Callable | None = FIXED["baseline"],
    refine: int = 1,
    xmin: float | None = None,
    xmax: float | None = None,
    eta: float | None = None,
    options: FitOptions | None = None,
    baseline_kwargs: dict | None = None,
    window: str = FIXED["window"],
) -> Problem:
    """Build the kernel-ready `Problem` for one spectrum (see `nmcraman.deconvolve`).

    ``window`` and ``baseline`` are settings, never ``"auto"``: `nmcraman.choice`
    chooses them before.
    """
    geo = geometry(
        spectrum.x, band_list, shape=shape, baseline_order=joint_order(baseline, refine),
        xmin=xmin, xmax=xmax, eta=eta, options=options, window=window,
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
        **{name: getattr(geo, name) for name in _GEOMETRY_FIELDS},
        spectrum=spectrum,
        y=np.ascontiguousarray(y / scale),
        initial_baseline=initial,
        scale=scale,
        baseline_name=stage.name,
    )


def _held_slots(band_list, fit_eta: bool):
    """Each slot's target (itself if free), whether it is fixed, and its fixed value."""
    check_ties(band_list)
    nb = len(band_list)
    q = 2 * nb + int(fit_eta)
    index = {b.id: k for k, b in enumerate(band_list)}
    offset = np.zeros(q)
    fixed = np.zeros(q, dtype=bool)
    target = np.arange(q)
    for k, b in enumerate(band_list):
        for param in b.fix:
            slot = k if param == "position" else nb + k
            fixed[slot] = True
            offset[slot] = b.centre if param == "position" else b.fwhm
        for _fwhm, other in b.tie:  # only FWHMs can be tied (`Band.tie`)
            target[nb + k] = nb + index[other]
    for j in range(q):
        if target[j] != j and fixed[target[j]]:
            fixed[j] = True
            offset[j] = offset[target[j]]
    return target, fixed, offset


def parameter_map(band_list, fit_eta: bool) -> tuple[np.ndarray, np.ndarray]:
    """How the free nonlinear values make the kernels' ``theta``: fixed and tied slots.

    ``theta[:q] = fold @ free + offset`` with q = 2 nb (+1 with ``fit_eta``): a fixed
    centre or FWHM (`Band.fix`) has a zero row of ``fold`` and its prior value in
    ``offset``; a tied FWHM (`Band.tie`) reads its target's column.

    Returns
    -------
    fold : numpy.ndarray, shape (q, free values)
    offset : numpy.ndarray, shape (q,)

    Raises
    ------
    BandError
        A tie to a band that is not in ``band_list``, or to a tied band.
    """
    target, fixed, offset = _held_slots(band_list, fit_eta)
    q = target.size
    own = ~fixed & (target == np.arange(q))
    col = np.full(q, -1)
    col[own] = np.arange(own.sum())
    col = np.where(fixed, -1, col[target])
    fold = np.zeros((q, int(own.sum())))
    rows = np.flatnonzero(col >= 0)
    fold[rows, col[rows]] = 1.0
    return fold, offset


def parameter_links(band_list, fit_eta: bool) -> np.ndarray:
    """Return the parameter map as the kernels read it: one entry per ``theta`` slot.

    ``link[s]`` is ``s`` for a free slot, -1 for one held fixed and its target's
    index for a tied one (`Band.tie`); eta's slot (last) is its own. Length 2 nb + 1.
    """
    target, fixed, _ = _held_slots(band_list, fit_eta)
    link = np.arange(2 * len(band_list) + 1, dtype=np.int64)
    link[: target.size] = np.where(fixed, -1, target)
    return link


def _hold(lo: np.ndarray, hi: np.ndarray, link: np.ndarray, fold, offset) -> None:
    """Put the held slots into the bounds: a fixed slot's both equal its value.

    Slots that follow one value (a target and the slots tied to it) all get the
    tightest of their bounds, so that projecting one projects every one alike.
    """
    q = fold.shape[0]
    fixed = link[:q] < 0
    lo[:q][fixed] = hi[:q][fixed] = offset[fixed]
    for col in fold.T:
        slots = np.flatnonzero(col)
        lo[slots], hi[slots] = lo[slots].max(), hi[slots].min()
