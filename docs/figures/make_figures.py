"""Make every figure and generated table of the nmcraman documentation.

Usage (from anywhere)::

    python docs/figures/make_figures.py                  # everything, about 15 s
    python docs/figures/make_figures.py --only maps cli  # some steps
    python docs/figures/make_figures.py --quick --out /tmp/docs-check  # small, for tests

Figures (PNG) go to ``docs/_static/figures/``, tables (CSV, reStructuredText) and
captured text to ``docs/_generated/``; with ``--out DIR`` both go to ``DIR``.
Everything is made with nmcraman itself, from the shipped example spectra, from
`nmcraman.synthetic` with fixed seeds and from two real calibration files of
``tests/data/``, in the repository root (so the paths printed in reports read
``spectra/cs_75.txt``, as in the docs).

``docs/conf.py`` runs this script before a build when an output is missing or when
this script, the package sources, the example spectra or those calibration files
changed since the last run
(a hash kept in ``docs/_generated/stamp.json``), so a clean clone builds with one
command. Timings written into the tables are measured on the machine that builds.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
ROOT = DOCS.parent
FIG_DIR = DOCS / "_static" / "figures"
GEN_DIR = DOCS / "_generated"
STAMP = GEN_DIR / "stamp.json"
#: Seeds of the synthetic data made here (the example spectra have their own).
SEED_BASELINES = 20240611
SEED_MAP = 2024
SEED_SHAPES = 3
SEED_SERIES = 27
#: The real instrument files (tests/data) the own_data step reads.
CALIBRATION_FILES = ("silicon_horiba633.txt", "polystyrene_horiba633.txt")
DPI = 110


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _in_root() -> Iterator[None]:
    """Run in the repository root, so that ``spectra/...`` paths work and print short."""
    before = Path.cwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(before)


class Context:
    """Where outputs go, whether to make small versions, and what was written."""

    def __init__(self, fig_dir: Path, gen_dir: Path, quick: bool) -> None:
        self.fig_dir = fig_dir
        self.gen_dir = gen_dir
        self.quick = quick
        self.written: list[Path] = []

    def fig(self, fig, name: str) -> None:
        """Save a matplotlib figure as ``name`` (PNG) and close it."""
        import matplotlib.pyplot as plt

        path = self.fig_dir / name
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        self.written.append(path)

    def text(self, name: str, text: str) -> None:
        """Write a generated text file (rst, txt or csv)."""
        path = self.gen_dir / name
        path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
        self.written.append(path)

    def csv(self, name: str, frame) -> None:
        """Write a DataFrame as CSV for a ``csv-table`` directive (header row included)."""
        buf = io.StringIO()
        frame.to_csv(buf, index=False)
        self.text(name, buf.getvalue())


def _fmt(value: float, err: float | None = None, digits: int = 1) -> str:
    if err is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {err:.{digits}f}"


# --------------------------------------------------------------------------- steps


def quickstart(ctx: Context) -> None:
    """The quick start: one spectrum to a report, a table and a plot."""
    from nmcraman import deconvolve

    res = deconvolve("spectra/cs_75.txt")
    ctx.text("quickstart_report.txt", res.report())
    cols = ["band", "position", "fwhm", "area_pct", "area_pct_err", "flag"]
    ctx.text("quickstart_table.txt", res.table[cols].round(1).to_string())
    ctx.fig(res.plot(), "quickstart_fit.png")


def table_s3_comparison(fits: dict):
    """Fitted table next to truth.csv and the published Table S3 (as in the tutorial)."""
    import pandas as pd

    fitted = pd.concat([res.table.assign(sample=s) for s, res in fits.items()])
    truth = pd.read_csv("spectra/truth.csv")
    published = pd.read_csv("docs/table_s3.csv")
    keep = [
        "sample",
        "band",
        "label",
        "position",
        "position_err",
        "fwhm",
        "fwhm_err",
        "area_pct",
        "area_pct_err",
    ]
    comparison = (
        fitted[keep]
        .merge(
            truth[["sample", "band", "position", "fwhm", "area_pct"]],
            on=["sample", "band"],
            suffixes=("", "_truth"),
        )
        .merge(
            published.rename(
                columns={
                    "position_cm1": "position_s3",
                    "fwhm_cm1": "fwhm_s3",
                    "area_pct": "area_pct_s3",
                }
            )[["sample", "band", "position_s3", "fwhm_s3", "area_pct_s3"]],
            on=["sample", "band"],
        )
    )
    return comparison


def table_s3(ctx: Context) -> None:
    """The Table S3 tutorial: raw spectra, fits, comparison table and figure."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from nmcraman import deconvolve, read_spectrum

    files = {"Core_75": "spectra/core_75.txt", "CS_75": "spectra/cs_75.txt"}

    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    for sample, path in files.items():
        s = read_spectrum(path)
        ax.plot(s.x, s.y, lw=0.8, label=f"{path} ({sample}-like)")
    ax.set_xlabel("Raman shift (cm$^{-1}$)")
    ax.set_ylabel("Intensity (counts)")
    ax.legend(frameon=False, fontsize=8)
    ctx.fig(fig, "table_s3_raw.png")

    fits = {sample: deconvolve(path) for sample, path in files.items()}
    fig, axes = plt.subplots(
        2, 2, figsize=(11, 5.2), sharex=True, height_ratios=(4, 1), layout="constrained"
    )
    for k, (sample, res) in enumerate(fits.items()):
        res.plot(ax=(axes[0, k], axes[1, k]), title=f"{files[sample]}: {len(res.table)} bands")
    ctx.fig(fig, "table_s3_fits.png")

    cov = fits["CS_75"].covariance
    names = ["Mn_Eg_area", "LO_RS_area", "Mn_A1g_area"]
    sd = np.sqrt(np.diag(cov.loc[names, names]))
    ctx.text(
        "table_s3_correlation.txt", (cov.loc[names, names] / np.outer(sd, sd)).round(2).to_string()
    )
    comp = table_s3_comparison(fits)
    cols = ["sample", "band", "area_pct", "area_pct_err", "area_pct_truth", "area_pct_s3", "z_area"]
    z_frame = comp.assign(z_area=(comp.area_pct - comp.area_pct_truth) / comp.area_pct_err)
    ctx.text("table_s3_z.txt", z_frame[cols].round(1).to_string())
    # The example spectra were made from the published numbers: the two columns must
    # agree, or the figure's "truth = Table S3" label would be wrong.
    for q in ("position", "fwhm", "area_pct"):
        if not np.allclose(comp[f"{q}_truth"], comp[f"{q}_s3"], atol=0.051):
            raise RuntimeError(f"truth.csv and table_s3.csv differ in {q}; update the docs.")
    rows = [
        {
            "Sample": r.sample,
            "Band": r.label,
            "Position fit": _fmt(r.position, r.position_err),
            "Position truth": _fmt(r.position_truth),
            "Position S3": _fmt(r.position_s3),
            "FWHM fit": _fmt(r.fwhm, r.fwhm_err),
            "FWHM truth": _fmt(r.fwhm_truth),
            "FWHM S3": _fmt(r.fwhm_s3),
            "Area % fit": _fmt(r.area_pct, r.area_pct_err),
            "Area % truth": _fmt(r.area_pct_truth),
            "Area % S3": _fmt(r.area_pct_s3),
        }
        for r in comp.itertuples()
    ]
    ctx.csv("table_s3_comparison.csv", pd.DataFrame(rows))
    choice = [
        f"- ``{files[s]}``: ``{res.model_choice['chosen']}`` chosen by BIC, better by"
        f" {res.model_choice['margin']:.1f}"
        for s, res in fits.items()
    ]
    ctx.text("table_s3_choice.rst", "\n".join(choice))
    z = (comp["area_pct"] - comp["area_pct_truth"]) / comp["area_pct_err"]
    inside = int((z.abs() <= 1).sum())
    ctx.text(
        "table_s3_coverage.rst",
        f"On these two spectra the truth lies within the 1-sigma error for {inside} of"
        f" {len(z)} area fractions and within 2 sigma for {int((z.abs() <= 2).sum())}.",
    )

    fig, axes = plt.subplots(2, 3, figsize=(11, 5.6), layout="constrained")
    for i, (sample, sub) in enumerate(comp.groupby("sample", sort=False)):
        pos = np.arange(len(sub))
        for j, (q, unit) in enumerate(
            (("position", "cm$^{-1}$"), ("fwhm", "cm$^{-1}$"), ("area_pct", "%"))
        ):
            ax = axes[i, j]
            ax.errorbar(
                pos,
                sub[q],
                yerr=sub[f"{q}_err"],
                fmt="o",
                color="C0",
                ms=4,
                capsize=2,
                label="fit ± 1 sigma",
            )
            ax.plot(pos, sub[f"{q}_s3"], "x", color="k", ms=6, label="truth = Table S3")
            ax.set_xticks(pos, sub["label"], rotation=45, ha="right", fontsize=8)
            ax.set_ylabel(f"{q.replace('_pct', ' %')} ({unit})", fontsize=9)
            ax.set_title(sample, fontsize=9)
    axes[0, 0].legend(fontsize=8, frameon=False)
    ctx.fig(fig, "table_s3_compare.png")


def _bands_module():
    # ``import nmcraman.bands`` gives the function nmcraman.bands, not the module.
    import importlib

    return importlib.import_module("nmcraman.bands")


def _reference_keys() -> list[str]:
    nb = _bands_module()
    return re.findall(r"^\.\. \[(\w+)\]", nb.__doc__ or "", flags=re.M)


def bands(ctx: Context) -> None:
    """The table of every preset band with its literature source, from nmcraman.BANDS."""
    import matplotlib.pyplot as plt

    from nmcraman import BANDS, PRESETS, deconvolve

    nb = _bands_module()
    keys = _reference_keys()
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, keys)) + r")\b") if keys else None

    def cite(text: str) -> str:
        text = text.replace("*", r"\*")
        return pattern.sub(r"[\1]_", text) if pattern else text

    lines = [
        ".. list-table:: Band priors (``nmcraman.BANDS``), all in cm-1",
        "   :header-rows: 1",
        "   :widths: 9 9 9 7 9 7 9 41",
        "",
        "   * - id",
        "     - label",
        "     - presets",
        "     - centre",
        "     - window",
        "     - FWHM",
        "     - FWHM range",
        "     - source",
    ]
    for b in BANDS.values():
        presets = ", ".join(f"``{p}``" for p, ids in PRESETS.items() if b.id in ids) or "(none)"
        lines += [
            f"   * - ``{b.id}``",
            f"     - {b.label}",
            f"     - {presets}",
            f"     - {b.centre:g}",
            f"     - {b.window[0]:g} to {b.window[1]:g}",
            f"     - {b.fwhm:g}",
            f"     - {b.fwhm_range[0]:g} to {b.fwhm_range[1]:g}",
            f"     - {cite(b.reference) or '(none given)'}",
        ]
    ctx.text("bands_table.rst", "\n".join(lines))
    doc = nb.__doc__ or ""
    marker = "References\n----------\n"
    refs = doc.split(marker, 1)[1] if marker in doc else ""
    ctx.text("bands_references.rst", refs.strip("\n") or "(no references in nmcraman.bands)")

    res = deconvolve("spectra/cs_75.txt", bands="nmc+lo")
    fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    ax.plot(
        res.x, res.y - res.baseline, ".", ms=2, color="0.5", label="cs_75.txt minus fitted baseline"
    )
    top = float((res.y - res.baseline).max())
    for k, b in enumerate(BANDS.values()):
        level = top * (1.08 + 0.07 * k)
        ax.plot(b.window, [level, level], lw=5, alpha=0.45, color=f"C{k}", solid_capstyle="butt")
        ax.plot([b.centre], [level], "|", ms=12, color=f"C{k}", mew=2)
        ax.text(b.window[1] + 6, level, b.id, va="center", fontsize=8)
    ax.set_xlim(res.x[0], res.x[-1])
    ax.set_xlabel("Raman shift (cm$^{-1}$)")
    ax.set_ylabel("Intensity (counts)")
    ax.set_title("Prior centre windows (bars) and starting centres (ticks)", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ctx.fig(fig, "bands_priors.png")


#: Baseline strategies compared on the baselines page: label -> deconvolve keywords.
#: Baselines compared on the same window (the prior windows widened by 150 cm-1).
BASELINE_METHODS = {
    "poly3 (joint)": {"baseline": "poly3", "window": "bands"},
    "asls, subtract then fit": {"baseline": "asls", "refine": -1, "window": "bands"},
    "snip, subtract then fit": {"baseline": "snip", "refine": -1, "window": "bands"},
    "asls + joint linear": {"baseline": "asls", "refine": 1, "window": "bands"},
    "snip + joint linear": {"baseline": "snip", "refine": 1, "window": "bands"},
}


def baselines(ctx: Context) -> None:
    """Bias of subtract-then-fit against the joint baseline, on the same spectra."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from nmcraman import deconvolve
    from nmcraman.synthetic import perturb, simulate

    n = 3 if ctx.quick else 20
    rng = np.random.default_rng(SEED_BASELINES)
    rows = []
    for sample, preset in (("Core_75", "nmc"), ("CS_75", "nmc+lo")):
        for _ in range(n):
            s = simulate(perturb(sample, rng), snr=100, rng=rng)
            truth = s.truth.set_index("band")
            true_pct = 100 * truth["area"] / truth["area"].sum()
            for method, kw in BASELINE_METHODS.items():
                t = deconvolve(s.x, s.y, bands=preset, **kw).table.set_index("band")
                for band in t.index:
                    rows.append(
                        {
                            "method": method,
                            "sample": sample,
                            "band": band,
                            "position": t.position[band] - truth.position[band],
                            "fwhm": t.fwhm[band] - truth.fwhm[band],
                            "area_pct": t.area_pct[band] - true_pct[band],
                        }
                    )
    err = pd.DataFrame(rows)

    summary = []
    for method, sub in err.groupby("method", sort=False):
        row = {"Baseline": method, "spectra": 2 * n}
        for q, name in (("position", "position"), ("fwhm", "FWHM"), ("area_pct", "area %")):
            row[f"RMSE {name}"] = f"{np.sqrt(np.mean(sub[q] ** 2)):.1f}"
        per_band = sub.groupby("band")[["fwhm", "area_pct"]].mean().abs()
        row["worst band bias FWHM"] = f"{per_band['fwhm'].max():.1f}"
        row["worst band bias area %"] = f"{per_band['area_pct'].max():.1f}"
        summary.append(row)
    ctx.csv("baselines_summary.csv", pd.DataFrame(summary))

    shown = list(BASELINE_METHODS)[:3]
    band_order = ["Ni_Eg", "Co_Eg", "Co_A1g", "Ni_A1g", "Mn_Eg", "LO_RS", "Mn_A1g"]
    fig, axes = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True, layout="constrained")
    width = 0.26
    for ax, q, label in (
        (axes[0], "fwhm", "FWHM error (cm$^{-1}$)"),
        (axes[1], "area_pct", "area % error (points)"),
    ):
        for k, method in enumerate(shown):
            sub = err[err.method == method]
            data = [sub[sub.band == b][q].to_numpy() for b in band_order]
            pos = np.arange(len(band_order)) + (k - 1) * width
            bp = ax.boxplot(
                data,
                positions=pos,
                widths=width * 0.85,
                patch_artist=True,
                showfliers=False,
                medianprops={"color": "k"},
            )
            for box in bp["boxes"]:
                box.set_facecolor(f"C{k}")
                box.set_alpha(0.7)
            ax.plot([], [], "s", color=f"C{k}", alpha=0.7, label=method)
        ax.axhline(0, color="0.3", lw=0.7)
        ax.set_ylabel(label)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, frameon=False, fontsize=8, ncol=3, loc="outside upper center")
    axes[1].set_xticks(np.arange(len(band_order)), band_order)
    axes[0].set_title(
        f"Fit minus truth on the same {2 * n} synthetic spectra (SNR 100, fluorescence"
        " background); boxes: quartiles, whiskers: 1.5 IQR",
        fontsize=9,
    )
    ctx.fig(fig, "baseline_bias.png")


def lineshapes(ctx: Context) -> None:
    """Profiles of the three line shapes, and fits of each shape with each shape."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from nmcraman import deconvolve
    from nmcraman.lineshapes import LINESHAPES
    from nmcraman.synthetic import simulate

    x = np.linspace(400, 600, 801)
    fig, ax = plt.subplots(figsize=(6.5, 3.4), layout="constrained")
    for name, f in LINESHAPES.items():
        ax.plot(
            x,
            f(x, 100.0, 500.0, 40.0),
            label=name.replace("_", "-") + (" (eta 0.5)" if name == "pseudo_voigt" else ""),
        )
    ax.set_xlabel("Raman shift (cm$^{-1}$)")
    ax.set_ylabel("intensity")
    ax.set_title("Same area (100), centre (500) and FWHM (40 cm$^{-1}$)", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    ctx.fig(fig, "lineshapes.png")

    repeats = 1 if ctx.quick else 3
    rows = []
    for true_shape in LINESHAPES:
        s = simulate("CS_75", shape=true_shape, snr=150, rng=SEED_SHAPES)
        for fit_shape in LINESHAPES:
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                res = deconvolve(s.x, s.y, bands="nmc+lo", shape=fit_shape)
                times.append(time.perf_counter() - t0)
            tab = res.table.set_index("band")
            truth = s.truth.set_index("band").loc[tab.index]
            true_pct = 100 * truth["area"] / truth["area"].sum()
            rows.append(
                {
                    "spectrum made with": true_shape,
                    "fitted with": fit_shape,
                    "BIC": f"{res.stats['bic']:.0f}",
                    "RMSE FWHM": f"{np.sqrt(np.mean((tab.fwhm - truth.fwhm) ** 2)):.1f}",
                    "RMSE area %": f"{np.sqrt(np.mean((tab.area_pct - true_pct) ** 2)):.1f}",
                    "iterations": res.stats["n_iter"],
                    "ms per fit": f"{1000 * min(times):.0f}",
                }
            )
    ctx.csv("lineshapes_fits.csv", pd.DataFrame(rows))


def model_choice(ctx: Context) -> None:
    """Residuals and scores with and without the LO band on the example spectra."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from nmcraman import deconvolve

    fig, axes = plt.subplots(2, 1, figsize=(7.5, 4.8), sharex=True, layout="constrained")
    score_rows = []
    for ax, path in zip(axes, ("spectra/core_75.txt", "spectra/cs_75.txt"), strict=True):
        res = deconvolve(path)
        mc = res.model_choice
        pair = {
            mc["chosen"]: res,
            next(k for k in mc["scores"] if k != mc["chosen"]): mc["alternative"],
        }
        for k, preset in enumerate(("nmc", "nmc+lo")):
            r = pair[preset]
            ax.plot(
                r.x,
                r.residual,
                lw=0.8,
                color=f"C{k}",
                alpha=0.85,
                label=f"{preset}: BIC {r.stats['bic']:.0f}",
            )
            score_rows.append(
                {
                    "spectrum": path,
                    "bands": preset,
                    "n params": r.stats["n_params"],
                    "chi2": f"{r.stats['chi2']:.0f}",
                    "AIC": f"{r.stats['aic']:.1f}",
                    "BIC": f"{r.stats['bic']:.1f}",
                    "chosen": "yes" if preset == mc["chosen"] else "",
                }
            )
        ax.axvspan(550, 585, color="0.85", zorder=0)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_ylabel("residual (counts)")
        ax.set_title(f"{path}: auto chose {mc['chosen']}", fontsize=9)
        ax.legend(frameon=False, fontsize=8, loc="upper right")
    axes[1].set_xlabel("Raman shift (cm$^{-1}$); shaded: LO_RS window")
    ctx.fig(fig, "model_choice_residuals.png")
    ctx.csv("model_choice_scores.csv", pd.DataFrame(score_rows))


def maps(ctx: Context) -> None:
    """The core-shell map: parameter, ratio, model and flag images, and flag counts."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from matplotlib.colors import ListedColormap

    from nmcraman import deconvolve_map
    from nmcraman.results.map import QC_FLAGS
    from nmcraman.synthetic import core_shell_map

    size = 12 if ctx.quick else 40
    cube, x, truth = core_shell_map(size, size, corrupt=0.03, rng=SEED_MAP)
    t0 = time.perf_counter()
    m = deconvolve_map(cube, x)
    seconds = time.perf_counter() - t0

    ctx.text(
        "maps_timing.rst",
        f"On the machine that built these pages, ``deconvolve_map`` fitted the"
        f" {size} x {size} map (both presets, {size * size} pixels each) in"
        f" {seconds:.1f} s on {os.cpu_count()} threads.",
    )

    mn = m.image("area_pct", band="Mn_A1g")
    true_mn = truth["area_pct"][..., list(truth["bands"]).index("Mn_A1g")]
    parts = []
    for place, where in (
        ("in the core", truth["fraction"] == 0),
        ("at the rim", truth["fraction"] == 1),
    ):
        parts.append(
            f"{np.nanmedian(mn[where]):.1f} % {place} (truth {np.median(true_mn[where]):.1f} %)"
        )
    ctx.text(
        "maps_medians.rst",
        "The median fitted Mn A\\ :sub:`1g` share is " + " and ".join(parts) + ".",
    )

    fig, axes = plt.subplots(2, 3, figsize=(11, 6.6), layout="constrained")
    panels = [
        (truth["fraction"], "truth: shell fraction (0 core, 1 rim)", "viridis"),
        (m.image("area_pct", band="Mn_A1g"), "area % Mn_A1g", "viridis"),
        (m.image("area_pct", band="LO_RS"), "area % LO_RS (NaN where nmc chosen)", "viridis"),
        (m.ratio("Mn_A1g", "Co_A1g"), "area ratio Mn_A1g / Co_A1g", "magma"),
    ]
    for ax, (img, title, cmap) in zip(axes.flat, panels, strict=False):
        # Colour limits from the 2nd to 98th percentile: a few poor pixels would
        # otherwise squeeze the scale.
        lo, hi = np.nanpercentile(img, [2, 98])
        im = ax.imshow(img, origin="upper", interpolation="nearest", cmap=cmap, vmin=lo, vmax=hi)
        fig.colorbar(im, ax=ax, shrink=0.85)
        ax.set_title(title, fontsize=9)
    model = m.image("model")
    codes = np.select([model == "nmc", model == "nmc+lo"], [1, 2], 0)
    ax = axes[1, 1]
    im = ax.imshow(
        codes,
        origin="upper",
        interpolation="nearest",
        vmin=-0.5,
        vmax=2.5,
        cmap=ListedColormap(["0.2", "C1", "C0"]),
    )
    cb = fig.colorbar(im, ax=ax, ticks=[0, 1, 2], shrink=0.85)
    cb.ax.set_yticklabels(["skipped", "nmc", "nmc+lo"])
    ax.set_title("model chosen per pixel (BIC)", fontsize=9)
    flags = m.image("flags")
    hard = [n for n in QC_FLAGS if not n.startswith("band_")]
    cat = np.zeros(flags.shape, dtype=int)
    for k, name in enumerate(hard, start=1):
        bit = 1 << QC_FLAGS.index(name)
        cat = np.where((cat == 0) & ((flags & bit) != 0), k, cat)
    ax = axes[1, 2]
    colours = ["#e8e8e8", "k", "C3", "C1", "C4", "C2", "C9"][: len(hard) + 1]
    im = ax.imshow(
        cat,
        origin="upper",
        interpolation="nearest",
        vmin=-0.5,
        vmax=len(hard) + 0.5,
        cmap=ListedColormap(colours),
    )
    cb = fig.colorbar(im, ax=ax, ticks=range(len(hard) + 1), shrink=0.85)
    cb.ax.set_yticklabels(["no pixel flag", *hard], fontsize=7)
    ax.set_title("QC flags (band_* flags not shown)", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    ctx.fig(fig, "map_images.png")

    counts = [
        {"flag": name, "bit": 1 << i, "pixels": int(((m.stats["flags"] >> i) & 1).sum())}
        for i, name in enumerate(QC_FLAGS)
    ]
    damage = pd.Series(truth["corrupted"].ravel()).value_counts()
    ctx.csv("maps_flag_counts.csv", pd.DataFrame(counts))
    ctx.text(
        "maps_damage.rst",
        "The map was damaged on purpose in "
        + ", ".join(
            f"{int(damage.get(k, 0))} pixels ({k})" for k in ("nan", "zero", "saturated", "spike")
        )
        + ".",
    )
    unresolved = {b: int(((m.band_flags[:, i] & 4) > 0).sum()) for i, b in enumerate(m.bands)}
    ctx.csv(
        "maps_unresolved.csv",
        pd.DataFrame(
            {"band": list(unresolved), "pixels flagged unresolved": list(unresolved.values())}
        ),
    )


def cli(ctx: Context) -> None:
    """Help texts and outputs of the command line, captured from nmcraman.cli.main."""
    import tempfile

    import pandas as pd

    from nmcraman.cli import main

    def run(args: list[str]) -> tuple[int, str]:
        out = io.StringIO()
        before = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "88"  # argparse wraps help to the terminal width
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
                code = main(args)
        finally:
            if before is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = before
        return code, out.getvalue()

    for name, args in (
        ("cli_help.txt", ["--help"]),
        ("cli_fit_help.txt", ["fit", "--help"]),
        ("cli_bands_help.txt", ["bands", "--help"]),
        ("cli_bands.txt", ["bands", "nmc+lo"]),
        ("cli_calibrate_help.txt", ["calibrate", "--help"]),
        (
            "cli_calibrate.txt",
            ["calibrate", str(ROOT / "tests" / "data" / "silicon_horiba633.txt")],
        ),
    ):
        code, text = run(args)
        if code != 0:
            raise RuntimeError(f"nmcraman {' '.join(args)} exited {code}")
        ctx.text(name, text)
    code, text = run(["map", "--help"])
    ctx.text(
        "cli_map_help.txt",
        text if code == 0 else "nmcraman map is documented in `nmcraman map --help`.",
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "table_s3_fit.csv"
        code, _ = run(
            [
                "fit",
                "spectra/core_75.txt",
                "spectra/cs_75.txt",
                "--format",
                "table-s3",
                "-o",
                str(out),
                "-q",
            ]
        )
        if code != 0:
            raise RuntimeError(f"nmcraman fit exited {code}")
        table = pd.read_csv(out)
    ctx.csv("cli_table_s3.csv", table.round(1).astype(object).where(table.notna(), ""))


def joint(ctx: Context) -> None:
    """Joint fit of a replicate set (report), and area % error against N (benchmark CSV)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from nmcraman import deconvolve_joint
    from nmcraman.synthetic import replicate_set

    spots = replicate_set("CS_75", 8, snr=100, rng=22)
    res = deconvolve_joint([(s.x, s.y) for s in spots], bands="nmc+lo")
    ctx.text("joint_report.txt", res.report() + "\n")
    bench = ROOT / "benchmarks" / "results" / "joint.csv"
    if not bench.is_file():
        raise RuntimeError(f"{bench} is missing; run python benchmarks/joint.py first.")
    df = pd.read_csv(bench)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4), sharey=True, layout="constrained")
    styles = {"single": "o-", "two-stage": "s--", "shape": "^-", "partial": "D-"}
    for ax, (snr, sub) in zip(axes, df.groupby("snr"), strict=True):
        for method, style in styles.items():
            curve = sub[sub["method"] == method].groupby("n")["rmse"].mean()
            ax.plot(curve.index, curve.to_numpy(), style, label=method)
        ax.set_xscale("log")
        ax.set_xticks([1, 2, 5, 10, 20], labels=["1", "2", "5", "10", "20"])
        ax.set_title(f"SNR {snr}")
        ax.set_xlabel("spectra fitted together")
    axes[0].set_ylabel("area % RMSE per spectrum")
    axes[0].legend(frameon=False)
    ctx.fig(fig, "joint_rmse.png")


def series(ctx: Context) -> None:
    """An operando series: Mn A1g position and area % per step against voltage."""
    import matplotlib.pyplot as plt
    import numpy as np
    import xarray as xr

    from nmcraman import deconvolve_map
    from nmcraman.synthetic import perturb, simulate

    steps, side = (4, 4) if ctx.quick else (12, 10)
    x = np.arange(150.0, 901.0)
    volts = np.linspace(3.6, 4.4, steps)
    moved = 580.3 - 8.0 * np.arange(steps) / (steps - 1)  # 8 cm-1 over the charge
    cube = np.empty((steps, side, side, x.size))
    true_pct = np.zeros(steps)  # each pixel's truth is drawn around Core_75's: their mean
    for t in range(steps):
        for i in range(side):
            for j in range(side):
                seed = SEED_SERIES + side * side * t + side * i + j
                truth = perturb("Core_75", seed, position=0.5, fwhm=0.02, area=0.05)
                mn = truth["band"] == "Mn_A1g"
                truth.loc[mn, "position"] = moved[t]
                true_pct[t] += truth.loc[mn, "area_pct"].item() / side**2
                cube[t, i, j] = simulate(truth, snr=100, rng=seed).y
    data = xr.DataArray(
        cube, dims=("time", "y", "x", "shift"), coords={"shift": x, "voltage": ("time", volts)}
    )
    m = deconvolve_map(data, bands="nmc", window="bands", baseline="poly3")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    for ax, param, want in zip(axes, ("position", "area_pct"), (moved, true_pct), strict=True):
        m.plot_trend(param, band="Mn_A1g", x="voltage", ax=ax)
        ax.plot(volts, want, "k--", linewidth=1, label="truth")
        ax.legend(frameon=False)
    ctx.fig(fig, "series_trend.png")


def html(ctx: Context) -> None:
    """Self-contained HTML pages of a fit, a joint set and a map (linked from docs/html.rst)."""
    from nmcraman import deconvolve, deconvolve_map
    from nmcraman.synthetic import core_shell_map

    side = 8 if ctx.quick else 30
    cube, x, _ = core_shell_map(side, side, corrupt=0.02, rng=SEED_MAP)
    for name, write in (
        ("fit_page.html", deconvolve("spectra/cs_75.txt").to_html),
        ("set_page.html", _html_set(2 if ctx.quick else 4).to_html),
        ("map_page.html", deconvolve_map(cube, x, pooling="phases").to_html),
    ):
        write(ctx.fig_dir / name, force=True)  # each docs build makes the pages again
        ctx.written.append(ctx.fig_dir / name)


def _html_set(n: int):
    """Joint fit of ``n`` synthetic CS_75 spots (seeds SEED_SHAPES + i)."""
    from nmcraman import deconvolve_joint
    from nmcraman.synthetic import simulate

    spots = [simulate("CS_75", snr=120, rng=SEED_SHAPES + i) for i in range(n)]
    return deconvolve_joint([(s.x, s.y) for s in spots], bands="nmc+lo")


def own_data(ctx: Context) -> None:
    """Axis calibration on the real Horiba 633 nm files of tests/data: the Si line as
    measured and corrected, and the polystyrene residuals after the correction."""
    import matplotlib.pyplot as plt
    import numpy as np

    from nmcraman import read_spectrum
    from nmcraman.calibration import SILICON_CM1, offset_from_polystyrene, offset_from_silicon

    si_file, ps_file = (f"tests/data/{name}" for name in CALIBRATION_FILES)
    si = offset_from_silicon(si_file)
    ps = offset_from_polystyrene(ps_file)
    raw = read_spectrum(si_file)
    near = np.abs(raw.x - SILICON_CM1) < 25
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), layout="constrained")
    ax1.plot(raw.x[near], raw.y[near], ".-", ms=3, color="0.5", label="as measured")
    ax1.plot(raw.x[near] + si.shift, raw.y[near], ".-", ms=3, color="C0",
             label=f"corrected ({si.shift:+.2f} cm-1)")  # fmt: skip
    ax1.axvline(SILICON_CM1, color="C3", lw=1, ls="--", label=f"Si {SILICON_CM1} cm-1")
    ax1.set(xlabel="Raman shift (cm-1)", ylabel="intensity (counts)",
            title="silicon_horiba633.txt")  # fmt: skip
    ax1.legend(fontsize=8)
    ax2.errorbar(ps.reference, ps.residuals, yerr=2 * ps.uncertainty, fmt="o", color="0.6",
                 capsize=3, label="2 sigma")  # fmt: skip
    ax2.errorbar(ps.reference, ps.residuals, yerr=ps.uncertainty, fmt="o", color="C0",
                 capsize=3, label="1 sigma")  # fmt: skip
    ax2.axhline(0, color="C3", lw=1, ls="--")
    ax2.set(xlabel="ASTM E1840 band (cm-1)", ylabel="corrected - reference (cm-1)",
            title=f"polystyrene_horiba633.txt, shift {ps.shift:+.2f} cm-1")  # fmt: skip
    ax2.legend(fontsize=8)
    ctx.fig(fig, "own_data_calibration.png")


#: Every step, in the order they run.
STEPS: dict[str, Callable[[Context], None]] = {
    "quickstart": quickstart,
    "table_s3": table_s3,
    "bands": bands,
    "baselines": baselines,
    "lineshapes": lineshapes,
    "model_choice": model_choice,
    "maps": maps,
    "cli": cli,
    "joint": joint,
    "series": series,
    "html": html,
    "own_data": own_data,
}


# --------------------------------------------------------------------------- staleness


def inputs() -> list[Path]:
    """Files whose change means the outputs must be made again."""
    files = [Path(__file__).resolve(), DOCS / "table_s3.csv"]
    files += sorted((ROOT / "nmcraman").rglob("*.py"))
    files += sorted((ROOT / "nmcraman" / "results" / "html" / "assets").glob("*"))
    files += sorted((ROOT / "spectra").glob("*"))
    files += [ROOT / "tests" / "data" / n for n in CALIBRATION_FILES]
    files += [ROOT / "benchmarks" / "results" / "joint.csv"]
    return [f for f in files if f.is_file()]


def digest() -> str:
    """Hash of the contents of `inputs` (content, not mtimes: git checkouts reset those)."""
    h = hashlib.sha256()
    for f in inputs():
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def stale() -> bool:
    """Tell whether the docs outputs are missing or older than their inputs."""
    try:
        stamp = json.loads(STAMP.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    if stamp.get("digest") != digest():
        return True
    return not all((DOCS / p).is_file() for p in stamp.get("outputs", []))


# --------------------------------------------------------------------------- main


def build(
    fig_dir: Path = FIG_DIR, gen_dir: Path = GEN_DIR, *, quick: bool = False, only=None
) -> list[Path]:
    """Run the steps (all, or those named in ``only``); return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    fig_dir.mkdir(parents=True, exist_ok=True)
    gen_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(fig_dir, gen_dir, quick)
    unknown = set(only or ()) - set(STEPS)
    if unknown:
        raise SystemExit(f"unknown step(s) {', '.join(sorted(unknown))}; use {', '.join(STEPS)}")
    with _in_root():
        for name, step in STEPS.items():
            if only and name not in only:
                continue
            t0 = time.perf_counter()
            step(ctx)
            print(f"make_figures: {name} {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return ctx.written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small versions (tests)")
    parser.add_argument("--out", type=Path, help="write everything into this folder")
    parser.add_argument("--only", nargs="+", metavar="STEP", help=f"some of {', '.join(STEPS)}")
    args = parser.parse_args(argv)
    if args.out:
        written = build(args.out, args.out, quick=args.quick, only=args.only)
    else:
        written = build(quick=args.quick, only=args.only)
        if not args.quick and not args.only:
            outputs = [str(p.relative_to(DOCS)) for p in written]
            STAMP.write_text(json.dumps({"digest": digest(), "outputs": outputs}, indent=1))
    print(f"make_figures: wrote {len(written)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
