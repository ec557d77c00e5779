"""Maps without warm starts against `deconvolve`, pixel by pixel, and what warm starts save.

Usage::

    python benchmarks/cold_map.py [--size 6] [--timing-size 50] [--out benchmarks/results]

Measures, in one run:

- for each line shape and ``bands`` of "nmc", "nmc+lo" and "auto", a synthetic
  core-shell map fitted by ``deconvolve_map(..., warm_start=False)`` against
  ``deconvolve`` on each pixel: pixels with the same bands (model), and the largest
  relative difference of each numeric column of the table over the map;
- time, iterations per pixel and area % RMSE against the truth of a larger map,
  with and without warm starts.

Writes ``cold_map.md`` into the output folder. Nothing here is a test; the test
(`tests/test_maps.py::test_pixels_without_warm_start_equal_deconvolve`) holds the
tolerance that these numbers justify.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _tables import write_report

from nmcraman import deconvolve, deconvolve_map
from nmcraman.choice import FIXED
from nmcraman.synthetic import core_shell_map

SHAPES = ("lorentzian", "gaussian", "pseudo_voigt")
BANDS = ("nmc", "nmc+lo", "auto")
COLUMNS = (
    "position", "position_err", "fwhm", "fwhm_err", "height", "area", "area_err",
    "area_pct", "area_pct_err",
)  # fmt: skip


def compare(cube, x, bands, shape):
    """Pixels with the same bands, and the largest relative difference of each column."""
    m = deconvolve_map(cube, x, bands=bands, shape=shape, warm_start=False, progress=False, **FIXED)
    table = m.table
    same = 0
    worst = dict.fromkeys(COLUMNS, 0.0)
    for r, c in np.ndindex(m.shape):
        ref = deconvolve(x, cube[r, c], bands=bands, shape=shape, **FIXED).table
        got = table.query("row == @r and col == @c").reset_index(drop=True)
        if list(got["band"]) != list(ref["band"]):
            continue
        same += 1
        for col in COLUMNS:
            want = ref[col].to_numpy(dtype=float)
            diff = np.abs(got[col].to_numpy(dtype=float) - want)
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.where(diff == 0, 0.0, diff / np.abs(want))
            worst[col] = max(worst[col], float(np.nanmax(rel)))
    return same, worst


def timing(cube, x, truth, repeat=3):
    """Median seconds, iterations per pixel and area % RMSE, with and without warm starts."""
    out = {}
    for warm in (True, False):
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            m = deconvolve_map(cube, x, bands="nmc+lo", warm_start=warm, progress=False, **FIXED)
            times.append(time.perf_counter() - t0)
        err = m.params["area_pct"] - truth["area_pct"].reshape(m.params["area_pct"].shape)
        rmse = float(np.sqrt(np.mean(err**2)))
        out[warm] = (float(np.median(times)), float(np.mean(m.stats["n_iter"])), rmse)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=6, help="map side for the comparison")
    parser.add_argument("--timing-size", type=int, default=50, help="map side for timing")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    n = args.size
    cube, x, _ = core_shell_map(n, n, rng=3)
    deconvolve_map(cube[:1, :2], x, bands="auto", progress=False)  # compile or load cache
    rows = []
    for shape in SHAPES:
        for bands in BANDS:
            same, worst = compare(cube, x, bands, shape)
            rows.append({"shape": shape, "bands": bands, "same bands": f"{same}/{n * n}"} | {
                col: f"{v:.1e}" for col, v in worst.items()
            })  # fmt: skip
            print(rows[-1], flush=True)
    frame = pd.DataFrame(rows)
    big, _, big_truth = core_shell_map(args.timing_size, args.timing_size, rng=4)
    t = timing(big, x, big_truth)
    lines = [
        f"# Maps without warm starts against deconvolve ({datetime.date.today()})",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores."
        f" Command: `python benchmarks/cold_map.py --size {n}"
        f" --timing-size {args.timing_size}`.",
        "",
        f"Synthetic core-shell map {n} x {n} (seed 3, SNR 100) fitted with"
        " `deconvolve_map(..., warm_start=False)`, against `deconvolve` on each pixel:"
        " pixels whose table has the same bands, and the largest relative difference"
        " of each column over the map (0 is bit for bit).",
        "",
        "| " + " | ".join(frame.columns) + " |",
        "|" + "---|" * len(frame.columns),
        *("| " + " | ".join(map(str, r)) + " |" for r in frame.itertuples(index=False)),
        "",
        f'Map {args.timing_size} x {args.timing_size} (seed 4), `bands="nmc+lo"`, median'
        " of 3 runs:",
        "",
        "| warm_start | seconds | iterations per pixel | area % RMSE against the truth |",
        "|---|---|---|---|",
        *(f"| {w} | {t[w][0]:.2f} | {t[w][1]:.1f} | {t[w][2]:.2f} |" for w in (True, False)),
    ]
    write_report(args.out, "cold_map.md", lines)


if __name__ == "__main__":
    main()
