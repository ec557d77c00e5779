"""Line shapes: unit area, FWHM and peak height as documented."""

import numpy as np
import pytest
from scipy.integrate import quad

from nmcraman.lineshapes import LINESHAPES, peak_height


@pytest.mark.parametrize("name", list(LINESHAPES))
def test_area_fwhm_and_height(name):
    f = LINESHAPES[name]
    area, centre, fwhm = 3.0, 500.0, 40.0
    g = lambda x: float(f(x, area, centre, fwhm))  # noqa: E731
    core = quad(g, centre - 20 * fwhm, centre + 20 * fwhm, points=[centre], limit=400)[0]
    tails = quad(g, -np.inf, centre - 20 * fwhm)[0] + quad(g, centre + 20 * fwhm, np.inf)[0]
    total = core + tails
    assert total == pytest.approx(area, rel=1e-7)
    top = float(f(centre, area, centre, fwhm))
    assert float(f(centre + fwhm / 2, area, centre, fwhm)) == pytest.approx(top / 2, rel=1e-12)
    assert float(f(centre - fwhm / 2, area, centre, fwhm)) == pytest.approx(top / 2, rel=1e-12)
    assert float(peak_height(area, fwhm, name)) == pytest.approx(top, rel=1e-12)


@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
def test_pseudo_voigt_mixes(eta):
    x = np.linspace(300, 700, 101)
    pv = LINESHAPES["pseudo_voigt"](x, 2.0, 500.0, 30.0, eta=eta)
    mix = eta * LINESHAPES["lorentzian"](x, 2.0, 500.0, 30.0) + (1 - eta) * LINESHAPES["gaussian"](
        x, 2.0, 500.0, 30.0
    )
    np.testing.assert_allclose(pv, mix, rtol=1e-14)
    assert float(peak_height(2.0, 30.0, "pseudo_voigt", eta)) == pytest.approx(pv[50])
