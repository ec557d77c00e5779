"""Map fitting speed and memory: a synthetic core-shell map, array to tidy table.

Usage::

    python benchmarks/maps.py [--size 100] [--jobs 2] [--repeat 3] [--out benchmarks/results]

Measures, in one run on the same machine:

- end-to-end time of ``deconvolve_map(cube, x, bands=..., **FIXED)`` (the fixed model;
  the default's cost is ``map_default.py``'s) plus building ``.table``
  for a size x size map (751 channels), for ``bands="nmc+lo"`` (7 bands) and for the
  default ``bands="auto"`` (both presets, per-pixel BIC);
- how time grows with the number of pixels (a quarter, half and full map);
- peak memory of the fit (tracemalloc, in a second, untimed run) against the cube's size;
- the same map as a dask array in row blocks, whose peak stays bounded by a block;
- accuracy of the area % against the truth on clean pixels.

Writes ``maps.md`` into the output folder. Timings are ratios on one noisy machine;
nothing here is a test.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np

from nmcraman import deconvolve_map
from nmcraman.model import FIXED
from nmcraman.synthetic import core_shell_map


def _timed(fn, repeat):
    """Time ``fn`` (median of ``repeat`` untraced runs), then trace one run's peak memory.

    Why separately: tracemalloc hooks every allocation, the numba kernels' included,
    and serialises the threads on its lock: a traced 100 x 100 map took 3.5x as long.
    The median because run-to-run times on a shared machine vary by 15 %.
    """
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    dt = float(np.median(times))
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, dt, peak


def _run(cube, x, bands, jobs, repeat):
    def go():
        res = deconvolve_map(cube, x, bands=bands, jobs=jobs, progress=False, **FIXED)
        return res, res.table

    return _timed(go, repeat)


def _rmse(res, truth):
    clean = (truth["corrupted"] == "").ravel()[: res.params["area_pct"].shape[0]]
    got = res.params["area_pct"][clean]
    ids = list(truth["bands"])
    cols = [ids.index(b) for b in res.bands]
    want = truth["area_pct"].reshape(-1, len(ids))[: clean.size][clean][:, cols]
    ok = np.isfinite(got)
    return float(np.sqrt(np.mean((got[ok] - want[ok]) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per row (median)")
    args = parser.parse_args()
    n = args.size
    cube, x, truth = core_shell_map(n, n, snr=100, corrupt=0.02, rng=2026)
    mb = cube.nbytes / 1e6
    deconvolve_map(cube[:2, :3], x, bands="auto", progress=False)  # compile or load cache
    lines = [
        f"# nmcraman map benchmark ({datetime.date.today()})",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores,"
        f" jobs={args.jobs}; seconds are the median of {args.repeat} runs. Map {n} x {n}"
        f" x {x.size} channels ({mb:.0f} MB), SNR 100, 2 % corrupted pixels, synthetic"
        " core-shell particle.",
        "",
        "| bands | pixels | seconds | ms / pixel | peak MB (x cube) | warm % | RMSE area % |",
        "|---|---|---|---|---|---|---|",
    ]
    for bands in ("nmc+lo", "auto"):
        for rows in sorted({max(1, n // 4), max(1, n // 2), n}):
            (res, _), dt, peak = _run(cube[:rows], x, bands, args.jobs, args.repeat)
            pix = rows * n
            lines.append(
                f"| {bands} | {pix} | {dt:.2f} | {1e3 * dt / pix:.3f} |"
                f" {peak / 1e6:.0f} ({peak / cube[:rows].nbytes:.2f}) |"
                f" {100 * res.stats['warm'].mean():.0f} | {_rmse(res, truth):.2f} |"
            )
            print(lines[-1], flush=True)
    try:
        import dask.array as da
    except ImportError:
        lines += ["", "dask is not installed: the chunked run was skipped."]
    else:
        lazy = da.from_array(cube, chunks=(max(1, n // 10), n, x.size))
        (res, _), dt, peak = _run(lazy, x, "nmc+lo", args.jobs, args.repeat)
        lines += [
            "",
            f"dask array in blocks of {max(1, n // 10)} rows (nmc+lo): {dt:.2f} s,"
            f" peak {peak / 1e6:.0f} MB traced ({peak / cube.nbytes:.2f} x cube; the cube"
            " itself is already in memory here, the fit adds only a block at a time).",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "maps.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
