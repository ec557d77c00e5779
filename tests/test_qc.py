"""Spectrum QC (nmcraman/qc.py): `Result.qc` agrees with the map's flags on the same spectra."""

import numpy as np
import pytest

from nmcraman import deconvolve, load
from nmcraman.maps import deconvolve_map
from nmcraman.qc import SPECTRUM_FLAGS, despike
from nmcraman.results.map import QC_FLAGS
from nmcraman.synthetic import simulate

X = np.arange(150.0, 901.0)
#: Columns of the 1 x 5 test map that hold the special spectra.
SPECIAL = [False, True, False, True, False]


def ordinary(seed, snr=1000.0):
    """Core_75 (peak 1000 counts) at the given SNR: no QC flag applies."""
    return simulate("Core_75", snr=snr, rng=seed).y


def spiked(seed):
    """A cosmic ray: one channel 40 noise sigma high, inside the fit window."""
    y = ordinary(seed, 300)
    y[300 + 100 * seed] += 40 * 1000.0 / 300
    return y


def clipped(seed):
    """A strong line at 860 cm-1, beyond the fit window, clipped by the detector."""
    y = ordinary(seed) + 5000.0 / (1 + ((X - 860.0) / 6.0) ** 2)
    return np.minimum(y, 3000.0)


def weak(seed):
    """Core_75 at SNR 6: the tallest band is about 3.5 noise sigma high."""
    return simulate("Core_75", snr=6, rng=seed).y


def fringes(seed):
    """Etalon fringes: a 40 cm-1 ripple of 30 noise sigma, neither band nor polynomial."""
    return ordinary(seed) + 30.0 * np.sin(2 * np.pi * X / 40.0)


def _map_flags(cube) -> list[set[str]]:
    m = deconvolve_map(cube, X, bands="nmc", progress=False)
    bits = m.stats["flags"]
    wanted = set(SPECTRUM_FLAGS)
    return [{f for i, f in enumerate(QC_FLAGS) if b >> i & 1} & wanted for b in bits.tolist()]


@pytest.mark.parametrize(
    ("special", "flag"),
    [(spiked, "spike"), (clipped, "saturated"), (weak, "low_snr"), (fringes, "poor_fit")],
)
def test_result_qc_matches_the_map_flag(special, flag):
    cube = np.array([[ordinary(10), special(1), ordinary(11), special(2), ordinary(12)]])
    qc = [set(deconvolve(X, y, bands="nmc").qc) for y in cube[0]]
    assert [flag in q for q in qc] == SPECIAL
    assert qc == _map_flags(cube)


def test_ordinary_spectra_have_no_flag_and_no_report_line():
    res = deconvolve(X, ordinary(3), bands="nmc")
    assert res.qc == ()
    assert "QC flags" not in res.report()


def test_despike_removes_the_spike_and_keeps_the_flag(tmp_path):
    y = spiked(1)
    raw = deconvolve(X, y, bands="nmc")
    clean = deconvolve(X, y, bands="nmc", despike=True)
    truth = deconvolve(X, despike(y[None])[0][0], bands="nmc")
    # 40 noise sigma in one channel also doubles the reduced chi-square.
    assert raw.qc == ("spike", "poor_fit")
    assert clean.qc == ("spike",)  # flagged either way, as on maps; the fit is good
    assert clean.meta["despiked"] is True
    assert "despiked" not in raw.meta
    assert "QC flags: spike" in clean.report()
    clean.save(tmp_path / "clean.json")
    assert load(tmp_path / "clean.json").qc == ("spike",)  # after load, as before
    # The fit ran on the cleaned spectrum: the spike is gone from the data fitted.
    assert np.array_equal(clean.y, truth.y)
    assert np.abs(clean.residual).max() < np.abs(raw.residual).max() / 5
    # Without a spike, despike=True changes nothing.
    plain = ordinary(4, 300)
    a = deconvolve(X, plain, bands="nmc")
    b = deconvolve(X, plain, bands="nmc", despike=True)
    assert np.array_equal(a.best_fit, b.best_fit)
    assert "despiked" not in b.meta


@pytest.mark.parametrize("n", [7, 8, 751])
def test_row_median_is_numpys(n, rng):
    from nmcraman.qc import _median

    a = rng.normal(size=(5, n))
    a[1, 3] = np.nan
    a[2] = 4.0
    assert np.array_equal(_median(a), np.median(a, axis=1), equal_nan=True)


def test_rules_on_bad_rows_and_agreement_of_has_spike_with_despike(rng):
    from nmcraman.qc import has_spike, is_saturated

    y = rng.normal(size=(4, 300))
    y[0, 100:106] = 50.0  # a flat top of 6 points: saturated
    y[1, 100:104] = 50.0  # 4 points: not
    y[2] = 3.0  # constant: bad input, not saturated
    y[3, 10] = np.nan
    y[3, 100:110] = 50.0  # NaN row: bad input, not saturated
    assert is_saturated(y).tolist() == [True, False, False, False]
    z = rng.normal(size=(3, 300))
    z[1, 150] += 40.0
    assert has_spike(z).tolist() == despike(z)[1].tolist() == [False, True, False]
