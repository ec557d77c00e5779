"""Result of a deconvolution: the table with errors, fit statistics, report, plot, export."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._kernels import stats as stat_kernels
from .._version import __version__
from ..bands import held_parameters
from ..qc import spectrum_flags
from . import report, savefile
from .exports import Exports

if TYPE_CHECKING:
    from ..bands import Band

if TYPE_CHECKING:
    from .._engine.problem import Problem

__all__ = ["TABLE_COLUMNS", "Result"]

#: Columns of `Result.table`, in order: the band's ids, the numbers `stat_kernels.fit_summary`
#: writes, the flag.
TABLE_COLUMNS = ("band", "label", *stat_kernels.TABLE_ROWS, "flag")


#: The dtype pandas gives text columns (str in pandas 3, object before).
_TEXT = pd.Series(["a"]).dtype

try:
    from pandas.api.internals import create_dataframe_from_blocks as _from_blocks
except ImportError:
    _from_blocks = None


#: Positions of the text columns in `TABLE_COLUMNS`; the rest are `stat_kernels.TABLE_ROWS`.
_TEXT_AT = (0, 1, len(TABLE_COLUMNS) - 1)
_FLOAT_AT = np.arange(2, 2 + len(stat_kernels.TABLE_ROWS))


def band_frame(ids: tuple, labels: tuple, numbers: np.ndarray, flags: tuple) -> pd.DataFrame:
    """`Result.table` from its text columns and the float block of `stat_kernels.fit_summary`.

    Why not ``pd.DataFrame(columns)``: its type inference on a 7-row table costs a
    large part of a whole fit (docs/performance.rst). The float columns go in as the
    one block the kernel wrote (``create_dataframe_from_blocks``, pandas 3);
    ``DataFrame._from_arrays`` and the public constructor are the fallbacks.
    """
    texts = [_text(ids).copy(), _text(labels).copy(), _text(flags).copy()]
    # Views: cached Index objects would otherwise be shared, and renaming one
    # table's columns or index would rename every table's.
    index = _index(numbers.shape[1])._view()
    columns = _columns()._view()
    if _from_blocks is not None:
        blocks = [(v, np.array([i])) for v, i in zip(texts, _TEXT_AT, strict=True)]
        blocks.append((numbers, _FLOAT_AT))
        return _from_blocks(blocks, index=index, columns=columns)
    arrays = [*texts[:2], *numbers, texts[2]]
    try:
        return pd.DataFrame._from_arrays(
            arrays, columns=columns, index=index, verify_integrity=False
        )
    except (AttributeError, TypeError):
        return pd.DataFrame(dict(zip(columns, arrays, strict=True)), index=index)


@lru_cache(maxsize=256)
def _text(values: tuple[str, ...]):
    """Return a text column; cached because band ids, labels and flags repeat between fits.

    Why cached: building a short pyarrow string column costs more than the table's
    numbers.
    """
    if isinstance(_TEXT, pd.StringDtype):
        return pd.array(values, dtype=_TEXT)
    return np.array(values, dtype=object)


@lru_cache(maxsize=1)
def _columns() -> pd.Index:
    return pd.Index(TABLE_COLUMNS)


@lru_cache(maxsize=64)
def _index(n: int) -> pd.RangeIndex:
    return pd.RangeIndex(n)


@dataclass(frozen=True, eq=False, repr=False)
class Result(Exports):
    """Deconvolution of one spectrum (frozen: `nmcraman.deconvolve` builds it whole).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per band in prior order with columns `TABLE_COLUMNS`: position,
        FWHM (cm-1), height, area, area % (of the summed band area), each with a
        1-sigma error, and ``flag`` (``"ok"`` or reasons joined by ``;``).
    x : numpy.ndarray
        Raman shift of the fit window, cm-1.
    y : numpy.ndarray
        Data in the fit window.
    baseline : numpy.ndarray
        Fitted baseline (starting baseline plus the joint polynomial).
    components : pandas.DataFrame
        Each band's fitted profile, one column per band id, indexed by x.
    best_fit : numpy.ndarray
        Baseline plus all bands.
    residual : numpy.ndarray
        ``y - best_fit``.
    stats : dict
        ``chi2`` (residual sum of squares), ``redchi``, ``r2``, ``aic``, ``bic``,
        ``n_points``, ``n_params``, ``n_iter``, ``n_eval``, ``converged``,
        ``message``, ``noise`` (residual standard deviation), ``eta``, ``engine``.
    covariance : pandas.DataFrame
        Covariance of all fitted parameters (areas in data units).
    model_choice : dict or None
        For ``bands="auto"``: the preset chosen, the criterion, both scores, the
        margin, and the ``alternative`` Result.
    meta : dict
        Metadata of the spectrum, plus ``bands``, ``shape``, ``baseline``, ``window``
        (cm-1) and ``nmcraman_version`` (the version that made the fit).
    priors : tuple of Band
        The band priors fitted, in table order.
    qc : tuple of str
        Spectrum-level quality flags, by the rules of maps (`nmcraman.qc`):
        ``saturated``, ``spike``, ``low_snr``, ``poor_fit``; empty when none applies
        (docs: "Errors and flags"). Worked out on first use, from the whole spectrum
        fitted (``spectrum_y``), the fit window and the fit.
    spectrum_y : numpy.ndarray
        Intensities of the whole spectrum as fitted (after ``despike``), on the
        ascending axis the window was cut from.
    """

    _page = "fit"

    table: pd.DataFrame
    x: np.ndarray
    y: np.ndarray
    baseline: np.ndarray
    best_fit: np.ndarray
    residual: np.ndarray
    stats: dict
    meta: dict
    _components: np.ndarray
    _covariance: np.ndarray
    _names: list[str]
    model_choice: dict | None = None
    priors: tuple[Band, ...] = ()
    spectrum_y: np.ndarray | None = None

    @classmethod
    def from_fit(
        cls,
        problem: Problem,
        *,
        theta: np.ndarray,
        coef: np.ndarray,
        n_iter: int,
        n_eval: int,
        converged: bool,
        message: str,
        covariance: np.ndarray | None,
        start: int,
        engine: str = "numba",
    ) -> Result:
        """Assemble a Result from an engine's solution in scaled units."""
        lay = problem.layout
        nb = lay.nb
        n = problem.x.size
        npar = lay.n_params
        dof = max(n - lay.n_fitted, 1)
        have_cov = covariance is not None
        cov = np.array(covariance, dtype=np.float64) if have_cov else np.empty((npar, npar))
        curves = np.empty((nb + 4, n))
        err = np.empty(lay.n_errors)
        numbers = np.empty((len(stat_kernels.TABLE_ROWS), nb))
        codes = np.empty(nb, dtype=np.int64)
        rss, tss = stat_kernels.fit_summary(
            problem.x, problem.y, problem.basis, theta, coef, nb, problem.shape_code,
            problem.fit_eta, problem.link, have_cov, problem.initial_baseline, problem.scale,
            problem.lo, problem.hi, curves, cov, err, numbers, codes,
        )  # fmt: skip
        eta = float(theta[lay.eta])
        flags = tuple(BAND_FLAG_TEXT[c] for c in codes.tolist())
        table = band_frame(problem.ids, problem.labels, numbers, flags)
        aic, bic = stat_kernels.information_criteria(rss, n, lay.n_fitted)
        stats = {
            "chi2": rss,
            "redchi": rss / dof,
            "r2": 1.0 - rss / tss if tss > 0 else np.nan,
            "aic": float(aic),
            "bic": float(bic),
            "n_points": n,
            "n_params": lay.n_fitted,
            "n_iter": n_iter,
            "n_eval": n_eval,
            "converged": bool(converged),
            "message": message,
            "noise": math.sqrt(rss / dof),
            "eta": eta if problem.shape == "pseudo_voigt" else None,
            "eta_err": float(err[lay.eta]) if lay.fit_eta else None,
            "engine": engine,
            "start": start,
        }
        meta = dict(problem.spectrum.meta)
        meta.update(
            bands=list(problem.ids),
            shape=problem.shape,
            baseline=problem.baseline_name,
            window=(float(problem.x[0]), float(problem.x[-1])),
            nmcraman_version=__version__,
        )
        held = held_parameters(problem.bands)
        if held:
            meta["held"] = held
        res = cls(
            table=table,
            x=problem.x.copy(),
            y=curves[nb + 1],
            baseline=curves[nb],
            best_fit=curves[nb + 2],
            residual=curves[nb + 3],
            stats=stats,
            meta=meta,
            _components=curves[:nb],
            _covariance=cov,
            _names=list(problem.names),
            priors=tuple(problem.bands),
            spectrum_y=problem.spectrum.y,
        )
        return res.with_numbers(numbers)

    def with_numbers(self, numbers: np.ndarray) -> Result:
        """Return self, with `numbers` known to be ``numbers`` (the table was built from them)."""
        numbers = numbers.copy()  # the table may share the array it was built from
        numbers.setflags(write=False)
        self.__dict__["numbers"] = numbers
        return self

    @cached_property
    def numbers(self) -> np.ndarray:
        """The table's numbers as one read-only array: `stat_kernels.TABLE_ROWS` x bands.

        Model averaging (`nmcraman.choice.average`) reads them from here: reading a
        block of columns back from a DataFrame costs more than the fit's table.
        """
        t = self.table
        out = np.array([t[c].to_numpy(dtype=np.float64) for c in stat_kernels.TABLE_ROWS])
        out.setflags(write=False)
        return out

    @cached_property
    def qc(self) -> tuple[str, ...]:
        """Spectrum-level quality flags (`nmcraman.qc.spectrum_flags`); see the class doc.

        Lazy: the rules cost a noticeable part of a small fit, and many fits (the
        alternative of ``bands="auto"``, a refit) are never asked.
        """
        if self.spectrum_y is None:
            return ()
        return spectrum_flags(
            self.spectrum_y, self.y, self.table["height"].to_numpy(dtype=np.float64),
            self.stats["redchi"], spike=bool(self.meta.get("despiked", False)),
        )  # fmt: skip

    @property
    def components(self) -> pd.DataFrame:
        """Each band's fitted profile, one column per band id, indexed by x (cm-1)."""
        return pd.DataFrame(
            self._components.T, index=pd.Index(self.x, name="x"), columns=list(self.table["band"])
        )

    @property
    def covariance(self) -> pd.DataFrame:
        """Covariance of all fitted parameters (areas and baseline in data units)."""
        return pd.DataFrame(self._covariance, index=self._names, columns=self._names)

    def __repr__(self) -> str:
        st = self.stats
        return (
            f"<Result {len(self.table)} bands, {self.meta['shape']}, R2={st['r2']:.4f},"
            f" {'converged' if st['converged'] else 'NOT converged'}>"
        )

    def report(self, digits: int = 1) -> str:
        """Text table laid out like Table S3, with 1-sigma errors.

        Parameters and output as for `nmcraman.results.report.report`, which this calls.
        """
        return report.report(self, digits)

    def plot(self, ax=None, *, title: str | None = None):
        """Plot data, baseline, bands, envelope and residual.

        Parameters and output as for `nmcraman.results.report.plot`, which this calls.
        """
        return report.plot(self, ax, title=title)


def choose_model(fits: dict, criterion: str):
    """Return the fit with the lowest ``criterion`` (a `Result` or `JointResult`), with the choice.

    ``fits`` maps each band preset to its fit; the returned copy's ``model_choice``
    holds the preset chosen, the criterion, every score, the margin to the next best
    and that ``alternative`` fit (two presets today: ``nmc`` and ``nmc+lo``).
    """
    scores = {name: fit.stats[criterion] for name, fit in fits.items()}
    chosen = min(scores, key=scores.get)
    other = min((n for n in scores if n != chosen), key=scores.get)
    choice = {
        "chosen": chosen,
        "criterion": criterion,
        "scores": scores,
        "margin": float(scores[other] - scores[chosen]),
        "alternative": fits[other],
    }
    return dataclasses.replace(fits[chosen], model_choice=choice)


#: Flag text of a band by its code from `stat_kernels.band_code`, in `Result` and `MapResult`
#: tables (bits: position at a bound, FWHM at a bound, unresolved; `stat_kernels.FLAG_ABSENT`
#: alone: zero area).
_REASONS = ("position_at_bound", "fwhm_at_bound", "unresolved")
BAND_FLAG_TEXT = (
    *(
        ";".join(r for bit, r in enumerate(_REASONS) if code >> bit & 1) or "ok"
        for code in range(stat_kernels.FLAG_ABSENT)
    ),
    "absent",
)


def _saved_fields(res: Result) -> dict:
    """Return what `savefile` keeps of a Result: its fields, the table as its columns."""
    out = {f.name: getattr(res, f.name) for f in dataclasses.fields(res)}
    t = res.table
    numbers = t[list(t.columns[2:-1])].to_numpy(dtype=np.float64).T
    out["table"] = (tuple(t["band"]), tuple(t["label"]), numbers, tuple(t["flag"]))
    return out


def _from_saved(fields: dict) -> Result:
    ids, labels, numbers, flags = fields.pop("table")
    table = band_frame(ids, labels, np.ascontiguousarray(numbers), flags)
    return Result(table=table, **fields)


savefile.register("__result__", Result, _saved_fields, _from_saved)
