"""How often ``bands="auto"`` picks the preset a spectrum was made with.

The study of docs/model_choice.rst ("How reliable is the choice?") with more spectra:
random truths around each Table S3 sample at `perturb`'s default spread, on a
fluorescence background, at each signal-to-noise ratio; every spectrum is fitted with
``bands="auto"`` and scored for both criteria (BIC is the default; the AIC choice is
read from the same two fits). Spectrum ``i`` of sample ``s`` at SNR ``r`` draws
everything from ``numpy.random.default_rng([seed, s, r, i])``.

Usage::

    python benchmarks/model_choice.py [--n 1000] [--snr 50 100 200] [--seed 1] [--quick]

Writes ``results/model_choice.md``. The default run (6000 spectra, two fits each)
takes about a minute on one core.
"""

# The thread limits below must be set before numpy is imported, hence imports below code.
# ruff: noqa: E402
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import datetime
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _tables import write_report

import nmcraman
from nmcraman import deconvolve
from nmcraman.choice import FIXED
from nmcraman.synthetic import perturb, simulate

#: Sample, its index in the seed, and the preset its truth belongs to.
SAMPLES = (("Core_75", 0, "nmc"), ("CS_75", 1, "nmc+lo"))


def choices(seed: int, sample: str, index: int, snr: float, n: int) -> tuple[int, int]:
    """Right choices by BIC and by AIC over ``n`` spectra of one sample and SNR."""
    right = {s: p for s, _, p in SAMPLES}[sample]
    hits = {"bic": 0, "aic": 0}
    for i in range(n):
        rng = np.random.default_rng([seed, index, int(snr), i])
        s = simulate(perturb(sample, rng), snr=snr, rng=rng)
        res = deconvolve(s.x, s.y, bands="auto", **FIXED)
        mc = res.model_choice
        other = next(k for k in mc["scores"] if k != mc["chosen"])
        aic = {mc["chosen"]: res.stats["aic"], other: mc["alternative"].stats["aic"]}
        hits["bic"] += mc["chosen"] == right
        hits["aic"] += min(aic, key=aic.get) == right
    return hits["bic"], hits["aic"]


def _pct(k: int, n: int) -> str:
    # The normal-approximation standard error of a binomial share, in points.
    se = 100 * np.sqrt(max(k * (n - k), 1) / n**3)
    return f"{100 * k / n:.1f} ± {se:.1f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000, help="spectra per sample and SNR")
    p.add_argument("--snr", type=float, nargs="+", default=[50, 100, 200])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="10 spectra per cell, a smoke test")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    n = 10 if args.quick else args.n
    command = "python benchmarks/model_choice.py " + shlex.join(argv or sys.argv[1:])
    t0 = time.perf_counter()
    rows = []
    for sample, index, right in SAMPLES:
        for snr in args.snr:
            bic, aic = choices(args.seed, sample, index, snr, n)
            rows.append(
                {
                    "truth": f"{sample} ({right})",
                    "SNR": f"{snr:g}",
                    "spectra": n,
                    "BIC right": bic,
                    "BIC right %": _pct(bic, n),
                    "AIC right": aic,
                    "AIC right %": _pct(aic, n),
                }
            )
    wall = time.perf_counter() - t0
    table = pd.DataFrame(rows)
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * table.shape[1]]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in table.itertuples(index=False)]
    write_report(
        args.out,
        "model_choice.md",
        [
            "# Automatic model choice: right choices at perturb's default spread",
            "",
            f"- command: `{command.strip()}`",
            f"- date: {datetime.date.today()}; nmcraman {nmcraman.__version__}, numpy"
            f" {np.__version__}, Python {platform.python_version()}; {wall:.0f} s",
            "- spectra: `simulate(perturb(sample, rng), snr=SNR, rng=rng)` (position sd"
            " 4 cm-1, FWHM sd 15 %, area sd 25 %; fluorescence background), fitted with"
            ' `deconvolve(x, y, bands="auto", window="bands", baseline="poly3")`',
            "- right %: share of spectra for which the criterion chose the preset the"
            " truth was made with, ± its binomial standard error",
            "",
            *lines,
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
