"""The model specification: one frozen object from the public arguments, through every door.

Every door into the fit (`nmcraman.deconvolve`, `nmcraman.deconvolve_batch`,
`nmcraman.deconvolve_map` in memory, on dask arrays and pooled,
`nmcraman.deconvolve_joint`, the lmfit engine and the command line) builds one
`ModelSpec` from its arguments, checked once, and hands it down whole. A door honours
every field or refuses it (`ModelSpec.refuse`) with an `InputError` that names the
field and the door: no field is ever dropped on the way.

This module also owns the names those fields take: the fit-window rules (`WINDOWS`),
the fixed model (`FIXED`), the information criteria (`CRITERIA`) and the engines
(`ENGINES`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

import numpy as np

from ._validation import as_number
from .baseline import check_baseline_name
from .errors import InputError
from .lineshapes import LINESHAPES
from .options import FitOptions

__all__ = [
    "AUTO",
    "CRITERIA",
    "ENGINES",
    "FIXED",
    "WIDE_WINDOW",
    "WINDOWS",
    "WINDOW_MARGIN",
    "ModelSpec",
    "check_criterion",
    "check_eta",
    "check_shape",
    "check_window",
    "is_auto",
]

#: Margin (cm-1) added around the outermost prior windows for the ``"bands"`` fit window:
#: the joint baseline needs flanks where the bands are weak.
WINDOW_MARGIN = 150.0
#: The ``"wide"`` fit window reaches at least this range (cm-1): where NMC Raman spectra
#: are commonly recorded and fitted. Below it edge filters cut in near the laser line;
#: above it lie other species (Li2CO3 near 1090, carbon near 1350 cm-1).
WIDE_WINDOW = (150.0, 900.0)
#: Named fit-window rules: how the sides of the window left unset (xmin, xmax None)
#: are placed. ``"auto"`` (`nmcraman.choice`) chooses one of the others per spectrum.
WINDOWS = {
    "bands": "the prior windows widened by WINDOW_MARGIN (150 cm-1)",
    "wide": "the 'bands' window widened to at least WIDE_WINDOW (150 to 900 cm-1)",
}
#: ``window`` or ``baseline`` chosen from the data (`nmcraman.choice`).
AUTO = "auto"
#: The fixed model: the ``"bands"`` window and a joint cubic: one fit where the default
#: (``"auto"``, `nmcraman.choice`) makes several.
FIXED = MappingProxyType({"window": "bands", "baseline": "poly3"})
#: Information criteria a model choice (``bands="auto"``) can rank by.
CRITERIA = ("bic", "aic")
#: Engines that fit one prepared problem (`nmcraman.choice.fit_once`).
ENGINES = ("numba", "lmfit")


def is_auto(value) -> bool:
    """Tell whether ``value`` (a ``window`` or ``baseline`` argument) is ``"auto"``."""
    return isinstance(value, str) and value.lower() == AUTO


def check_window(window) -> str:
    """Return ``window`` if it is ``"auto"`` or a `WINDOWS` rule; raise `InputError` if not."""
    if is_auto(window):
        return AUTO
    if not isinstance(window, str) or window not in WINDOWS:
        raise InputError(f"unknown window {window!r}; use 'auto' or one of {', '.join(WINDOWS)}.")
    return window


def check_shape(shape) -> None:
    """Refuse a line ``shape`` that is not one of `nmcraman.lineshapes.LINESHAPES`."""
    if not isinstance(shape, str) or shape not in LINESHAPES:
        raise InputError(f"unknown shape {shape!r}; use one of {', '.join(LINESHAPES)}.")


def check_eta(eta) -> float | None:
    """Return ``eta`` as a float in [0, 1] (or None: fitted); raise `InputError` if not."""
    if eta is None:
        return None
    eta = as_number(eta, "eta")
    if not 0.0 <= eta <= 1.0:
        raise InputError(f"eta must lie in [0, 1], got {eta:g}.")
    return eta


def check_criterion(criterion) -> None:
    """Refuse a ``criterion`` that is not one of `CRITERIA`, before any fitting."""
    if criterion not in CRITERIA:
        raise InputError(f"criterion must be 'bic' or 'aic', got {criterion!r}.")


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """What is fitted: bands, line shape, baseline, window, engine and their options.

    Built once per call from the public arguments (which it checks), then passed down
    every path whole. Fields are those of `nmcraman.deconvolve`, with its defaults;
    every door builds its own with these defaults.

    Attributes
    ----------
    bands : str, path, dict or list of Band
        Band priors (`nmcraman.bands.band_sets` reads them).
    shape : {"lorentzian", "gaussian", "pseudo_voigt"}
    eta : float or None
        Pseudo-Voigt Lorentzian fraction; None fits one.
    baseline : str, array, callable or None
        ``"polyN"``, ``"auto"``, a pybaselines method, an array, a callable or None.
    refine : int
        Order of the joint correction on a non-polynomial baseline.
    baseline_kwargs : dict or None
        Options of a pybaselines method.
    window : {"auto", "bands", "wide"} or (float or None, float or None)
        Rule for the window sides ``xmin``/``xmax`` leave unset; given as the pair
        ``(xmin, xmax)`` (cm-1, either may be None), it sets those two and the rule
        ``"auto"`` for a side left None.
    xmin, xmax : float or None
        Fit window sides, cm-1, kept exactly (what ``window=(xmin, xmax)`` sets).
    options : FitOptions or None
        Iterations, tolerances and starts.
    criterion : {"bic", "aic"}
        Criterion of ``bands="auto"``.
    engine : {"numba", "lmfit"}
    despike : bool
        Remove cosmic-ray spikes before fitting.

    Examples
    --------
    >>> from nmcraman.model import ModelSpec
    >>> spec = ModelSpec(shape="gaussian", window="bands", baseline="poly3")
    >>> spec.prepare_kwargs["shape"], spec.choosing
    ('gaussian', False)
    """

    bands: object = "auto"
    shape: str = "lorentzian"
    eta: float | None = None
    baseline: str | np.ndarray | Callable | None = AUTO
    refine: int = 1
    baseline_kwargs: Mapping | None = None
    window: str = AUTO
    xmin: float | None = None
    xmax: float | None = None
    options: FitOptions | None = None
    criterion: str = "bic"
    engine: str = "numba"
    despike: bool = False

    def __post_init__(self) -> None:
        check_shape(self.shape)
        object.__setattr__(self, "eta", check_eta(self.eta))
        if isinstance(self.window, (tuple, list)):
            self._split_window()
        for side in ("xmin", "xmax"):
            if getattr(self, side) is not None:
                object.__setattr__(self, side, as_number(getattr(self, side), side))
        object.__setattr__(self, "window", check_window(self.window))
        check_criterion(self.criterion)
        if self.engine not in ENGINES:
            raise InputError(f"unknown engine {self.engine!r}; use 'numba' or 'lmfit'.")
        if self.options is not None and not isinstance(self.options, FitOptions):
            raise InputError(f"options must be a FitOptions, got {type(self.options).__name__}.")
        if self.baseline_kwargs is not None and not isinstance(self.baseline_kwargs, Mapping):
            raise InputError(
                "baseline_kwargs must be a dict of pybaselines options, got"
                f" {type(self.baseline_kwargs).__name__}."
            )
        if isinstance(self.baseline, str):
            check_baseline_name(self.baseline)
        if not isinstance(self.despike, (bool, np.bool_)):
            raise InputError(f"despike must be True or False, got {self.despike!r}.")

    def _split_window(self) -> None:
        """Turn ``window=(xmin, xmax)`` into the two sides and ``"auto"`` for those unset."""
        if len(self.window) != 2:
            raise InputError(f"window=(xmin, xmax) takes two sides in cm-1, got {self.window!r}.")
        if self.xmin is not None or self.xmax is not None:
            raise InputError("give the window's sides once: window=(xmin, xmax), or xmin/xmax.")
        lo, hi = (
            None if v is None else as_number(v, side)
            for v, side in zip(self.window, ("xmin", "xmax"), strict=True)
        )
        if lo is not None and hi is not None and lo >= hi:
            raise InputError(f"window=({lo:g}, {hi:g}): xmin ({lo:g}) must be below xmax ({hi:g}).")
        for name, value in (("xmin", lo), ("xmax", hi), ("window", AUTO)):
            object.__setattr__(self, name, value)

    @property
    def prepare_kwargs(self) -> dict:
        """Keyword arguments of `nmcraman._engine.problem.prepare` (window, baseline: or auto)."""
        return {
            "shape": self.shape,
            "baseline": self.baseline,
            "refine": self.refine,
            "xmin": self.xmin,
            "xmax": self.xmax,
            "eta": self.eta,
            "options": self.options,
            "baseline_kwargs": self.baseline_kwargs,
            "window": self.window,
        }

    @property
    def choosing(self) -> bool:
        """Whether ``window`` or ``baseline`` is ``"auto"``: chosen from the data."""
        return is_auto(self.window) or is_auto(self.baseline)

    def replace(self, **changes) -> ModelSpec:
        """Return a copy with ``changes``, checked again."""
        return replace(self, **changes)

    def refuse(self, door: str, *names: str, reason: str = "") -> None:
        """Raise `InputError` if any field of ``names`` is not at its default.

        For a door that cannot honour those fields: the message names the field, its
        value and the door, and ``reason`` says what would use it.
        """
        defaults = {f.name: f.default for f in fields(self)}
        for name in names:
            value = getattr(self, name)
            default = defaults[name]
            if value is default or (isinstance(value, str) and value == default):
                continue
            raise InputError(
                f"{name}={value!r} is not used by {door}" + (f": {reason}" if reason else ".")
            )

    def record(self) -> dict:
        """Return the specification as plain values, for provenance and save files.

        Bands given as a preset name or file are kept as given; other band
        specifications, baseline arrays and callables are named by their kind.
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if isinstance(self.bands, (str, os.PathLike)):
            out["bands"] = str(self.bands)
        else:
            out["bands"] = type(self.bands).__name__
        if not (self.baseline is None or isinstance(self.baseline, str)):
            out["baseline"] = "callable" if callable(self.baseline) else "array"
        out["options"] = None if self.options is None else repr(self.options)
        out["baseline_kwargs"] = dict(self.baseline_kwargs or {}) or None
        return out
