"""Spectrum: a validated Raman spectrum (shift axis, intensities and metadata)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import as_float_array, check_xy
from .errors import InputError

__all__ = ["SpectralMap", "Spectrum"]

#: ``meta`` key of the total axis shift (cm-1) applied since the file was read.
SHIFT_KEY = "shift_cm1"


def check_shift(dx: Any) -> float:
    """Return ``dx`` as a finite float (cm-1); `InputError` otherwise."""
    if isinstance(dx, bool) or not isinstance(dx, (int, float, np.integer, np.floating)):
        raise InputError(f"shift must be a number of cm-1, got {dx!r}.")
    if not np.isfinite(dx):
        raise InputError(f"shift must be a finite number of cm-1, got {dx!r}.")
    return float(dx)


def _shifted_meta(meta: dict[str, Any], dx: float) -> dict[str, Any]:
    return {**meta, SHIFT_KEY: meta.get(SHIFT_KEY, 0.0) + dx}


@dataclass(frozen=True, eq=False)
class Spectrum:
    """One Raman spectrum with an ascending Raman-shift axis.

    Parameters
    ----------
    x : array-like, shape (N,)
        Raman shift in cm-1, in any order; stored ascending.
    y : array-like, shape (N,)
        Intensity (counts or arbitrary units), reordered with ``x``.
    meta : dict, optional
        Metadata such as ``laser_nm``, ``instrument``, ``source`` (file path) or
        stage coordinates. Default is an empty dict.

    Raises
    ------
    InputError
        If ``x`` and ``y`` are not a valid spectrum (see `deconvolve`), or ``meta``
        is not a dict.

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman import Spectrum
    >>> s = Spectrum(np.arange(900.0, 140.0, -1.0), np.ones(760) + np.arange(760))
    >>> float(s.x[0]), s.x.size
    (141.0, 760)
    """

    x: np.ndarray
    y: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        meta = {} if self.meta is None else self.meta
        if not isinstance(meta, Mapping):
            raise InputError(f"meta must be a dict of metadata, got {type(meta).__name__}.")
        x, y = check_xy(self.x, self.y)
        x.flags.writeable = False
        y.flags.writeable = False
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "meta", dict(meta))

    def __len__(self) -> int:
        return int(self.x.size)

    def shifted(self, dx: float) -> Spectrum:
        """Return a copy whose axis is moved by ``dx``: ``x + dx`` (cm-1).

        Parameters
        ----------
        dx : float
            Shift in cm-1 added to every point of the axis, e.g. ``520.7 - 518.9`` when
            the Si line of the instrument came out at 518.9 cm-1 (see
            `nmcraman.calibration`).

        Returns
        -------
        Spectrum
            The same intensities on ``x + dx``; ``meta["shift_cm1"]`` holds the total
            shift applied so far (shifts add up).

        Raises
        ------
        InputError
            If ``dx`` is not a finite number.

        Examples
        --------
        >>> import numpy as np
        >>> from nmcraman import Spectrum
        >>> s = Spectrum(np.arange(500.0, 540.0), np.arange(40.0)).shifted(1.5)
        >>> float(s.x[0]), s.meta["shift_cm1"]
        (501.5, 1.5)
        """
        dx = check_shift(dx)
        return Spectrum(self.x + dx, self.y, _shifted_meta(self.meta, dx))

    def __repr__(self) -> str:
        src = self.meta.get("source")
        where = f", source={src!r}" if src else ""
        return f"Spectrum({self.x.size} points, {self.x[0]:.1f} to {self.x[-1]:.1f} cm-1{where})"


@dataclass(frozen=True, eq=False)
class SpectralMap:
    """Spectra on one Raman-shift axis, arranged as a map (or a line or a batch).

    Parameters
    ----------
    x : array-like, shape (n,)
        Raman shift in cm-1, in any order; stored ascending.
    spectra : array-like, shape ``(*navigation, n)``
        Intensities, last axis along ``x`` (reordered with it): (rows, cols, n) for a
        map, (N, n) for a batch, (time, rows, cols, n) for a series, and so on.
    coords : array-like, shape (pixels, 2), optional
        Stage x, y of each pixel (µm), in row-major pixel order.
    meta : dict, optional
        Metadata (``source``, ``laser_nm``, ``names`` of batch files, ...); a series
        may name its navigation dimensions (``"dims"``, e.g. ``("time", "y", "x")``)
        and give coordinates along them (``"dim_coords"``, e.g. ``{"time": hours}``),
        which `nmcraman.deconvolve_map` keeps.

    Raises
    ------
    InputError
        If the axis is not valid or the spectra do not match it.

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman.spectrum import SpectralMap
    >>> m = SpectralMap(np.arange(10.0), np.zeros((2, 3, 10)))
    >>> m.shape
    (2, 3)
    """

    x: np.ndarray
    spectra: np.ndarray
    coords: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x = as_float_array(self.x, "the map's axis")
        spectra = as_float_array(self.spectra, "map spectra")
        if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
            raise InputError("a map's axis must be one finite value per channel.")
        if spectra.ndim < 2 or spectra.shape[-1] != x.size:
            raise InputError(
                f"map spectra must have shape (*navigation, {x.size}), e.g. (rows, cols,"
                f" {x.size}) or (N, {x.size}); got {spectra.shape}."
            )
        order = np.argsort(x, kind="stable")
        x = x[order]
        if np.any(np.diff(x) == 0):
            raise InputError("the map's axis has repeated values; average or drop them.")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "spectra", np.ascontiguousarray(spectra[..., order]))
        if self.coords is not None:
            coords = as_float_array(self.coords, "coords")
            if coords.shape != (int(np.prod(spectra.shape[:-1])), 2):
                raise InputError(f"coords must have shape (pixels, 2); got {coords.shape}.")
            object.__setattr__(self, "coords", coords)
        if self.meta is not None and not isinstance(self.meta, Mapping):
            raise InputError(f"meta must be a dict of metadata, got {type(self.meta).__name__}.")
        object.__setattr__(self, "meta", dict(self.meta or {}))

    @property
    def shape(self) -> tuple[int, ...]:
        """Map shape: the navigation dimensions, e.g. (rows, cols) or (N,)."""
        return tuple(self.spectra.shape[:-1])

    def shifted(self, dx: float) -> SpectralMap:
        """Return a copy whose axis is moved by ``dx``: ``x + dx`` (cm-1).

        Parameters
        ----------
        dx : float
            Shift in cm-1 added to the axis of every pixel (see `Spectrum.shifted`).

        Returns
        -------
        SpectralMap
            The same spectra and coordinates on ``x + dx``; ``meta["shift_cm1"]`` holds
            the total shift applied so far.

        Raises
        ------
        InputError
            If ``dx`` is not a finite number.
        """
        dx = check_shift(dx)
        return SpectralMap(self.x + dx, self.spectra, self.coords, _shifted_meta(self.meta, dx))

    def __repr__(self) -> str:
        return (
            f"SpectralMap({self.shape} pixels, {self.x.size} channels,"
            f" {self.x[0]:.1f} to {self.x[-1]:.1f} cm-1)"
        )
