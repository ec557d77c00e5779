"""Follow a band through a series: one row per step of a navigation dimension.

`trend` reduces a map's parameter (``position`` of ``Mn_A1g``, say) over the pixels of
each step of one navigation dimension (``time`` of a (time, y, x) operando series) to
its mean, standard error, standard deviation and pixel count; `plot_trend` draws it
with an error band. `nmcraman.results.map.MapResult.trend` and
`nmcraman.results.map.MapResult.plot_trend` call them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..navigation import coord_column
from .palette import phase_colour

__all__ = ["TREND_EXCLUDED", "TREND_STATS", "UNITS", "plot_trend", "trend"]

#: Pixel flags that keep a pixel out of a trend by default: the damaged pixels, which
#: are not fitted. Other flags describe a fit that is still an estimate; leaving them
#: out would select pixels by the value followed (``low_snr`` and ``band_unresolved``
#: fire as a band fades), which biases the trend.
TREND_EXCLUDED = ("bad_input", "saturated")
#: Pixel statistics a trend can follow besides the band parameters.
TREND_STATS = ("redchi", "bic", "noise", "snr", "n_iter", "eta")
#: Units of the quantities, for axis labels.
UNITS = {
    "position": "cm-1", "position_err": "cm-1", "fwhm": "cm-1", "fwhm_err": "cm-1",
    "area_pct": "%", "area_pct_err": "%",
}  # fmt: skip
#: Columns of a trend's table that are statistics, not the step's place.
_STAT_COLUMNS = ("phase", "mean", "err", "sd", "n")


def trend(
    m,
    quantity: str,
    band: str | None = None,
    along: str = "time",
    by_phase: bool = False,
    exclude: tuple[str, ...] = TREND_EXCLUDED,
) -> pd.DataFrame:
    """Return a parameter's mean over the pixels of each step along a navigation dimension.

    Parameters
    ----------
    m : MapResult
        A map with the dimension ``along`` (e.g. a (time, y, x) series).
    quantity : str
        One of `nmcraman.results.map.BAND_PARAMS` (needs ``band``) or of `TREND_STATS`.
    band : str, optional
        Band id, e.g. ``"Mn_A1g"``, for a band parameter. Default is None.
    along : str, optional
        The navigation dimension whose steps are the rows (one of ``m.dims``).
        Default is ``"time"``.
    by_phase : bool, optional
        One row per step and phase of a pooled map (``pooling=``), phase -1 being
        the pixels not pooled. Default is False.
    exclude : tuple of str, optional
        Pixel flags (`nmcraman.results.map.QC_FLAGS`) that keep a pixel out. Default
        is `TREND_EXCLUDED`: ``bad_input`` and ``saturated``, the pixels not fitted.

    Returns
    -------
    pandas.DataFrame
        One row per step (per step and phase with ``by_phase``), in step order:
        ``along`` (the step's index), a column per coordinate along that dimension
        alone (``m.dim_coords``, named as in ``m.table``: ``time_coord``,
        ``voltage``), ``phase`` with ``by_phase``, then ``mean``, ``err`` (the
        standard error of the mean, ``sd / sqrt(n)``), ``sd`` (standard deviation
        over the pixels, ``ddof=1``) and ``n`` (pixels used: a finite value and
        none of the ``exclude`` flags). ``mean`` is NaN where ``n`` is 0, ``sd``
        and ``err`` where ``n`` is below 2.

    Raises
    ------
    InputError
        If ``along`` is not one of the map's dims, the quantity or band is unknown,
        ``band`` is missing for a band parameter or given for a pixel statistic, a
        flag of ``exclude`` is unknown, or ``by_phase`` is asked of an unpooled map.

    Notes
    -----
    ``err`` treats the pixels of a step as independent samples of the step's mean: the
    scatter between pixels holds both the fit noise and real differences across the
    map. On a pooled map it is the same standard error over pixels: the map keeps no
    estimate per phase and step with an error of its own (``meta["pooling"]`` records
    each phase's pixels, rejections and spread, not its shared values). Pooled over
    the whole series (``pooling="phases"`` alone), positions and FWHMs are drawn
    towards one value for every step, so their trend is flattened, and where they
    are shared exactly (``share="shape"``, ``"position"``, ``"fwhm"``) they do not
    vary within a phase at all and ``err`` by phase is 0: follow such quantities on an
    unpooled map, or on a map pooled step by step (``through=`` of
    `nmcraman.deconvolve_map`, `nmcraman.maps.pooltime`).

    Examples
    --------
    >>> import numpy as np
    >>> from nmcraman import deconvolve_map
    >>> from nmcraman.synthetic import simulate
    >>> cube = np.array([[[simulate("Core_75", snr=150, rng=6 * t + 3 * r + c).y
    ...                    for c in range(3)] for r in range(2)] for t in range(2)])
    >>> m = deconvolve_map(cube, np.arange(150.0, 901.0), bands="nmc", dims=("time", "y", "x"))
    >>> list(m.trend("position", band="Mn_A1g").columns)
    ['time', 'mean', 'err', 'sd', 'n']
    """
    values = _values(m, quantity, band)
    axis = _axis(m, along)
    steps = m.shape[axis]
    used = np.isfinite(values) & ~_excluded(m, exclude)
    step = np.broadcast_to(
        np.arange(steps).reshape([-1 if i == axis else 1 for i in range(len(m.shape))]), m.shape
    ).ravel()
    if by_phase:
        if "phase" not in m.stats:
            raise InputError(
                "by_phase=True needs a pooled map: deconvolve_map(..., pooling='phases')."
            )
        phase = np.asarray(m.stats["phase"]).astype(int)
        groups = pd.MultiIndex.from_product(
            [range(steps), np.unique(phase).tolist()], names=["step", "phase"]
        )
        keys = [step[used], phase[used]]
    else:
        groups = pd.Index(range(steps), name="step")
        keys = [step[used]]
    stats = pd.Series(values[used]).groupby(keys).agg(["mean", "std", "count"])
    stats = stats.reindex(groups)
    n = stats["count"].fillna(0).astype(int).to_numpy()
    sd = stats["std"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = sd / np.sqrt(n)
    at = groups.get_level_values("step") if by_phase else groups
    out = {along: np.asarray(at)}
    for name, (cdims, coord) in m.dim_coords.items():
        if cdims == (along,):
            out[coord_column(name, m.dims)] = np.asarray(coord)[np.asarray(at)]
    if by_phase:
        out["phase"] = np.asarray(groups.get_level_values("phase"))
    out.update(mean=stats["mean"].to_numpy(dtype=float), err=err, sd=sd, n=n)
    return pd.DataFrame(out)


def plot_trend(
    m,
    quantity: str,
    band: str | None = None,
    along: str = "time",
    x: str | None = None,
    ax=None,
    by_phase: bool = False,
    exclude: tuple[str, ...] = TREND_EXCLUDED,
):
    """Draw `trend` as a line of the means with a band of +-1 ``err`` around it.

    Parameters
    ----------
    m, quantity, band, along, by_phase, exclude
        As for `trend`; with ``by_phase``, one line per phase in its colour
        (`nmcraman.results.palette.phase_colour`).
    x : str, optional
        The horizontal axis: a column of the trend's table that places the step,
        ``along`` itself (the step index) or a coordinate along it, e.g.
        ``"time_coord"`` or ``"voltage"``. Default is None: the step index.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on. Default is a new figure's.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on: a line with markers per phase (one without
        ``by_phase``), points in step order.

    Raises
    ------
    InputError
        As for `trend`, and if ``x`` is not a column that places the step.
    """
    table = trend(m, quantity, band, along, by_phase, exclude)
    places = [c for c in table.columns if c not in _STAT_COLUMNS]
    column = along if x is None else x
    if column not in places:
        raise InputError(
            f"x={x!r} is not along {along!r}; use one of {', '.join(map(repr, places))}."
        )
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
    groups = table.groupby("phase", sort=True) if by_phase else [(None, table)]
    for label, rows in groups:
        where = rows[column].to_numpy()  # numbers, or datetimes from an xarray time axis
        mean, err = rows["mean"].to_numpy(), rows["err"].to_numpy()
        style = {} if label is None else {"color": phase_colour(int(label))}
        name = None if label is None else ("not pooled" if label < 0 else f"phase {label}")
        (line,) = ax.plot(where, mean, marker="o", markersize=3, label=name, **style)
        ax.fill_between(
            where, mean - err, mean + err, color=line.get_color(), alpha=0.25, linewidth=0
        )
    if by_phase:
        ax.legend(frameon=False)
    unit = UNITS.get(quantity)
    ax.set_ylabel(f"{quantity}" + (f" ({unit})" if unit else "") + (f", {band}" if band else ""))
    ax.set_xlabel(f"{along} (step)" if column == along else column)
    return ax


def _values(m, quantity: str, band: str | None) -> np.ndarray:
    """Return the quantity per pixel, flat (pixels,), as floats."""
    if quantity in m.params:
        if band is None:
            raise InputError(f"{quantity!r} is a band parameter: give band=, e.g. 'Mn_A1g'.")
        return np.asarray(m.params[quantity][:, m._band_index(band)], dtype=float)
    if quantity in TREND_STATS and quantity in m.stats:
        if band is not None:
            raise InputError(f"{quantity!r} is a pixel statistic, not a band's: drop band=.")
        return np.asarray(m.stats[quantity], dtype=float)
    known = [*m.params, *(s for s in TREND_STATS if s in m.stats)]
    raise InputError(f"cannot follow {quantity!r}; use one of {', '.join(known)}.")


def _axis(m, along: str) -> int:
    """Return the index of the navigation dimension ``along`` in ``m.dims``."""
    if along not in m.dims:
        raise InputError(
            f"this map has no dimension {along!r} to follow; its dims are {m.dims}:"
            f" pass along= one of them."
        )
    return m.dims.index(along)


def _excluded(m, exclude) -> np.ndarray:
    """Pixels with any of the flags ``exclude``, shape (pixels,)."""
    flags = m.qc_names
    names = (exclude,) if isinstance(exclude, str) else tuple(exclude)
    unknown = [f for f in names if f not in flags]
    if unknown:
        raise InputError(f"unknown flag {unknown[0]!r} in exclude=; use {', '.join(flags)}.")
    bits = sum(1 << flags.index(f) for f in names)
    return (np.asarray(m.stats["flags"]) & bits) != 0
