"""How many starts nmcraman needs: the start rules compared on held-out spectra.

Fits the benchmark's kind of spectra, drawn with other seeds than `run.py` uses (so
the rules are not judged on the spectra they were tuned on), with three start rules:

- ``default``: the starts in turn until the best minimum is not trapped;
- ``all``: every start (``FitOptions(all_starts=True)``);
- ``1start``: one start (``FitOptions(width_scales=(0.7,))``).

For each it prints the iterations per spectrum, the RMSE against the truth and how
often, and by how much, its chi-square is above that of every start (in units of the
noise variance, whose spread over a fit is about sqrt(2 n) ~ 35).

Usage::

    python benchmarks/starts.py [--seeds 1 2 3 4 5] [--n 10]

Writes ``results/starts.md``. Takes about 10 s for the default 600 spectra.
"""

# The thread limits below must be set before numpy is imported, hence imports below code.
# ruff: noqa: E402
from __future__ import annotations

import os

# One core per fit, as in run.py.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import run
from _tables import markdown, write_report

from nmcraman import FitOptions, deconvolve
from nmcraman.choice import FIXED

RULES = {
    "default": FitOptions(),
    "all": FitOptions(all_starts=True),
    "1start": FitOptions(width_scales=(0.7,)),
}


def fit_all(cases, options: FitOptions):
    """Records, chi-squares, point counts and iterations of every case."""
    for c in cases[:2]:  # numba compiles or loads its cache
        deconvolve(c.x, c.y, bands=c.preset, options=options, **FIXED)
    records, chi2, points, iters = [], [], [], []
    for c in cases:
        t0 = time.perf_counter()
        res = deconvolve(c.x, c.y, bands=c.preset, options=options, **FIXED)
        t = res.table
        dt = time.perf_counter() - t0
        fit = run.fit_frame(t["band"], t["position"], t["fwhm"], t["area"])
        records.append(run.Record("nmcraman", c, dt, res.stats["converged"], fit))
        chi2.append(res.stats["chi2"])
        points.append(res.stats["n_points"])
        iters.append(res.stats["n_iter"])
    return records, np.array(chi2), np.array(points), np.array(iters)


def compare(cases) -> pd.DataFrame:
    out = {name: fit_all(cases, opt) for name, opt in RULES.items()}
    _, ref, points, _ = out["all"]
    noise_var = ref / points  # the all-starts fit's mean squared residual
    rows = []
    for name, (records, chi2, _, iters) in out.items():
        row = run.summary_row(name, "all", records)
        excess = (chi2 - ref) / noise_var
        worse = np.sort(excess[excess > 1e-3])
        rows.append(
            {
                "rule": name,
                "spectra": row["n"],
                "iterations": float(np.mean(iters)),
                "ms median": row["ms_median"],
                "RMSE pos": row["rmse_position"],
                "RMSE FWHM": row["rmse_fwhm"],
                "RMSE area %": row["rmse_area_pct"],
                "chi2 above all": int(worse.size),
                "by > 1": int(np.sum(worse > 1.0)),
                "largest excess": float(worse[-1]) if worse.size else 0.0,
            }
        )
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--n", type=int, default=10, help="spectra per sample x background x SNR")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    if run.SEED in args.seeds:
        p.error(f"seed {run.SEED} is run.py's benchmark seed; pick held-out seeds")
    cases = [c for seed in args.seeds for c in run.make_cases(args.n, seed=seed)]
    table = compare(cases)
    write_report(
        args.out,
        "starts.md",
        [
            "# nmcraman start rules on held-out spectra",
            "",
            f"- spectra: {len(cases)} (seeds {', '.join(map(str, args.seeds))}, {args.n} per"
            " sample x background x SNR, as in run.py); Lorentzian bands, cubic baseline",
            "- chi2 above all: spectra whose chi-square exceeds that of every start by more"
            " than 1e-3 noise variances (by > 1: by more than 1); largest excess in noise"
            " variances (the noise alone spreads a chi-square by about 35)",
            "- RMSE against the truth: position and FWHM cm-1, area % points",
            "",
            *markdown(table),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
