"""Size of the map's HTML page and of the spectra a map keeps, on a synthetic map.

Usage::

    python benchmarks/html_pages.py [--size 100] [--out benchmarks/results]

Fits a synthetic core-shell map of ``size`` x ``size`` pixels of 751 points (SNR 100)
with the joint cubic baseline and with a pybaselines one (``asls``), in the default fit
window and over the whole axis, and measures:

- the page (`MapResult.to_html`): its size, the part that holds the spectra (the
  packed codes of `nmcraman.results.html.map.packed`, in bytes a point) and the seconds to
  write it;
- the spectra the result keeps (`MapResult.spectra`), in memory;
- the seconds of the fit with and without ``keep_spectra`` (on a machine shared with
  other work, differences of a few seconds are noise: quantising is a fraction of a
  second).

Writes ``html_pages.md`` into the output folder. Nothing here is a test; the test
(`tests/test_results_html_map.py::test_a_100_x_100_x_751_map_page_is_30_mb_or_less`) checks the
30 MB bound on incompressible data.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

from nmcraman import deconvolve_map
from nmcraman.results.html.map import map_data
from nmcraman.synthetic import core_shell_map

CASES = (
    ("poly3", None, None),
    ("poly3", 150.0, 900.0),
    ("asls", None, None),
    ("asls", 150.0, 900.0),
)


def measure(cube, x, baseline, xmin, xmax) -> dict:
    """Fit, write the page and measure it (see the module docstring)."""
    kw = {"bands": "nmc+lo", "baseline": baseline, "xmin": xmin, "xmax": xmax}
    deconvolve_map(cube[:2, :2], x, progress=False, **kw)  # kernels loaded before timing
    t0 = time.perf_counter()
    m = deconvolve_map(cube, x, progress=False, **kw)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    deconvolve_map(cube, x, progress=False, keep_spectra=False, **kw)
    bare_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "map.html"
        t0 = time.perf_counter()
        m.to_html(page)
        write_s = time.perf_counter() - t0
        size = page.stat().st_size
    rows, cols = m.shape
    fits = map_data(m, rows, cols)["fits"]
    points = m.spectra.data.codes.size
    packed = {k: len(fits[k]["codes"]) for k in ("data", "initial") if k in fits}
    s = m.spectra
    memory = s.data.codes.nbytes + s.data.offset.nbytes * 2 + s.baseline_coef.nbytes
    if s.initial is not None:
        memory += s.initial.codes.nbytes + s.initial.offset.nbytes * 2
    return {
        "baseline": baseline,
        "points": m.spectra.x.size,
        "page_mb": size / 1e6,
        "data_b": packed["data"] / points,
        "initial_b": packed.get("initial", 0) / points,
        "rest_mb": (size - sum(packed.values())) / 1e6,
        "memory_mb": memory / 1e6,
        "cube_mb": cube.nbytes / 1e6,
        "write_s": write_s,
        "fit_s": fit_s,
        "bare_s": bare_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args()
    cube, x, _ = core_shell_map(args.size, args.size, rng=18)
    rows = [measure(cube, x, *case) for case in CASES]
    n = args.size
    lines = [
        f"# Map pages and kept spectra ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores. Command:"
        f" `python benchmarks/html_pages.py --size {n}`.",
        "",
        f'Synthetic core-shell map {n} x {n} x {x.size} (seed 18, SNR 100), `bands="nmc+lo"`.'
        " Page: the whole file; data and start: the packed codes of the spectra and of the"
        " starting baseline (base64 text), in bytes a point; other: everything else"
        " (parameters, statistics, script). Memory: `MapResult.spectra`. Fit: seconds of"
        " `deconvolve_map` keeping the spectra and not.",
        "",
        "| baseline | points | page (MB) | data (B/point) | start (B/point) | other (MB)"
        " | memory (MB) | cube (MB) | write page (s) | fit (s) | fit, keep_spectra=False (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['baseline']} | {r['points']} | {r['page_mb']:.1f} | {r['data_b']:.2f}"
            f" | {r['initial_b']:.3f} | {r['rest_mb']:.1f} | {r['memory_mb']:.1f}"
            f" | {r['cube_mb']:.0f} | {r['write_s']:.1f} | {r['fit_s']:.1f} | {r['bare_s']:.1f} |"
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "html_pages.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
