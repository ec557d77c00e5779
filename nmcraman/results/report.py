"""Text reports and plots of a `Result` (as lmfit's printfuncs): what is shown, not held.

`Result.report` and `Result.plot` call these.
"""

from __future__ import annotations

import os
from typing import Any

#: A `nmcraman.results.result.Result`; not imported, so that result.py can import this module.
Result = Any

__all__ = ["band_lines", "choice_line", "map_report", "misfit_line", "plot", "report"]


def band_lines(table, digits: int = 1, spread: bool = False) -> list[str]:
    """Table S3 rows of a band table (`Result.table` or `JointResult.summary`).

    With ``spread``, an ``SD (%)`` column shows ``area_pct_sd`` (the spread between
    spectra of a joint fit).
    """
    f = f"{{:.{digits}f}} ± {{:.{digits}f}}"
    sd = f"{'SD (%)':>8}" if spread else ""
    lines = [f"{'Band':<10}{'Position (cm-1)':>20}{'FWHM (cm-1)':>18}{'Area (%)':>18}{sd}  Flag"]
    for r in table.itertuples():
        sd = f"{r.area_pct_sd:>8.{digits}f}" if spread else ""
        lines.append(
            f"{r.label:<10}{f.format(r.position, r.position_err):>20}"
            f"{f.format(r.fwhm, r.fwhm_err):>18}{f.format(r.area_pct, r.area_pct_err):>18}"
            f"{sd}  {r.flag}"
        )
    return lines


def choice_line(model_choice: dict) -> str:
    """Say which band preset ``bands="auto"`` chose, and by how much, in one line."""
    mc = model_choice
    return (
        f"bands: {mc['chosen']} chosen by {mc['criterion'].upper()} (better by {mc['margin']:.1f})"
    )


def misfit_line(record: dict, pool: str) -> str:
    """Say what the misfit check (`nmcraman.misfit`) of a pool found, in one line.

    ``record`` holds the check's numbers (`nmcraman.misfit.MisfitTest.record`);
    ``pool`` names the pool (``"set"``, ``"phase 2"``).
    """
    if not record["misfit_pvalue"] == record["misfit_pvalue"]:  # NaN: not tested
        return "misfit check: not made (fewer than two spectra kept)"
    if record["model_misfit"]:
        verdict = f"model_misfit: the mean residual of the {pool} keeps structure; own fits kept"
    else:
        verdict = "no structure left in the mean residual"
    return (
        f"misfit check: F {record['misfit_statistic']:.2f} on {record['misfit_df'][0]:.0f}"
        f" and {record['misfit_df'][1]:.0f} df, p = {record['misfit_pvalue']:.3g}: {verdict}"
    )


def map_report(m) -> str:
    """Text summary of a `MapResult`: its pixels per QC flag, then each pooled phase.

    Parameters
    ----------
    m : MapResult
        A map of `nmcraman.deconvolve_map`.

    Returns
    -------
    str
    """
    flags = m.stats["flags"]
    counts = [(name, int(((flags >> k) & 1).sum())) for k, name in enumerate(m.qc_names)]
    detail = ", ".join(f"{name} {n}" for name, n in counts if n) or "none"
    lines = [
        f"map {' x '.join(map(str, m.shape))} ({', '.join(m.dims)}), {len(m.bands)} bands;"
        f" {int((flags != 0).sum())} of {flags.size} pixels flagged: {detail}"
    ]
    pooling = m.meta.get("pooling")
    if isinstance(pooling, dict):
        lines.append(f"pooled by phase, share={pooling['share']}")
        for p in pooling["phases"]:
            lines.append(
                f"phase {p['phase']}: {p['pixels']} pixels ({p['bands']}), {p['rejected']} rejected"
            )
            if p.get("misfit_pvalue") is not None:
                lines.append("  " + misfit_line(p, f"phase {p['phase']}"))
    return "\n".join(lines)


def report(result: Result, digits: int = 1) -> str:
    """Text table laid out like Table S3, with 1-sigma errors.

    Parameters
    ----------
    result : Result
        A fit of `nmcraman.deconvolve`.
    digits : int, optional
        Decimals shown. Default is 1.

    Returns
    -------
    str

    Examples
    --------
    >>> from nmcraman import deconvolve
    >>> from nmcraman.synthetic import simulate
    >>> s = simulate("Core_75", snr=200, rng=2)
    >>> print(deconvolve(s.x, s.y, bands="nmc").report().splitlines()[0])
    Band           Position (cm-1)       FWHM (cm-1)          Area (%)  Flag
    """
    lines = band_lines(result.table, digits)
    st = result.stats
    lines.append("")
    lines.append(
        f"shape: {result.meta['shape']}"
        + (f" (eta {st['eta']:.2f})" if st["eta"] is not None else "")
        + f"; baseline: {result.meta['baseline']}"
        + f"; window {result.meta['window'][0]:.0f} to {result.meta['window'][1]:.0f} cm-1"
    )
    lines.append(
        f"R2 {st['r2']:.5f}; reduced chi2 {st['redchi']:.4g}; {st['n_iter']} iterations;"
        f" {st['message']}"
    )
    if result.model_choice:
        lines.append(choice_line(result.model_choice))
    if result.qc:
        lines.append(f"QC flags: {', '.join(result.qc)} (see docs: Errors and flags)")
    src = result.meta.get("source")
    if src:
        lines.append(f"source: {src}")
    return "\n".join(lines)


def plot(result: Result, ax=None, *, title: str | None = None):
    """Plot data, baseline, each band, the envelope and the residual.

    Parameters
    ----------
    result : Result
        A fit of `nmcraman.deconvolve`.
    ax : sequence of two matplotlib Axes, optional
        Main and residual axes; a new figure is made when None.
    title : str, optional
        Figure title. Default is the source file name, if any.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, (main, low) = plt.subplots(
            2, 1, sharex=True, figsize=(7, 5.2), height_ratios=(4, 1), layout="constrained"
        )
    else:
        main, low = ax
        fig = main.figure
    main.plot(result.x, result.y, ".", ms=2.5, color="0.45", label="data")
    main.plot(result.x, result.baseline, "--", color="0.3", lw=1, label="baseline")
    for band, label in zip(result.table["band"], result.table["label"], strict=True):
        comp = result.components[band].to_numpy()
        main.fill_between(
            result.x, result.baseline, result.baseline + comp, alpha=0.35, label=label
        )
    main.plot(result.x, result.best_fit, color="k", lw=1.3, label="fit")
    main.set_ylabel("Intensity")
    main.legend(fontsize=7, ncol=2, frameon=False)
    src = result.meta.get("source")
    if title or src:
        main.set_title(title or os.path.basename(str(src)), fontsize=9)
    low.plot(result.x, result.residual, color="C3", lw=0.8)
    low.axhline(0, color="0.3", lw=0.6)
    low.set_xlabel("Raman shift (cm$^{-1}$)")
    low.set_ylabel("residual")
    return fig
