"""Synthetic NMC Raman spectra with a known truth, for tests, examples and benchmarks.

No openly licensed NMC Raman spectrum exists, so the project makes realistic ones:
bands with the positions, widths and area fractions that García-Alonso et al. report
in their Table S3 (`REFERENCE`), on a smooth fluorescence background, with Gaussian
noise at a chosen signal-to-noise ratio. `perturb` draws random truths around them.

These truths are only ever used to *make* spectra and to *score* fits. The fitter is
seeded from the literature priors in `nmcraman.bands`, never from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .bands import BANDS
from .lineshapes import LINESHAPES, peak_height

__all__ = ["REFERENCE", "Synthetic", "core_shell_map", "perturb", "replicate_set", "simulate"]

#: Table S3 of García-Alonso et al.: (band, position cm-1, FWHM cm-1, area %).
REFERENCE: dict[str, tuple[tuple[str, float, float, float], ...]] = {
    "Core_75": (
        ("Ni_Eg", 359.4, 97.3, 8.8),
        ("Co_Eg", 433.7, 90.4, 18.0),
        ("Co_A1g", 482.0, 70.8, 24.1),
        ("Ni_A1g", 513.4, 55.9, 12.8),
        ("Mn_Eg", 544.2, 51.7, 14.8),
        ("Mn_A1g", 580.3, 54.2, 21.5),
    ),
    "CS_75": (
        ("Ni_Eg", 356.2, 57.7, 2.5),
        ("Co_Eg", 433.3, 93.3, 17.1),
        ("Co_A1g", 487.6, 71.9, 15.6),
        ("Ni_A1g", 516.3, 33.7, 3.1),
        ("Mn_Eg", 545.3, 50.2, 18.6),
        ("Mn_A1g", 589.7, 63.5, 31.9),
        ("LO_RS", 567.9, 33.8, 11.1),
    ),
}


@dataclass(frozen=True)
class Synthetic:
    """A synthetic spectrum and the truth it was made from.

    Attributes
    ----------
    x : numpy.ndarray
        Raman shift, cm-1.
    y : numpy.ndarray
        Intensity, counts.
    truth : pandas.DataFrame
        One row per band: ``band``, ``position``, ``fwhm``, ``area``, ``area_pct``,
        ``height``.
    background : numpy.ndarray
        The background added under the bands.
    noise_sigma : float
        Standard deviation of the added Gaussian noise.
    shape : str
        Line shape of the bands.
    eta : float
        Lorentzian fraction (pseudo-Voigt only).
    """

    x: np.ndarray
    y: np.ndarray
    truth: pd.DataFrame
    background: np.ndarray
    noise_sigma: float
    shape: str
    eta: float


def _truth_frame(truth) -> pd.DataFrame:
    if isinstance(truth, str):
        rows = REFERENCE[truth]
        return pd.DataFrame(rows, columns=["band", "position", "fwhm", "area_pct"])
    return pd.DataFrame(truth)[["band", "position", "fwhm", "area_pct"]].copy()


def perturb(
    truth="Core_75",
    rng: np.random.Generator | int | None = None,
    *,
    position: float = 4.0,
    fwhm: float = 0.15,
    area: float = 0.25,
) -> pd.DataFrame:
    """Draw a random truth around a reference sample.

    Parameters
    ----------
    truth : str or DataFrame, optional
        ``"Core_75"``, ``"CS_75"`` or a frame with band, position, fwhm, area_pct.
        Default is ``"Core_75"``.
    rng : numpy.random.Generator or int, optional
        Random generator or seed.
    position : float, optional
        Standard deviation of the position shift, cm-1. Default is 4.
    fwhm : float, optional
        Relative standard deviation of the FWHM. Default is 0.15.
    area : float, optional
        Relative standard deviation of each area before renormalising. Default is 0.25.

    Returns
    -------
    pandas.DataFrame
        Positions kept inside each band's prior window, FWHMs inside their range.

    Examples
    --------
    >>> from nmcraman.synthetic import perturb
    >>> round(float(perturb("CS_75", 0)["area_pct"].sum()), 6)
    100.0
    """
    rng = np.random.default_rng(rng)
    out = _truth_frame(truth)
    k = len(out)
    pos = out["position"].to_numpy() + rng.normal(0.0, position, k)
    wid = out["fwhm"].to_numpy() * np.exp(rng.normal(0.0, fwhm, k))
    pct = out["area_pct"].to_numpy() * np.exp(rng.normal(0.0, area, k))
    for i, band in enumerate(out["band"]):
        if band in BANDS:
            b = BANDS[band]
            pos[i] = np.clip(pos[i], b.window[0] + 2.0, b.window[1] - 2.0)
            wid[i] = np.clip(wid[i], b.fwhm_range[0] + 2.0, b.fwhm_range[1] - 2.0)
    out["position"] = pos
    out["fwhm"] = wid
    out["area_pct"] = 100.0 * pct / pct.sum()
    return out


def simulate(
    truth="Core_75",
    *,
    x: np.ndarray | None = None,
    shape: str = "lorentzian",
    eta: float = 0.5,
    background: str | np.ndarray = "fluorescence",
    snr: float | None = 100.0,
    peak: float = 1000.0,
    rng: np.random.Generator | int | None = None,
) -> Synthetic:
    """Make a Raman spectrum from a known truth.

    Parameters
    ----------
    truth : str or DataFrame, optional
        ``"Core_75"``, ``"CS_75"`` or a frame with band, position (cm-1), fwhm (cm-1),
        area_pct. Default is ``"Core_75"``.
    x : array-like, optional
        Raman-shift axis, cm-1. Default is 150 to 900 cm-1 in 1 cm-1 steps.
    shape : {"lorentzian", "gaussian", "pseudo_voigt"}, optional
        Default is ``"lorentzian"``.
    eta : float, optional
        Lorentzian fraction for the pseudo-Voigt. Default is 0.5.
    background : str or array, optional
        One of ``"fluorescence"``, ``"exponential"``, ``"flat"``, ``"linear"``,
        ``"cubic"``, ``"none"``, or the background itself.
        ``"fluorescence"`` is a broad random hump plus slope, smooth but not a
        polynomial; ``"exponential"`` a random decay from the low-shift end (the tail
        of a fluorescence band below the window), which a cubic follows worst.
        Default is ``"fluorescence"``.
    snr : float or None, optional
        Highest point of the band envelope divided by the noise standard deviation;
        None for no noise. Default is 100.
    peak : float, optional
        Height of the band envelope's maximum, counts. Default is 1000.
    rng : numpy.random.Generator or int, optional
        Random generator or seed for the background and the noise.

    Returns
    -------
    Synthetic

    Examples
    --------
    >>> from nmcraman.synthetic import simulate
    >>> s = simulate("CS_75", snr=None, background="none")
    >>> round(float(s.y.max()), 6)
    1000.0
    """
    rng = np.random.default_rng(rng)
    x = np.arange(150.0, 901.0, 1.0) if x is None else np.asarray(x, dtype=np.float64)
    frame = _truth_frame(truth)
    profile = LINESHAPES[shape]
    extra = {"eta": eta} if shape == "pseudo_voigt" else {}
    unit = np.zeros_like(x)
    for row in frame.itertuples():
        unit += profile(x, row.area_pct, row.position, row.fwhm, **extra)
    scale = peak / unit.max()
    bands_y = unit * scale
    frame["area"] = frame["area_pct"] * scale
    frame["height"] = peak_height(frame["area"], frame["fwhm"], shape, eta)
    bg = _background(x, background, peak, rng)
    sigma = 0.0 if snr is None else peak / float(snr)
    noise = rng.normal(0.0, sigma, x.size) if sigma > 0 else 0.0
    truth_out = frame[["band", "position", "fwhm", "area", "area_pct", "height"]]
    return Synthetic(x, bands_y + bg + noise, truth_out, bg, sigma, shape, eta)


def _background(x, kind, peak, rng) -> np.ndarray:
    if not isinstance(kind, str):
        return np.asarray(kind, dtype=np.float64)
    t = (x - x.min()) / np.ptp(x)
    if kind == "none":
        return np.zeros_like(x)
    if kind == "flat":
        return np.full_like(x, 0.3 * peak)
    if kind == "linear":
        return peak * (0.2 + 0.5 * t)
    if kind == "cubic":
        return peak * (0.3 + 0.4 * t - 0.6 * t**2 + 0.5 * t**3)
    if kind == "fluorescence":
        level = rng.uniform(0.5, 2.0) * peak
        centre = rng.uniform(900.0, 1800.0)
        width = rng.uniform(700.0, 1400.0)
        slope = rng.uniform(-0.2, 0.2)
        return level * (np.exp(-0.5 * ((x - centre) / width) ** 2) + slope * t)
    if kind == "exponential":
        level = rng.uniform(0.5, 2.0) * peak
        return level * np.exp(-t * rng.uniform(1.5, 4.0)) + 0.1 * peak
    raise ValueError(f"unknown background {kind!r}")


def replicate_set(
    truth="Core_75",
    n: int = 10,
    *,
    position: float = 1.0,
    fwhm: float = 0.03,
    area: float = 0.2,
    brightness: tuple[float, float] = (0.5, 2.0),
    snr: float = 100.0,
    background: str = "fluorescence",
    shape: str = "lorentzian",
    eta: float = 0.5,
    rng: np.random.Generator | int | None = None,
) -> list[Synthetic]:
    """Make spectra of several spots of one sample, each with its own truth.

    Every spot's truth is the sample's ``truth`` moved a little: positions by a normal
    shift, FWHMs and areas by log-normal factors (crystal orientation changes Eg/A1g
    ratios from spot to spot). Spots differ in brightness too, and their noise follows
    shot noise: the signal-to-noise ratio grows with the square root of the brightness.

    Parameters
    ----------
    truth : str or DataFrame, optional
        The sample's truth, as for `simulate`. Default is ``"Core_75"``.
    n : int, optional
        Number of spots. Default is 10.
    position : float, optional
        Standard deviation of each band's position between spots, cm-1. Default is 1.
    fwhm : float, optional
        Relative standard deviation of each FWHM between spots. Default is 0.03.
    area : float, optional
        Relative standard deviation of each area between spots (before the areas are
        renormalised to 100 %). Default is 0.2.
    brightness : tuple of float, optional
        Range of the spots' brightness (uniform), relative. Default is (0.5, 2).
    snr : float, optional
        Signal-to-noise ratio of a spot of brightness 1. Default is 100.
    background : str, optional
        As for `simulate`, drawn anew for each spot. Default is ``"fluorescence"``.
    shape : {"lorentzian", "gaussian", "pseudo_voigt"}, optional
        Band shape of every spot, as for `simulate`. Default is ``"lorentzian"``.
    eta : float, optional
        Lorentzian fraction for the pseudo-Voigt, the same for every spot. Default is
        0.5.
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    list of Synthetic
        One per spot; each ``truth`` is that spot's own.

    Examples
    --------
    >>> from nmcraman.synthetic import replicate_set
    >>> spots = replicate_set("CS_75", 5, rng=0)
    >>> len(spots), round(float(spots[0].truth["area_pct"].sum()), 6)
    (5, 100.0)
    """
    rng = np.random.default_rng(rng)
    base = _truth_frame(truth)
    k = len(base)
    out = []
    for _ in range(n):
        t = base.copy()
        t["position"] = t["position"] + rng.normal(0.0, position, k)
        t["fwhm"] = t["fwhm"] * np.exp(rng.normal(0.0, fwhm, k))
        pct = t["area_pct"] * np.exp(rng.normal(0.0, area, k))
        t["area_pct"] = 100.0 * pct / pct.sum()
        bright = rng.uniform(*brightness)
        kw = {"shape": shape, "eta": eta, "background": background, "rng": rng}
        out.append(simulate(t, snr=snr * np.sqrt(bright), peak=1000.0 * bright, **kw))
    return out


def core_shell_map(
    rows: int = 100,
    cols: int = 100,
    *,
    snr: float = 100.0,
    corrupt: float = 0.0,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Make a synthetic map of a core-shell particle: Core_75 inside, CS_75 at the rim.

    Band parameters move linearly from the Core_75 to the CS_75 values of
    `REFERENCE` with the distance from the centre (core radius 0.45, rim from 0.8 of
    the half-diagonal), the LO band's share growing from 0 to its CS_75 value; each
    pixel has its own fluorescence background and noise.

    Parameters
    ----------
    rows, cols : int, optional
        Map size. Default is 100 x 100.
    snr : float, optional
        Signal-to-noise ratio of every pixel. Default is 100.
    corrupt : float, optional
        Fraction of pixels damaged on purpose (NaN, all zero, saturated, a cosmic-ray
        spike), in equal parts. Default is 0.
    rng : numpy.random.Generator or int, optional
        Random generator or seed.

    Returns
    -------
    cube : numpy.ndarray, shape (rows, cols, 751)
    x : numpy.ndarray, shape (751,)
        150 to 900 cm-1 in 1 cm-1 steps.
    truth : dict
        ``fraction`` (0 core to 1 rim), ``area_pct``, ``position`` and ``fwhm``
        arrays of shape (rows, cols, 7) in the band order of CS_75, ``bands`` (ids),
        and ``corrupted``: a (rows, cols) array of the damage done (``""`` if none).

    Examples
    --------
    >>> from nmcraman.synthetic import core_shell_map
    >>> cube, x, truth = core_shell_map(4, 5, rng=0)
    >>> cube.shape, truth["area_pct"].shape
    ((4, 5, 751), (4, 5, 7))
    """
    rng = np.random.default_rng(rng)
    core = {b: (p, w, a) for b, p, w, a in REFERENCE["Core_75"]}
    shell = {b: (p, w, a) for b, p, w, a in REFERENCE["CS_75"]}
    ids = [b for b, *_ in REFERENCE["CS_75"]]
    core["LO_RS"] = (shell["LO_RS"][0], shell["LO_RS"][1], 0.0)
    r = np.hypot(*np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols), indexing="ij"))
    frac = np.clip((r / np.sqrt(2) - 0.45) / (0.8 - 0.45), 0.0, 1.0)
    x = np.arange(150.0, 901.0, 1.0)
    c, s = (np.array([d[b] for b in ids]) for d in (core, shell))
    params = c[None, None] + frac[..., None, None] * (s - c)[None, None]
    cube = np.empty((rows, cols, x.size))
    for i in range(rows):
        for j in range(cols):
            frame = pd.DataFrame(
                {"band": ids, "position": params[i, j, :, 0], "fwhm": params[i, j, :, 1],
                 "area_pct": params[i, j, :, 2]}
            )  # fmt: skip
            cube[i, j] = simulate(frame, x=x, snr=snr, rng=rng).y
    pct = params[..., 2]
    truth = {
        "fraction": frac,
        "area_pct": 100 * pct / pct.sum(axis=-1, keepdims=True),
        "position": params[..., 0],
        "fwhm": params[..., 1],
        "bands": np.array(ids),
        "corrupted": np.full((rows, cols), "", dtype=object),
    }
    n_bad = round(corrupt * rows * cols)
    if n_bad:
        picks = rng.choice(rows * cols, size=n_bad, replace=False)
        for k, flat in enumerate(picks):
            i, j = divmod(int(flat), cols)
            kind = ("nan", "zero", "saturated", "spike")[k % 4]
            if kind == "nan":
                cube[i, j, rng.integers(0, x.size, 5)] = np.nan
            elif kind == "zero":
                cube[i, j] = 0.0
            elif kind == "saturated":
                cube[i, j] = np.minimum(cube[i, j], np.percentile(cube[i, j], 80))
            else:
                cube[i, j, rng.integers(200, 700)] += 50.0 * cube[i, j].max() / snr * 10
            truth["corrupted"][i, j] = kind
    return cube, x, truth
