"""Spectrum: a validated Raman spectrum (shift axis, intensities and metadata)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validation import check_xy
from .errors import InputError

__all__ = ["Spectrum"]


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

    def __repr__(self) -> str:
        src = self.meta.get("source")
        where = f", source={src!r}" if src else ""
        return f"Spectrum({self.x.size} points, {self.x[0]:.1f} to {self.x[-1]:.1f} cm-1{where})"
