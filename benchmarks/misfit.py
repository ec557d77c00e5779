"""The misfit check of pooled fits (`nmcraman.misfit`): false alarms and detection, measured.

Usage::

    python benchmarks/misfit.py [--maps 12] [--size 24] [--sets 100] [--out benchmarks/results]

Measures, with the fixed model (``window="bands", baseline="poly3"``):

- the false-alarm rate of the test statistic alone, on residuals of fits to pure noise
  (white noise with a cubic and seven band amplitudes projected out), N = 3 to 300
  spectra per pool, at levels 0.05, 0.01 and `MISFIT_ALPHA`;
- the same on well-specified pools: the phases of core-shell maps fitted with
  ``bands="nmc+lo"`` (every pixel's truth within the model; fluorescence backgrounds),
  and joint sets of 5 and 10 jittered Core_75 spots fitted with ``bands="nmc"``
  (partial pooling);
- detection: the share of pixels flagged among those given a band at 625 cm-1 (FWHM
  40) in the rim, and among all when a hump at 400 cm-1 (FWHM 140 cm-1, half the bands'
  height) is under every pixel; the share of joint sets flagged with the band in every
  spot.

Writes ``misfit.md`` into the output folder, headed by the command that made it.
About ten minutes on two busy cores.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np
from _tables import write_report

from nmcraman import deconvolve_joint, deconvolve_map
from nmcraman.misfit import MISFIT_ALPHA, mean_residual_test, moments
from nmcraman.results.map import QC_FLAGS
from nmcraman.synthetic import core_shell_map, replicate_set

FIXED = {"window": "bands", "baseline": "poly3"}
LEVELS = (0.05, 0.01, MISFIT_ALPHA)
MISFIT = 1 << QC_FLAGS.index("model_misfit")
X = np.arange(180.0, 776.0)
BANDS = [(475, 40), (500, 50), (550, 60), (590, 70), (600, 50), (625, 40), (660, 60)]


def band(x, height):
    """The spinel-like band at 625 cm-1 (FWHM 40) that the model lacks."""
    return height / (1.0 + ((x - 625.0) / 20.0) ** 2)


def hump(x):
    return 500.0 * np.exp(-0.5 * ((x - 400.0) / 60.0) ** 2)


def rates(p) -> list[str]:
    p = np.asarray(p, dtype=float)
    return [f"{np.mean(p < a):.4f}" for a in LEVELS]


def null_rates(rng, reps: int) -> list[str]:
    t = (X - X.mean()) / np.ptp(X)
    cols = [t**k for k in range(4)] + [1 / (1 + ((X - c) / (w / 2)) ** 2) for c, w in BANDS]
    q = np.linalg.qr(np.array(cols).T)[0]
    lines = ["| N spectra | pools | " + " | ".join(f"rate at {a:g}" for a in LEVELS) + " |"]
    lines.append("|---|---|" + "---|" * len(LEVELS))
    for n in (3, 5, 10, 30, 100, 300):
        k = reps if n <= 30 else reps // 4
        p = []
        for _ in range(k):
            e = rng.normal(size=(n, X.size))
            r = e - (e @ q) @ q.T
            p.append(mean_residual_test(moments(X, r, np.ones(n)), 11).pvalue)
        lines.append(f"| {n} | {k} | " + " | ".join(rates(p)) + " |")
    return lines


def map_records(m):
    return m.meta["pooling"]["phases"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=12, help="well-specified maps")
    parser.add_argument("--size", type=int, default=24)
    parser.add_argument("--sets", type=int, default=100, help="joint sets per size")
    parser.add_argument("--reps", type=int, default=2000, help="pure-noise pools per N")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    kw = {"bands": "nmc+lo", "progress": False, "pooling": "phases", **FIXED}
    lines = [
        f"# Misfit check benchmark ({datetime.date.today()})",
        "",
        f"Command: `python {' '.join(sys.argv)}`",
        "",
        f"Level of the flag: MISFIT_ALPHA = {MISFIT_ALPHA:g}. Fixed model (window='bands',"
        " baseline='poly3') throughout.",
        "",
        "## False alarms on residuals of fits to pure noise",
        "",
        *null_rates(rng, args.reps),
    ]
    # Well-specified maps: every phase's p-value.
    p_maps, n_phases, pixels = [], 0, 0
    detect = {h: [] for h in (30.0, 50.0, 100.0)}
    humps = []
    for seed in range(args.maps):
        cube, x, truth = core_shell_map(args.size, args.size, rng=100 + seed)
        m = deconvolve_map(cube, x, **kw)
        p_maps += [p["misfit_pvalue"] for p in map_records(m)]
        n_phases += len(map_records(m))
        pixels += int(((m.stats["flags"] & MISFIT) != 0).sum())
        if seed < 3:
            rim = truth["fraction"].ravel() >= 0.999
            for h in detect:
                c = cube.copy()
                c.reshape(-1, x.size)[rim] += band(x, h)
                got = deconvolve_map(c, x, **kw)
                detect[h].append(float(np.mean((got.stats["flags"][rim] & MISFIT) != 0)))
            got = deconvolve_map(cube + hump(x), x, **kw)
            pooled = got.stats["phase"] >= 0
            humps.append(float(np.mean((got.stats["flags"][pooled] & MISFIT) != 0)))
    lines += [
        "",
        "## False alarms on well-specified pools",
        "",
        "| pools | count | " + " | ".join(f"rate at {a:g}" for a in LEVELS) + " |",
        "|---|---|" + "---|" * len(LEVELS),
        f"| phases of {args.maps} core-shell maps {args.size} x {args.size}, nmc+lo"
        f" ({pixels} pixels flagged) | {n_phases} | " + " | ".join(rates(p_maps)) + " |",
    ]
    joint_detect = {}
    for n in (5, 10):
        p, found = [], {30.0: [], 100.0: []}
        for seed in range(args.sets):
            spots = replicate_set("Core_75", n, snr=150, rng=5000 + 100 * n + seed)
            jr = deconvolve_joint([(s.x, s.y) for s in spots], bands="nmc", **FIXED)
            p.append(jr.stats["misfit_pvalue"])
            if seed < 20:
                for h in found:
                    pairs = [(s.x, s.y + band(s.x, h)) for s in spots]
                    got = deconvolve_joint(pairs, bands="nmc", **FIXED)
                    found[h].append(bool(got.stats["model_misfit"]))
        joint_detect[n] = {h: float(np.mean(v)) for h, v in found.items()}
        lines.append(
            f"| joint sets of {n} Core_75 spots (SNR 150, jittered), nmc, partial | {args.sets}"
            " | " + " | ".join(rates(p)) + " |"
        )
    lines += [
        "",
        "## Detection",
        "",
        "Maps (3 seeds): share of the band's pixels (rim, fraction 1) flagged model_misfit,"
        " by the band's height in counts (the bands' envelope peaks at 1000, noise sigma"
        " 10); with the hump, share of all pooled pixels flagged.",
        "",
        "| what the model lacks | flagged (per map) |",
        "|---|---|",
        *[
            f"| band at 625 cm-1, height {h:.0f} (rim) | {', '.join(f'{v:.2f}' for v in d)} |"
            for h, d in detect.items()
        ],
        f"| hump at 400 cm-1, height 500 (every pixel) | {', '.join(f'{v:.2f}' for v in humps)} |",
        "",
        "Joint sets (20 per row, partial pooling): share of sets flagged, band in every spot.",
        "",
        "| spots | band height 30 | band height 100 |",
        "|---|---|---|",
        *[f"| {n} | {d[30.0]:.2f} | {d[100.0]:.2f} |" for n, d in joint_detect.items()],
    ]
    write_report(args.out, "misfit.md", lines)


if __name__ == "__main__":
    main()
