"""The Raman-shift axis: units, the laser line, and the conversion to cm-1.

Every reader, text or binary, returns its x axis through `to_shift`, so the rules
that tell wavelength from Raman shift, and the range of a plausible laser line, are
written once.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..errors import InputError, ReadError
from ._files import warn

#: Excitation wavelengths (nm) a laser line can have; a number outside is not one.
LASER_RANGE_NM = (100.0, 3000.0)
#: Unit of an axis in absolute wavenumber, 1e7 / wavelength (cm-1), not Raman shift.
ABSOLUTE_CM1 = "cm-1 (absolute)"
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d*)?(?:[eE][-+]?\d+)?")


def check_laser(laser_nm: float | None) -> float | None:
    """Return the caller's ``laser_nm`` as a float; `InputError` if it is no laser line."""
    if laser_nm is None:
        return None
    value = laser_line(laser_nm)
    if value is None:
        raise InputError(
            f"laser_nm must be the excitation wavelength in nm (e.g. 532 or 785); got {laser_nm!r}."
        )
    return value


def laser_line(value: Any) -> float | None:
    """Return the laser wavelength (nm) stated, or None if missing or implausible."""
    try:
        laser = float(value)
    except (TypeError, ValueError):
        return None
    return laser if LASER_RANGE_NM[0] <= laser <= LASER_RANGE_NM[1] else None


def to_float(text: str | None) -> float | None:
    """Return the first number in ``text`` (decimal point or comma), or None."""
    match = _NUMBER.search(text or "")
    return float(match.group().replace(",", ".")) if match else None


def unit(text: str | None) -> str | None:
    """Normalise an axis label or unit to "cm-1", "nm", "pixel", another string, or None."""
    if not text or not text.strip():
        return None
    low = text.lower().replace(" ", "")
    if re.search(r"1/cm|cm-1|cm\^-1|cm⁻¹|cm-¹|cm\^\{-1\}|ramanshift|wavenumber|shift", low):
        return "cm-1"
    if re.search(r"(?<![a-z])nm(?![a-z])|wavelength|nanomet", low):
        return "nm"
    if "pixel" in low:
        return "pixel"
    return text.strip()


def _median_step(x: np.ndarray) -> float:
    return float(np.median(np.abs(np.diff(x))))


def _looks_like_nm(x: np.ndarray) -> bool:
    # A CCD wavelength axis (1024-2048 pixels over ~100-200 nm) steps by < 0.3 nm;
    # Raman-shift axes in cm-1 step by ~0.5-3 cm-1.
    step = np.diff(x)
    monotonic = bool(np.all(step > 0) or np.all(step < 0))
    in_range = bool(np.nanmin(x) >= 190.0 and np.nanmax(x) <= 1100.0)
    return monotonic and in_range and _median_step(x) < 0.3


def to_shift(
    x: np.ndarray, unit: str | None, laser: float | None, name: str, meta: dict[str, Any]
) -> np.ndarray:
    """Return ``x`` as Raman shift in cm-1.

    Parameters
    ----------
    x : numpy.ndarray
        The axis as stored in the file.
    unit : str or None
        Its unit as `unit` normalises it, `ABSOLUTE_CM1`, or None if the file does
        not say: then an axis that looks like a CCD wavelength axis is taken as nm.
    laser : float or None
        Excitation wavelength in nm, needed for nm and absolute cm-1.
    name : str
        File name for messages.
    meta : dict
        Metadata to complete with ``x_unit_original`` (and ``x_unit_inferred``).

    Returns
    -------
    numpy.ndarray
        Raman shift in cm-1, ``1e7 / laser - 1e7 / wavelength`` from nm and
        ``1e7 / laser - wavenumber`` from absolute cm-1.

    Raises
    ------
    ReadError
        If the unit is not supported, or the laser line is needed and unknown.
    """
    if unit is None and x.size > 2 and np.isfinite(x).all() and _looks_like_nm(x):
        if laser is None:
            raise ReadError(
                f"{name}: x ({x.min():.1f} to {x.max():.1f}, step {_median_step(x):.3g})"
                " looks like absolute wavelength in nm; pass laser_nm= to convert it, or name"
                " the x column 'Raman shift (cm-1)' in a header line if it is Raman shift."
            )
        warn(
            f"{name}: x looks like wavelength in nm; converted to Raman shift with "
            f"laser_nm={laser:g}."
        )
        meta["x_unit_inferred"] = True
        unit = "nm"
    if unit is None:
        return x
    meta["x_unit_original"] = unit
    if unit == "cm-1":
        return x
    if unit not in ("nm", ABSOLUTE_CM1):
        raise ReadError(
            f"{name}: x axis unit {unit!r} is not supported; export in Raman shift (cm-1) or nm."
        )
    if laser is None:
        what = "wavelength in nm" if unit == "nm" else "wavenumber"
        raise ReadError(
            f"{name}: the x axis is absolute {what} and the file gives no laser"
            " wavelength; pass laser_nm= to convert it to Raman shift."
        )
    if unit == ABSOLUTE_CM1:
        return 1e7 / laser - x
    if np.any(x <= 0):
        raise ReadError(f"{name}: wavelengths must be positive; the x column is not in nm.")
    return 1e7 / laser - 1e7 / x
