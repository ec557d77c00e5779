"""MapResult: the per-pixel model choice scores each preset as deconvolve does."""

import numpy as np
import pytest

from nmcraman import FitOptions, deconvolve
from nmcraman.maps import deconvolve_batch
from nmcraman.synthetic import simulate

EVERY_START = FitOptions(all_starts=True)


@pytest.mark.parametrize(
    ("baseline", "shape"), [("poly1", "lorentzian"), ("poly3", "pseudo_voigt")]
)
def test_auto_bic_and_choice_match_deconvolve(baseline, shape):
    """A baseline other than the cubic, or a fitted eta, changes the parameter count:
    the map's BIC per pixel must count them as `Result.stats` does (a count written
    for a cubic baseline without eta was off by 2 ln n on a linear one)."""
    spectra = [simulate(sample, shape=shape, snr=120, rng=40 + i)
               for i, sample in enumerate(("Core_75", "CS_75", "CS_75"))]  # fmt: skip
    x = spectra[0].x
    kw = {"bands": "auto", "baseline": baseline, "shape": shape, "options": EVERY_START}
    m = deconvolve_batch(x, np.array([s.y for s in spectra]), warm_start=False, jobs=1, **kw)
    singles = [deconvolve(x, s.y, **kw) for s in spectra]
    assert list(m.stats["model"]) == [r.model_choice["chosen"] for r in singles]
    # The same minimum, reached by another path (deconvolve adds a Lorentzian start
    # for other shapes): equal to far below one parameter's ln n.
    bic = [r.stats["bic"] for r in singles]
    np.testing.assert_allclose(m.stats["bic"], bic, rtol=0, atol=1e-3)
