"""How often the truth lies inside nmcraman's 1- and 2-sigma error bars.

Each seed block is the recipe of ``test_errors_are_honest_over_100_noisy_spectra``
(tests/test_fit.py) with another first seed: spectrum ``i`` of the block with seed
``S`` draws everything from ``numpy.random.default_rng(S + i)``; samples alternate
Core_75-like (fitted with ``bands="nmc"``) and CS_75-like (``bands="nmc+lo"``); the
signal-to-noise ratio is uniform in 50 to 200; the truth is ``perturb(sample, rng)``
on a fluorescence background. Gaussian and pseudo-Voigt spectra are fitted with
their own shape (the pseudo-Voigt's eta is drawn uniform in 0.1 to 0.9 and fitted).

For every band of every spectrum and each of position, FWHM and area %, the
z-score ``(fit - truth) / error`` is computed; the coverage is the fraction with
``|z| < 1`` (nominal 68.3 % for Gaussian errors) and ``|z| < 2`` (95.4 %). The
spread of the coverage over the blocks is what a block of the test's size can show
by chance.

Usage::

    python benchmarks/error_coverage.py [--seeds 1000 2000 ...] [--n 100] [--quick]

Writes ``results/coverage.md`` and ``results/coverage.csv`` (one row per shape, block
and quantity). The default run (8 blocks x 100 spectra x 3 shapes) takes about
a minute on one core.
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
from _tables import markdown, write_report

import nmcraman
from nmcraman import deconvolve
from nmcraman.choice import FIXED
from nmcraman.synthetic import perturb, simulate

SHAPES = ("lorentzian", "gaussian", "pseudo_voigt")
QUANTITIES = ("position", "fwhm", "area_pct")
PRESET = {"Core_75": "nmc", "CS_75": "nmc+lo"}
#: Gaussian coverage of |z| < 1 and |z| < 2, %.
NOMINAL = {1: 68.27, 2: 95.45}


def z_scores(seed: int, sample: str, shape: str) -> pd.DataFrame:
    """z = (fit - truth) / error of every band of spectrum ``seed``, with its flag."""
    rng = np.random.default_rng(seed)
    snr = rng.uniform(50, 200)
    eta = rng.uniform(0.1, 0.9) if shape == "pseudo_voigt" else 0.5
    s = simulate(perturb(sample, rng), shape=shape, eta=eta, snr=snr, rng=rng)
    t = deconvolve(s.x, s.y, bands=PRESET[sample], shape=shape, **FIXED).table
    truth = s.truth.set_index("band").loc[t["band"]]
    z = {q: (t[q].to_numpy() - truth[q].to_numpy()) / t[f"{q}_err"].to_numpy() for q in QUANTITIES}
    return pd.DataFrame({**z, "flag": t["flag"].to_numpy()})


def block(first: int, n: int, shape: str) -> pd.DataFrame:
    """z-scores of the ``n`` spectra with seeds ``first`` to ``first + n - 1``."""
    return pd.concat(
        [z_scores(first + i, ("Core_75", "CS_75")[i % 2], shape) for i in range(n)],
        ignore_index=True,
    )


def measure(seeds: list[int], n: int, shapes: tuple[str, ...]) -> pd.DataFrame:
    """Coverage (%) at 1 and 2 sigma per shape, block and quantity."""
    rows = []
    for shape in shapes:
        for first in seeds:
            z = block(first, n, shape)
            for q in QUANTITIES:
                a = z[q].abs()
                rows.append(
                    {
                        "shape": shape,
                        "block": first,
                        "quantity": q,
                        "values": len(a),
                        "cov1": 100 * float((a < 1).mean()),
                        "cov2": 100 * float((a < 2).mean()),
                        "beyond3": 100 * float((a >= 3).mean()),
                        "median_abs_z": float(a.median()),
                        "cov1_ok": 100 * float((a[z["flag"] == "ok"] < 1).mean()),
                        "cov2_ok": 100 * float((a[z["flag"] == "ok"] < 2).mean()),
                    }
                )
    return pd.DataFrame(rows)


def summary(per_block: pd.DataFrame) -> pd.DataFrame:
    """Mean, smallest and largest coverage over the blocks, per shape and quantity."""
    rows = []
    for (shape, q), g in per_block.groupby(["shape", "quantity"], sort=False):
        rows.append(
            {
                "shape": shape,
                "quantity": q,
                "blocks": len(g),
                "1 sigma %": f"{g.cov1.mean():.1f}",
                "1 sigma range": f"{g.cov1.min():.1f} to {g.cov1.max():.1f}",
                "1 sigma sd": f"{g.cov1.std(ddof=1):.1f}" if len(g) > 1 else "",
                "2 sigma %": f"{g.cov2.mean():.1f}",
                "2 sigma range": f"{g.cov2.min():.1f} to {g.cov2.max():.1f}",
                "2 sigma sd": f"{g.cov2.std(ddof=1):.1f}" if len(g) > 1 else "",
                "beyond 3 sigma %": f"{g.beyond3.mean():.1f}",
                "median abs z": f"{g.median_abs_z.mean():.2f}",
                "ok bands 1 / 2 sigma %": f"{g.cov1_ok.mean():.1f} / {g.cov2_ok.mean():.1f}",
            }
        )
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000],
        help="first seed of each block (5000 is the test's block)",
    )
    p.add_argument("--n", type=int, default=100, help="spectra per block (the test fits 100)")
    p.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    p.add_argument("--quick", action="store_true", help="2 blocks of 10 spectra, a smoke test")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.n = args.seeds[:2], 10
    gaps = np.diff(sorted(args.seeds))
    if gaps.size and gaps.min() < args.n:
        p.error("blocks overlap: seeds must be at least --n apart")
    command = "python benchmarks/error_coverage.py " + shlex.join(argv or sys.argv[1:])
    t0 = time.perf_counter()
    per_block = measure(args.seeds, args.n, tuple(args.shapes))
    wall = time.perf_counter() - t0
    write_report(
        args.out,
        "coverage.md",
        [
            "# Coverage of nmcraman's error bars",
            "",
            f"- command: `{command.strip()}`",
            f"- date: {datetime.date.today()}; nmcraman {nmcraman.__version__}, numpy"
            f" {np.__version__}, Python {platform.python_version()}; {wall:.0f} s",
            f"- blocks: first seeds {', '.join(map(str, args.seeds))}; {args.n} spectra"
            " each (Core_75- and CS_75-like alternating, SNR uniform 50 to 200, random"
            " truths from `perturb`, fluorescence background; pseudo-Voigt eta uniform"
            " 0.1 to 0.9, fitted); one value per band and spectrum",
            f"- 1 sigma %, 2 sigma %: mean over the blocks of the share of |z| < 1 and"
            f" |z| < 2, z = (fit - truth) / error; nominal {NOMINAL[1]} and {NOMINAL[2]}"
            " for Gaussian errors. range, sd: smallest and largest block, standard"
            " deviation over blocks",
            "- beyond 3 sigma %: share of |z| >= 3 (nominal 0.27); median abs z: nominal"
            " 0.67; ok bands: the coverage over bands flagged `ok` only",
            "",
            *markdown(summary(per_block)),
        ],
    )
    per_block.round(3).to_csv(args.out / "coverage.csv", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
