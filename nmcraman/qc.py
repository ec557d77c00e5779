"""Spectrum-level quality rules, shared by maps (`MapResult`) and single fits (`Result.qc`).

Each rule is one function here, with its threshold, so that a pixel of a map and
the same spectrum fitted alone get the same flags. The rules work on rows of
spectra (shape (N, n)) and return one boolean per row.
"""

from __future__ import annotations

import numpy as np

from ._validation import SATURATION_RUN

__all__ = [
    "LOW_SNR",
    "MODEL_MISFIT",
    "POOR_FIT",
    "SPECTRUM_FLAGS",
    "despike",
    "has_spike",
    "is_low_snr",
    "is_poor_fit",
    "is_saturated",
    "noise_sigma",
    "signal_to_noise",
    "spectrum_flags",
]

#: Signal-to-noise ratio (highest band height over noise sigma) below which a
#: spectrum is flagged ``low_snr``.
LOW_SNR = 10.0
#: Reduced chi-square over the noise variance above which a fit is flagged ``poor_fit``.
POOR_FIT = 2.0
#: Flags of `Result.qc`, in this order; the names of the same flags of `MapResult`.
SPECTRUM_FLAGS = ("saturated", "spike", "low_snr", "poor_fit")
#: Flag of the spectra of a pool (a phase of a pooled map, a joint set) whose mean
#: residual keeps structure that the model lacks (`nmcraman.misfit`).
MODEL_MISFIT = "model_misfit"


def noise_sigma(ys: np.ndarray) -> np.ndarray:
    """Noise standard deviation of each row, from the 4th difference (robust MAD).

    The 4th difference of a smooth Raman band is negligible next to white noise,
    whose 4th difference has variance 70 sigma^2; the median absolute deviation
    ignores spikes.

    Parameters
    ----------
    ys : numpy.ndarray, shape (N, n)

    Returns
    -------
    numpy.ndarray, shape (N,)

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman.qc import noise_sigma
    >>> rng = np.random.default_rng(0)
    >>> round(float(noise_sigma(rng.normal(0, 2.0, (1, 20000)))[0]), 1)
    2.0
    """
    d4 = np.diff(np.atleast_2d(ys), n=4, axis=-1)
    return 1.4826 * _median(np.abs(d4)) / np.sqrt(70.0)


def _median(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=1)`` (NaN for rows holding NaN), at a fifth of its overhead.

    Why not np.median: on one spectrum its wrapper costs more than the selection, and
    every `Result` runs these rules.
    """
    n = a.shape[1]
    k = n // 2
    if n % 2:
        out = np.partition(a, k, axis=1)[:, k]
    else:
        part = np.partition(a, (k - 1, k), axis=1)
        out = 0.5 * (part[:, k - 1] + part[:, k])
    return np.where(np.isnan(a).any(axis=1), np.nan, out)


def _spikes(ys: np.ndarray, threshold: float) -> np.ndarray:
    """Points of each row that are spikes (see `despike`), shape of ``ys``."""
    d2 = np.zeros_like(ys)
    d2[:, 1:-1] = ys[:, 1:-1] - 0.5 * (ys[:, :-2] + ys[:, 2:])
    scale = 1.4826 * _median(np.abs(d2 - _median(d2)[:, None]))
    z = np.abs(d2) / np.where(scale > 0, scale, np.inf)[:, None]
    spikes = z > threshold
    # A spike spreads into the 2nd difference of its neighbours: widen by one point.
    spikes[:, 1:] |= spikes[:, :-1]
    spikes[:, :-1] |= spikes[:, 1:]
    return spikes


def has_spike(ys: np.ndarray, threshold: float = 8.0) -> np.ndarray:
    """``spike``: rows in which `despike` finds a spike (without removing it)."""
    return _spikes(np.atleast_2d(np.asarray(ys, dtype=np.float64)), threshold).any(axis=1)


def despike(ys: np.ndarray, threshold: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Remove cosmic-ray spikes: narrow outliers of the 2nd difference, interpolated over.

    The ``spike`` flag of maps and of `Result.qc` is ``found``.

    Parameters
    ----------
    ys : numpy.ndarray, shape (N, n)
        Spectra, one per row.
    threshold : float, optional
        Robust z-score of the 2nd difference above which a point is a spike. Default is 8.

    Returns
    -------
    cleaned : numpy.ndarray, shape (N, n)
    found : numpy.ndarray of bool, shape (N,)
        Rows in which a spike was found.

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman.qc import despike
    >>> y = np.sin(np.linspace(0, 3, 200))[None, :] * 100
    >>> y[0, 90] += 500
    >>> clean, found = despike(y)
    >>> bool(found[0]), bool(abs(clean[0, 90] - y[0, 89]) < 5)
    (True, True)
    """
    ys = np.array(np.atleast_2d(ys), dtype=np.float64)
    spikes = _spikes(ys, threshold)
    found = spikes.any(axis=1)
    idx = np.arange(ys.shape[1])
    for r in np.flatnonzero(found):
        keep = ~spikes[r]
        if keep.sum() >= 2:
            ys[r, ~keep] = np.interp(idx[~keep], idx[keep], ys[r, keep])
    return ys, found


def is_saturated(ys: np.ndarray) -> np.ndarray:
    """Rows with `SATURATION_RUN` or more consecutive points at the row's maximum.

    Non-finite and constant rows are not saturated (they are ``bad_input`` on maps).
    """
    ys = np.atleast_2d(ys)
    # A row with NaN has a NaN maximum, equal to nothing: never a candidate. Only rows
    # that reach their maximum often enough can hold a long run.
    at_top = ys == ys.max(axis=1, keepdims=True)
    run = np.zeros(ys.shape[0], dtype=int)
    for r in np.flatnonzero(at_top.sum(axis=1) >= SATURATION_RUN):
        if not np.isfinite(ys[r]).all() or at_top[r].all():
            continue  # non-finite or constant: bad input, not saturation
        edges = np.diff(np.concatenate([[0], at_top[r].astype(np.int8), [0]]))
        run[r] = (np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max()
    return run >= SATURATION_RUN


def signal_to_noise(heights: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Highest band height of each row over its noise sigma (NaN when no band has a height).

    Parameters
    ----------
    heights : numpy.ndarray, shape (N, bands)
        Band heights (NaN for bands outside the row's model).
    sigma : numpy.ndarray, shape (N,)
        Noise standard deviation (`noise_sigma`), in the units of ``heights``.
    """
    top = np.fmax.reduce(heights, axis=1)  # ignores NaN; NaN when the whole row is
    with np.errstate(invalid="ignore", divide="ignore"):
        return top / sigma


def is_low_snr(snr: np.ndarray) -> np.ndarray:
    """``low_snr``: signal-to-noise ratio below `LOW_SNR` (NaN: not flagged)."""
    return snr < LOW_SNR


def is_poor_fit(redchi: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """``poor_fit``: reduced chi-square (data units) above `POOR_FIT` times sigma squared.

    A residual much larger than the noise estimated from the data means structure
    the model misses (an etalon ripple, a band not in the priors, a wrong baseline).
    """
    return redchi > POOR_FIT * sigma**2


def spectrum_flags(
    y_full: np.ndarray, y_window: np.ndarray, heights: np.ndarray, redchi: float, spike: bool
) -> tuple[str, ...]:
    """`Result.qc` of one fitted spectrum: the names of `SPECTRUM_FLAGS` that apply.

    Parameters
    ----------
    y_full : numpy.ndarray, shape (n,)
        The whole spectrum as fitted (saturation and spikes are looked for there, as
        on maps).
    y_window : numpy.ndarray, shape (m,)
        The data in the fit window (the noise sigma is estimated there, as on maps).
    heights : numpy.ndarray, shape (bands,)
        Fitted band heights.
    redchi : float
        Reduced chi-square of the fit, data units.
    spike : bool
        A spike was already found and removed (``despike=True``); otherwise
        `despike` looks for one in ``y_full``.
    """
    sigma = noise_sigma(y_window[None, :])
    snr = signal_to_noise(np.asarray(heights, dtype=np.float64)[None, :], sigma)
    found = {
        "saturated": bool(is_saturated(y_full[None, :])[0]),
        "spike": spike or bool(has_spike(y_full[None, :])[0]),
        "low_snr": bool(is_low_snr(snr)[0]),
        "poor_fit": bool(is_poor_fit(np.array([redchi]), sigma)[0]),
    }
    return tuple(name for name in SPECTRUM_FLAGS if found[name])
