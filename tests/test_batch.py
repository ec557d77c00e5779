"""The batch driver's own starts per row (`nmcraman._kernels.batch.fit_batch`'s ``row_starts``).

A row's own start must run as `nmcraman._engine.single.solve` runs a warm start of one
spectrum: alone when screening (`ROW_SCREEN`), with the prior starts when a screened
candidate goes on to its full fit (`ROW_CONTINUE`). That is what lets a map pixel
reproduce `deconvolve`'s choice of window (`nmcraman.maps.choice`).
"""

import dataclasses

import numpy as np
import pytest

from nmcraman._engine.problem import prepare
from nmcraman._engine.single import solve
from nmcraman._kernels import batch as batch_kernel
from nmcraman.bands import bands as preset
from nmcraman.choice import screening_options
from nmcraman.maps.pixels import batch_options, fit_arrays, map_geometry
from nmcraman.spectrum import Spectrum
from nmcraman.synthetic import perturb, simulate


@pytest.mark.parametrize("shape", ["lorentzian", "gaussian"])
@pytest.mark.parametrize("mode", [batch_kernel.ROW_SCREEN, batch_kernel.ROW_CONTINUE])
def test_a_row_start_runs_as_a_warm_start_of_one_spectrum(shape, mode):
    rng = np.random.default_rng(4)
    spectra = [simulate(perturb("Core_75", rng), snr=80, rng=rng) for _ in range(3)]
    x = spectra[0].x
    band_list = preset("nmc")
    screening = mode == batch_kernel.ROW_SCREEN
    model = {"shape": shape, "window": "wide", "baseline": "poly2"}
    options = screening_options(None) if screening else None
    opts = batch_options(bands="nmc", warm_start=False, **model, options=options)
    geo = map_geometry(x, band_list, opts)
    if screening:
        geo = dataclasses.replace(geo, starts=geo.starts[:1])
    # Warm starts: each spectrum's solution with a cubic over the other window.
    warm = [
        solve(prepare(s, band_list, shape=shape, window="bands", baseline="poly3"))[0]["theta"]
        for s in spectra
    ]
    warm[1] = np.full_like(warm[1], np.nan)  # no start of its own: fitted as usual
    ys = np.array([s.y for s in spectra])
    _, out = fit_arrays(x, ys, band_list, opts, (3,), geo=geo, row_starts=np.array(warm),
                        row_mode=mode)  # fmt: skip
    for i, s in enumerate(spectra):
        problem = prepare(Spectrum(x, s.y), band_list, **model, options=options)
        own = None if i == 1 else warm[i]
        want, cost = solve(problem, own, options)
        np.testing.assert_allclose(out["theta"][i], want["theta"], rtol=1e-7, atol=1e-7)
        assert out["info"][i, batch_kernel.INFO_COST] == pytest.approx(cost, rel=1e-9)
