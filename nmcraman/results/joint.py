"""Result of a joint deconvolution: per-spectrum tables, the sample's summary, statistics."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import report, savefile
from .exports import Exports
from .result import TABLE_COLUMNS, Result

__all__ = ["SUMMARY_COLUMNS", "JointResult"]

#: Columns of `JointResult.summary`, in order.
SUMMARY_COLUMNS = (
    "band",
    "label",
    "position",
    "position_err",
    "fwhm",
    "fwhm_err",
    "area_pct",
    "area_pct_err",
    "area_pct_sd",
    "n_spectra",
    "flag",
)


@dataclass(frozen=True)
class JointResult(Exports):
    """Joint deconvolution of several spectra of one sample (`nmcraman.deconvolve_joint`).

    Attributes
    ----------
    names : tuple of str
        One name per spectrum: a file's path as given (a glob's as it matched), as in
        the ``file`` column of ``nmcraman fit``, or the spectrum's index.
    results : tuple of Result
        One `Result` per spectrum, with errors from the joint covariance; ``.report()``
        and ``.plot()`` work as for `nmcraman.deconvolve`.
    summary : pandas.DataFrame
        One row per band, the sample's Table S3 with error bars: position and FWHM
        (cm-1) shared by the spectra (their mean where each spectrum has its own), with
        1-sigma errors; ``area_pct`` the mean over spectra, ``area_pct_err`` its
        standard error, ``area_pct_sd`` the spread between spectra; ``n_spectra``;
        ``flag``. Averaged over windows and baseline orders (the default), every error
        also holds the spread between them (`nmcraman.choice.average_numbers`).
    stats : dict
        ``share``, ``n_spectra``, ``chi2`` (noise-weighted), ``redchi``, ``n_iter``,
        ``converged``, ``aic``, ``bic``, ``lr_statistic``, ``lr_df``, ``lr_pvalue``
        and ``sharing_consistent`` (likelihood-ratio test of the shared fit against
        independent fits; None when nothing is shared exactly), ``tau_position`` (cm-1)
        and ``tau_fwhm`` (relative) for partial pooling; for a pooled set, the misfit
        check of its mean residual (`nmcraman.misfit`): ``misfit_statistic``,
        ``misfit_df``, ``misfit_pvalue``, ``model_misfit`` and ``misfit_low_edge``. A set flagged
        ``model_misfit`` holds each spectrum's own fit instead (``share`` is
        ``"none"``, ``share_asked`` the share asked for) and the flag in every row.
    model_choice : dict or None
        For ``bands="auto"``: the preset chosen, the criterion, both scores, the margin
        and the ``alternative`` JointResult.
    """

    _page = "joint"

    names: tuple[str, ...]
    results: tuple[Result, ...]
    summary: pd.DataFrame
    stats: dict
    model_choice: dict | None = None

    @property
    def table(self) -> pd.DataFrame:
        """Tidy table: ``spectrum`` (name), then the `Result.table` columns of each."""
        frames = [r.table for r in self.results]
        out = pd.concat(frames, ignore_index=True)
        out.insert(0, "spectrum", np.repeat(np.array(self.names, dtype=object), len(frames[0])))
        return out[["spectrum", *TABLE_COLUMNS]]

    def __len__(self) -> int:
        return len(self.results)

    def __repr__(self) -> str:
        st = self.stats
        return (
            f"<JointResult {len(self)} spectra, {len(self.summary)} bands, share={st['share']!r},"
            f" {'converged' if st['converged'] else 'NOT converged'}>"
        )

    def report(self, digits: int = 1) -> str:
        """Text table of `summary` laid out like Table S3, then the fit statistics.

        ``digits`` (decimals shown) as for `nmcraman.results.report.report`.
        """
        lines = report.band_lines(self.summary, digits, spread=True)
        st = self.stats
        lines.append("")
        lines.append(
            f"{len(self)} spectra, share={st['share']}; weighted chi2 {st['chi2']:.1f}"
            f" (reduced {st['redchi']:.3g}); {st['n_iter']} iterations;"
            f" {'converged' if st['converged'] else 'NOT converged'}"
        )
        if st.get("lr_pvalue") is not None:
            verdict = "consistent" if st["sharing_consistent"] else "NOT consistent"
            lines.append(
                f"sharing test: chi2 excess {st['lr_statistic']:.1f} on {st['lr_df']} df,"
                f" p = {st['lr_pvalue']:.3g}: shared values {verdict} with the data"
            )
        if st.get("tau_position") is not None:
            lines.append(
                f"spread between spectra: positions {st['tau_position']:.2f} cm-1,"
                f" FWHMs {100 * st['tau_fwhm']:.1f} %"
            )
        if st.get("misfit_pvalue") is not None:
            lines.append(report.misfit_line(st, "set"))
        if self.model_choice:
            lines.append(report.choice_line(self.model_choice))
        return "\n".join(lines)


def _saved_fields(v: JointResult) -> dict:
    return {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}


savefile.register("__joint__", JointResult, _saved_fields, lambda d: JointResult(**d))
