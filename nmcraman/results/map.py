"""MapResult: per-pixel band tables, parameter images, ratios, QC flags and export."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._kernels import stats as stat_kernels
from ..errors import InputError
from ..lineshapes import LINESHAPES
from ..navigation import (
    broadcast,
    check_dim_coords,
    check_dims,
    coord_column,
    selection,
    stage_names,
)
from ..qc import LOW_SNR, MODEL_MISFIT, POOR_FIT
from . import (
    netcdf,  # noqa: F401  (registers the netCDF format with savefile)
    savefile,
)
from .exports import Exports
from .mapplot import plot_map
from .mapspectra import MapSpectra
from .palette import NOT_POOLED_COLOUR, PHASE_COLOURS, phase_colour
from .result import BAND_FLAG_TEXT
from .trend import TREND_EXCLUDED

if TYPE_CHECKING:
    pass

__all__ = [
    "BAND_PARAMS", "LOW_SNR", "NOT_POOLED_COLOUR", "PHASE_COLOURS", "POOR_FIT", "QC_FLAGS",
    "MapResult", "phase_colour",
]  # fmt: skip

#: Per-band parameters, each stored as an array of shape (pixels, bands): the rows of
#: the band table of `Result` (`nmcraman._kernels.stats.TABLE_ROWS`).
BAND_PARAMS = stat_kernels.TABLE_ROWS
#: Pixel quality flags, in the order of their bits.
QC_FLAGS = (
    "bad_input", "saturated", "spike", "not_converged", "band_at_bound", "band_unresolved",
    "low_snr", "poor_fit", "pooling_rejected", MODEL_MISFIT,
)  # fmt: skip
_BIT = {name: 1 << i for i, name in enumerate(QC_FLAGS)}
#: Pixel flags that only summarise the band flags: a row of `MapResult.table` spells its
#: band's own flags and its pixel's other flags.
BAND_SUMMARY_FLAGS = _BIT["band_at_bound"] | _BIT["band_unresolved"]
#: Pixel statistics that `MapResult.pixels` lists, when the map has them.
_PIXEL_COLUMNS = ("redchi", "noise", "snr", "n_iter", "converged", "warm", "model", "phase", "eta")
#: Pixel statistics available to `MapResult.image` besides the band parameters.
PIXEL_STATS = (
    "redchi", "bic", "noise", "snr", "n_iter", "converged", "warm", "flags", "phase", "eta",
)  # fmt: skip


class MapResult(Exports):
    """Deconvolution of every spectrum of a map (or batch).

    Attributes
    ----------
    shape : tuple of int
        Map shape: (rows, cols), (N,) for a batch, or any number of navigation
        dimensions, e.g. (time, y, x) for an operando series.
    dims : tuple of str
        A name per navigation dimension (`nmcraman.navigation`): ``("row", "col")``
        for a map, ``("row",)`` for a batch, ``("dim_0", ..., "row", "col")`` for
        more dimensions left unnamed.
    dim_coords : dict of str to (tuple of str, numpy.ndarray)
        Coordinates along the navigation dimensions, ``{name: (dims, values)}``, e.g.
        ``{"time": (("time",), hours)}``; empty when the input had none.
    bands : list of str
        Band ids, in table order.
    labels : list of str
        Display labels.
    params : dict of str to numpy.ndarray
        Each of `BAND_PARAMS` as an array of shape (pixels, bands); NaN where a
        pixel was skipped or a band is not in the pixel's model.
    stats : dict of str to numpy.ndarray
        Per pixel: ``redchi`` (data units), ``bic`` (as `Result.stats`), ``noise``
        (sigma estimated from the data), ``snr`` (highest band height over noise),
        ``n_iter``, ``converged``, ``warm`` (solved from its neighbour's start),
        ``flags`` (bit mask of `QC_FLAGS`), ``model`` (preset chosen, for
        ``bands="auto"``); on a pooled map (``pooling=``) also ``phase`` (the phase
        each pixel was pooled in, -1 where not pooled); with pseudo-Voigt bands also
        ``eta`` (the Lorentzian fraction fitted, or held, at each pixel).
    coords : numpy.ndarray or None
        Stage x, y per pixel, shape (pixels, 2), in row-major pixel order.
    names : list of str or None
        A name per pixel (e.g. the file it came from).
    meta : dict
        Shape, baseline, window and source metadata.
    spectra : MapSpectra or None
        Each pixel's data in the fit window and its fitted baseline, kept compactly
        (`nmcraman.results.mapspectra`) for `curves` and the HTML page; None when the map was
        fitted with ``keep_spectra=False`` (the default for a dask array).
    """

    _page = "map"

    def __init__(
        self, *, shape, bands, labels, params, stats, band_flags, coords, names, meta,
        spectra: MapSpectra | None = None, dims=None, dim_coords=None,
    ):  # fmt: skip
        shape = tuple(shape)
        dims = check_dims(dims, shape)
        self.__dict__.update(
            shape=shape, dims=dims, dim_coords=check_dim_coords(dim_coords, dims, shape),
            bands=list(bands), labels=list(labels), params=params, stats=stats,
            band_flags=band_flags, coords=coords, names=names, meta=meta, spectra=spectra,
        )  # fmt: skip

    def replace(self, **changes) -> MapResult:
        """Return a new map with ``changes`` (fields of the constructor) in place of these.

        Examples
        --------
        >>> from nmcraman import deconvolve_batch
        >>> from nmcraman.synthetic import simulate
        >>> s = simulate("Core_75", snr=150, rng=0)
        >>> m = deconvolve_batch(s.x, s.y[None, :], bands="nmc", window="bands", baseline="poly3")
        >>> m.replace(names=["spot 1"]).table["name"].iloc[0]
        'spot 1'
        """
        return MapResult(**{**fields_of(self), **changes})

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"MapResult is frozen: build a new one rather than set {name!r}.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"MapResult is frozen: {name!r} cannot be deleted.")

    def _take(self, rows: np.ndarray, shape: tuple[int, ...], **fields) -> MapResult:
        """Return the pixels ``rows`` (flat indices) as a map of ``shape``.

        ``fields`` replace the new map's other attributes (``dims``, ``dim_coords``,
        ``meta``); by default they are this map's.
        """
        coords = None if self.coords is None else np.asarray(self.coords)[rows]
        names = None if self.names is None else [self.names[i] for i in rows]
        kept = {"dims": self.dims, "dim_coords": self.dim_coords, "meta": dict(self.meta)}
        return MapResult(
            shape=shape, bands=self.bands, labels=self.labels,
            params={k: v[rows] for k, v in self.params.items()},
            stats={k: np.asarray(v)[rows] for k, v in self.stats.items()},
            band_flags=self.band_flags[rows], coords=coords, names=names,
            spectra=None if self.spectra is None else self.spectra.take(rows),
            **{**kept, **fields},
        )  # fmt: skip

    def select(self, **index: int) -> MapResult:
        """Return the map at given steps of some navigation dimensions, e.g. one time step.

        Parameters
        ----------
        **index : int
            An index along each dimension to fix, by name, e.g. ``time=3``.

        Returns
        -------
        MapResult
            Over the other dimensions, with their coordinates; ``meta["selected"]``
            records ``index`` and the values of the coordinates dropped with it, named
            as in `table`.

        Raises
        ------
        InputError
            For a name that is not one of `dims` or an index out of range.

        Examples
        --------
        >>> import numpy as np
        >>> from nmcraman import deconvolve_map
        >>> from nmcraman.synthetic import simulate
        >>> cube = np.array([[[simulate("Core_75", snr=150, rng=6 * t + 3 * r + c).y
        ...                    for c in range(3)] for r in range(2)] for t in range(2)])
        >>> m = deconvolve_map(cube, np.arange(150.0, 901.0), bands="nmc", dims=("time", "y", "x"))
        >>> m.select(time=1).dims
        ('y', 'x')
        """
        key = selection(self.dims, self.shape, index)
        flat = np.arange(int(np.prod(self.shape))).reshape(self.shape)[key]
        dims = tuple(d for d, k in zip(self.dims, key, strict=True) if isinstance(k, slice))
        picked = dict(zip(self.dims, key, strict=True))
        coords, dropped = {}, {}
        for name, (cdims, values) in self.dim_coords.items():
            sub = values[tuple(picked[d] for d in cdims)]
            if all(d in dims for d in cdims):
                coords[name] = (cdims, sub)
            else:
                dropped[coord_column(name, self.dims)] = sub.item() if np.ndim(sub) == 0 else sub
        selected = {**{k: int(v) for k, v in index.items()}, **dropped}
        meta = {**self.meta, "selected": {**self.meta.get("selected", {}), **selected}}
        return self._take(flat.ravel(), flat.shape, dims=dims, dim_coords=coords, meta=meta)

    def __repr__(self) -> str:
        # Counts per flag: a bare "899/900 flagged" hid that nearly all were only
        # band_unresolved, the common case for these overlapping bands.
        flags = self.stats["flags"]
        counts = [f"{name} {int(((flags & bit) != 0).sum())}" for name, bit in _BIT.items()]
        counts = [c for c in counts if not c.endswith(" 0")]
        return (
            f"<MapResult {self.shape} pixels x {len(self.bands)} bands;"
            f" flagged pixels: {', '.join(counts) or 'none'}>"
        )

    def report(self) -> str:
        """Text summary: pixels per QC flag and, for a pooled map, each phase's pooling.

        A phase's line ends with its misfit check (`nmcraman.misfit`); see
        `nmcraman.results.report.map_report`.
        """
        from .report import map_report

        return map_report(self)

    def _band_index(self, band: str) -> int:
        if band not in self.bands:
            raise InputError(f"unknown band {band!r}; this map has {', '.join(self.bands)}.")
        return self.bands.index(band)

    def image(self, param: str = "area_pct", band: str | None = None, **index: int) -> np.ndarray:
        """Return a band parameter or pixel statistic as an array of the map's shape.

        Parameters
        ----------
        param : str, optional
            One of `BAND_PARAMS` (needs ``band``) or of ``redchi``, ``noise``,
            ``snr``, ``n_iter``, ``converged``, ``warm``, ``flags``, ``model``,
            ``phase`` on a pooled map (integers, -1 where not pooled) and ``eta`` on
            a map of pseudo-Voigt bands. Default is ``"area_pct"``.
        band : str, optional
            Band id, e.g. ``"Mn_A1g"``.
        **index : int
            An index along navigation dimensions to fix, by name (`dims`): on a
            (time, y, x) series, ``time=3`` gives the (y, x) image of step 3.

        Returns
        -------
        numpy.ndarray
            Shape `shape` less the dimensions fixed by ``index``; NaN where the pixel
            was skipped.
        """
        key = selection(self.dims, self.shape, index)
        if param in self.params:
            if band is None:
                raise InputError(f"{param!r} is a band parameter: give band=, e.g. 'Mn_A1g'.")
            return self.params[param][:, self._band_index(band)].reshape(self.shape)[key]
        if param in self.stats:
            return self.stats[param].reshape(self.shape)[key]
        if param == "phase":
            raise InputError("this map was not pooled: deconvolve_map(..., pooling='phases').")
        raise InputError(
            f"unknown parameter {param!r}; use one of {', '.join((*BAND_PARAMS, *PIXEL_STATS))}."
        )

    def ratio(self, band_a: str, band_b: str, **index: int) -> np.ndarray:
        """Area ratio image ``area(band_a) / area(band_b)`` (NaN where undefined).

        ``index`` fixes navigation dimensions by name, as for `image`.
        """
        a = self.image("area", band_a, **index)
        b = self.image("area", band_b, **index)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(b > 0, a / b, np.nan)

    def trend(
        self,
        quantity: str,
        band: str | None = None,
        along: str = "time",
        by_phase: bool = False,
        exclude: tuple[str, ...] = TREND_EXCLUDED,
    ) -> pd.DataFrame:
        """Return a parameter's mean, error, spread and pixel count per step of ``along``.

        See `nmcraman.results.trend.trend`, e.g. ``m.trend("position", band="Mn_A1g")`` on a
        (time, y, x) series: one row per time step with ``mean``, ``err`` (standard
        error over pixels), ``sd`` and ``n``, and the step's coordinates.
        """
        from .trend import trend

        return trend(self, quantity, band, along, by_phase, exclude)

    def plot_trend(
        self,
        quantity: str,
        band: str | None = None,
        along: str = "time",
        x: str | None = None,
        ax=None,
        by_phase: bool = False,
        exclude: tuple[str, ...] = TREND_EXCLUDED,
    ):
        """Draw `trend` as mean +- err against the step or a coordinate; return the Axes.

        See `nmcraman.results.trend.plot_trend`, e.g. ``m.plot_trend("position",
        band="Mn_A1g", x="voltage")``.
        """
        from .trend import plot_trend

        return plot_trend(self, quantity, band, along, x, ax, by_phase, exclude)

    def curves(self, pixel) -> pd.DataFrame:
        """One pixel's data, baseline, bands, fit and residual over the fit window.

        The bands are computed from the pixel's band table (`nmcraman.lineshapes`:
        position, FWHM, area and, for pseudo-Voigt bands, ``stats["eta"]``); the data
        and the baseline come from `spectra`, the data within half a quantisation step
        (`nmcraman.results.mapspectra.Quantised`). The map's HTML page draws the same curves.

        Parameters
        ----------
        pixel : int or tuple of int
            The pixel: its index along each navigation dimension (its row and column
            on a map), or its index in the map's row-major order (the order of
            `pixels`).

        Returns
        -------
        pandas.DataFrame
            Indexed by the Raman shift ``x`` (cm-1): ``data``, ``baseline``, a column
            per band of the pixel's model (bands outside it, for ``bands="auto"``, left
            out), ``fit`` (baseline plus bands) and ``residual``; NaN but ``data`` for
            a pixel not fitted.

        Raises
        ------
        InputError
            If the map kept no spectra (``keep_spectra=False``) or there is no such pixel.
        """
        if self.spectra is None:
            raise InputError(
                "this map kept no spectra: fit it with deconvolve_map(..., keep_spectra=True)."
            )
        p = self._pixel_index(pixel)
        x = self.spectra.x
        shape = self.meta.get("shape_name", "lorentzian")
        fitted = np.isfinite(self.stats["redchi"][p])
        cols = {
            "data": self.spectra.data.values(p),
            "baseline": self.spectra.baseline(p) if fitted else np.full(x.size, np.nan),
        }
        fit = cols["baseline"].copy()
        for k, band in enumerate(self.bands):
            area, position, fwhm = (self.params[q][p, k] for q in ("area", "position", "fwhm"))
            if np.isnan(position):
                continue
            eta = {"eta": self.stats["eta"][p]} if shape == "pseudo_voigt" else {}
            cols[band] = LINESHAPES[shape](x, area, position, fwhm, **eta)
            fit = fit + cols[band]
        cols["fit"] = fit
        cols["residual"] = cols["data"] - fit
        lo, hi = self.pixel_windows()
        for name in ("baseline", "fit", "residual"):  # the pixel's own window only
            cols[name] = np.where((x < lo[p]) | (x > hi[p]), np.nan, cols[name])
        return pd.DataFrame(cols, index=pd.Index(x, name="x"))

    def pixel_windows(self) -> tuple[np.ndarray, np.ndarray]:
        """Return each pixel's fit window's lower and upper ends, cm-1.

        Chosen per pixel by default (`nmcraman.maps.choice`): ``stats["window"]`` names
        each pixel's rule, ``meta["windows"]`` its span; `spectra` cover the widest.
        """
        n = int(np.prod(self.shape))
        lo, hi = self.meta.get("window", (-np.inf, np.inf))
        lo, hi = np.full(n, float(lo)), np.full(n, float(hi))
        rules = self.stats.get("window")
        for rule, (a, b) in self.meta.get("windows", {}).items() if rules is not None else ():
            mine = rules == rule
            lo[mine], hi[mine] = a, b
        return lo, hi

    def _pixel_index(self, pixel) -> int:
        n = int(np.prod(self.shape))
        try:
            if isinstance(pixel, tuple):
                return int(np.ravel_multi_index(pixel, self.shape))
            index = int(pixel)
            ok = index == pixel and 0 <= index < n
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"no pixel {pixel!r} in this map of shape {self.shape}.")
        return index

    @property
    def qc_names(self) -> tuple[str, ...]:
        """Names of the pixel QC flags, in the bit order of ``stats["flags"]`` (`QC_FLAGS`)."""
        return QC_FLAGS

    @property
    def summary_flags(self) -> int:
        """Bits of ``stats["flags"]`` that only summarise band flags (`BAND_SUMMARY_FLAGS`).

        A row of `table` spells its band's own flags, then its pixel's other flags.
        """
        return BAND_SUMMARY_FLAGS

    def flag_names(self) -> np.ndarray:
        """Pixel flags as strings (``"ok"`` or names joined by ``;``), shape (pixels,)."""
        return _names(self.stats["flags"])

    @property
    def pixels(self) -> pd.DataFrame:
        """One row per pixel: position in the map, statistics and flags."""
        frame = self._index_frame(1)
        for key in _PIXEL_COLUMNS:
            if key in self.stats:
                frame[key] = self.stats[key]
        frame["flag"] = self.flag_names()
        return frame

    def _index_frame(self, repeat: int) -> pd.DataFrame:
        """Columns that place each pixel: `nmcraman.navigation` says which and their names."""
        n = int(np.prod(self.shape))
        cols = dict(zip(self.dims, np.unravel_index(np.arange(n), self.shape), strict=True))
        if self.dims == ("row",):  # a batch's table has always had a column of zeros
            cols["col"] = np.zeros(n, int)
        for name, (cdims, values) in self.dim_coords.items():
            cols[coord_column(name, self.dims)] = broadcast(cdims, values, self.dims, self.shape)
        if self.coords is not None:
            sx, sy = stage_names([*self.dims, *self.dim_coords])
            cols[sx] = np.asarray(self.coords)[:, 0]
            cols[sy] = np.asarray(self.coords)[:, 1]
        if self.names is not None:
            cols["name"] = np.asarray(self.names, dtype=object)
        return pd.DataFrame({k: np.repeat(v, repeat) for k, v in cols.items()})

    @property
    def table(self) -> pd.DataFrame:
        """Tidy table: one row per pixel and band, columns as `Result.table` plus position.

        The pixel's position: a column of indices per navigation dimension, named after
        it (``row``, ``col`` on a map; ``time``, ``y``, ``x`` on a series given those
        `dims`), a column per coordinate (`nmcraman.navigation`), the stage ``x``,
        ``y`` where known and the ``name`` of each spectrum of a batch. Bands outside a
        pixel's chosen model (``bands="auto"``) are left out; the ``flag`` column joins
        the band's own flags and the pixel's QC flags.
        """
        nb = len(self.bands)
        frame = self._index_frame(nb)
        frame["band"] = np.tile(self.bands, int(np.prod(self.shape)))
        frame["label"] = np.tile(self.labels, int(np.prod(self.shape)))
        for key in BAND_PARAMS:
            frame[key] = self.params[key].ravel()
        own = self.stats["flags"] & ~BAND_SUMMARY_FLAGS
        shift = stat_kernels.FLAG_ABSENT.bit_length()
        key = self.band_flags.ravel().astype(np.int64) | (
            np.repeat(own, nb).astype(np.int64) << shift
        )
        # Few distinct combinations: spell each once instead of once per row.
        uniq, inverse = np.unique(key, return_inverse=True)
        band_bits = (1 << shift) - 1
        spelled = []
        for k in uniq.tolist():
            band, pixel = BAND_FLAG_TEXT[k & band_bits], _names(np.array([k >> shift]))[0]
            spelled.append(";".join(w for w in (band, pixel) if w != "ok") or "ok")
        frame["flag"] = np.array(spelled, dtype=object)[inverse]
        frame["model"] = np.repeat(self.stats["model"], nb)
        if "phase" in self.stats:
            frame["phase"] = np.repeat(self.stats["phase"], nb)
        keep = ~(np.isnan(frame["position"].to_numpy()) & (frame["model"] != "").to_numpy())
        keep |= np.repeat((self.stats["flags"] & (_BIT["bad_input"] | _BIT["saturated"])) != 0, nb)
        return frame[keep].reset_index(drop=True)

    def to_xarray(self):
        """Every band parameter and pixel statistic as an `xarray.Dataset`.

        Over the navigation dimensions (`dims`) and ``band``, with every coordinate:
        ``band``, `dim_coords`, the stage ``x``, ``y`` where known (named as in
        `table`) and the ``name`` of each spectrum of a batch.
        """
        try:
            import xarray as xr
        except ImportError:
            raise InputError("to_xarray needs xarray: pip install nmcraman[dask].") from None
        dims = self.dims
        data = {
            key: ((*dims, "band"), arr.reshape(*self.shape, len(self.bands)))
            for key, arr in self.params.items()
        }
        for key in ("redchi", "noise", "snr", "n_iter", "converged", "flags", "phase", "eta"):
            if key in self.stats:
                data[key] = (dims, self.stats[key].reshape(self.shape))
        coords = {"band": self.bands, **self.dim_coords}
        if self.coords is not None:
            stage = np.asarray(self.coords)
            for k, name in enumerate(stage_names([*dims, *self.dim_coords])):
                coords[name] = (dims, stage[:, k].reshape(self.shape))
        if self.names is not None:
            coords["name"] = (dims, np.asarray(self.names, dtype=object).reshape(self.shape))
        return xr.Dataset(data, coords=coords, attrs={"qc_flags": list(QC_FLAGS)})

    def plot(
        self,
        param: str = "area_pct",
        band: str | None = "Mn_A1g",
        ax=None,
        *,
        select: dict[str, int] | None = None,
        **kwargs,
    ):
        """Draw one parameter as an image with a colour bar.

        Row 0 is at the top and column 0 at the left, as on the map's HTML page
        (`to_html`) and in the images of ``nmcraman map --images``. A pooled map's
        ``phase`` gets one colour per phase label (`nmcraman.results.palette.PHASE_COLOURS`;
        `nmcraman.results.palette.NOT_POOLED_COLOUR` for -1) and the labels as ticks.

        Parameters
        ----------
        param : str, optional
            As for `image`. Default is ``"area_pct"``.
        band : str, optional
            Band id, for a band parameter. Default is ``"Mn_A1g"``.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on. Default is a new figure's.
        select : dict of str to int, optional
            Indices along navigation dimensions to fix, as for `image`, down to two
            dimensions, e.g. ``{"time": 3}`` on a (time, y, x) series. Default is None.
        **kwargs
            Passed to `matplotlib.axes.Axes.imshow`, e.g. ``cmap``, ``vmin``.

        Returns
        -------
        matplotlib.figure.Figure
        """
        return plot_map(self, param, band, ax, select=select, **kwargs)


def _names(bits: np.ndarray) -> np.ndarray:
    out = np.full(bits.shape, "", dtype=object)
    for name, bit in _BIT.items():
        has = (bits & bit) != 0
        out[has] = out[has] + np.where(out[has] == "", "", ";") + name
    out[out == ""] = "ok"
    return out


def fields_of(m: MapResult) -> dict:
    """Return the constructor's fields of ``m``: what `MapResult.replace` keeps and a file holds."""
    return {name: m.__dict__[name] for name in FIELDS}


#: The constructor's fields, in its order.
FIELDS = ("shape", "bands", "labels", "params", "stats", "band_flags", "coords", "names", "meta",
          "spectra", "dims", "dim_coords")  # fmt: skip

savefile.register("__map__", MapResult, fields_of, lambda d: MapResult(**d))
