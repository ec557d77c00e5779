"""Tests of nmcraman.calibration: offsets from real Si and polystyrene spectra, and known truth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from io_samples import DATA, WITEC_LASER_NM, vertex

from nmcraman import InputError, SpectralMap, Spectrum
from nmcraman.calibration import (
    AGREEMENT_K,
    POLYSTYRENE_BANDS,
    POLYSTYRENE_E1840,
    SILICON_CM1,
    AxisOffset,
    band_position,
    offset_from_polystyrene,
    offset_from_silicon,
)
from nmcraman.io import read_spectrum
from nmcraman.lineshapes import lorentzian


def _witec_si():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # saturated laser line
        return read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=WITEC_LASER_NM)


SILICON = {
    "horiba633": lambda: read_spectrum(DATA / "silicon_horiba633.txt"),
    "witec532": _witec_si,
}


@pytest.mark.parametrize("name", SILICON)
def test_silicon_offset_brings_the_si_line_to_520_7(name):
    si = SILICON[name]()
    offset = offset_from_silicon(si)
    assert offset.error < 0.2
    assert abs(offset.shift) > 1.0  # both instruments are off: the test can tell
    corrected = offset.apply(si)
    # located independently: vertex of the parabola through the top three points,
    # which is good to a tenth of a grid step on a line a few steps wide
    step = float(np.median(np.diff(si.x)))
    assert vertex(corrected, SILICON_CM1, 15) == pytest.approx(SILICON_CM1, abs=0.1 * step)
    assert corrected.meta["shift_cm1"] == offset.shift
    assert offset.residuals == pytest.approx([0.0], abs=1e-9)


PS_FILES = ["polystyrene_horiba633.txt", "polystyrene_bwtek532.txt"]


@pytest.mark.parametrize("name", PS_FILES)
def test_polystyrene_offset_brings_the_bands_onto_the_standard(name):
    ps = read_spectrum(DATA / name)
    offset = offset_from_polystyrene(ps)
    assert offset.reference == POLYSTYRENE_BANDS
    assert offset.skipped == ()
    # Re-measure on the corrected axis: every band within the standard's tolerance
    # combined with the offset's and the fit's errors (k = 2)...
    corrected = offset.apply(ps)
    again = offset_from_polystyrene(corrected)
    assert again.shift == pytest.approx(0.0, abs=1e-3)
    assert again.within_tolerance(k=2).all(), again.residuals
    assert offset.within_tolerance(k=2).all()


def test_polystyrene_offsets_of_the_two_instruments():
    """The Horiba file sits about 2 cm-1 low (see tests/data/README.md), the B&W Tek one
    nearly right; only the B&W Tek bands also agree at k = 1: the Horiba axis is off by
    different amounts at different shifts (1.0 to 3.1 cm-1), which no single offset fixes."""
    horiba = offset_from_polystyrene(DATA / "polystyrene_horiba633.txt")
    bwtek = offset_from_polystyrene(DATA / "polystyrene_bwtek532.txt")
    uncorrected = AxisOffset(
        0.0, horiba.error, horiba.reference, horiba.measured, horiba.measured_err,
        horiba.tolerance, horiba.standard,
    )  # fmt: skip
    assert not uncorrected.within_tolerance(k=2).all()  # the correction is needed
    assert horiba.shift == pytest.approx(2.0, abs=2 * horiba.error)
    assert abs(bwtek.shift) < 2 * bwtek.error + 0.2
    assert bwtek.within_tolerance(k=1).all()
    assert not horiba.within_tolerance(k=1).all()
    assert horiba.error > 0.3  # the band-to-band spread widens the error (Birge ratio)


@pytest.mark.parametrize(
    ("name", "disagreeing"),
    [
        ("polystyrene_horiba633.txt", ()),
        ("polystyrene_bwtek532.txt", ()),
        ("renishaw_polymer_532nm.wdf", (620.9, 1602.3)),  # a polymer, not polystyrene
    ],
)
def test_agreement_with_the_standard_is_exposed(name, disagreeing):
    offset = offset_from_polystyrene(DATA / name)
    assert offset.disagreeing == disagreeing
    assert offset.agrees is (not disagreeing)
    ok = offset.within_tolerance(AGREEMENT_K)
    assert tuple(r for r, good in zip(offset.reference, ok, strict=True) if not good) == disagreeing


def test_uncertainty_combines_the_standard_the_offset_and_the_fit():
    """3-4-5 triangles: sqrt(0.3^2 + 0^2 + 0.4^2) = 0.5 and sqrt(0.5^2 + 1.2^2) = 1.3;
    a residual agrees when it is at most k times that."""
    exact = AxisOffset(0.0, 0.0, (620.9, 1001.4), (620.4, 1001.9), (0.4, 0.3), (0.3, 0.4), "ps")
    assert exact.uncertainty == pytest.approx([0.5, 0.5])
    assert exact.within_tolerance(k=1.01).tolist() == [True, True]  # |residual| 0.5 each
    assert exact.within_tolerance(k=0.99).tolist() == [False, False]
    widened = AxisOffset(0.0, 1.2, (620.9,), (620.9,), (0.0,), (0.5,), "ps")
    assert widened.uncertainty == pytest.approx([1.3])


def _synthetic(centres, truth_shift, rng, step=0.9, snr=200.0):
    x = np.arange(450.0, 1700.0, step)
    y = 100 + 0.02 * x
    for c in centres:
        y = y + lorentzian(x, 50 * 8 * np.pi / 2, c - truth_shift, 8.0)
    return Spectrum(x, y + rng.normal(0, 50 / snr, x.size))


def test_known_offset_is_recovered_within_its_error(rng):
    ps = _synthetic(POLYSTYRENE_BANDS, -1.7, rng)  # every band 1.7 cm-1 high
    offset = offset_from_polystyrene(ps)
    assert offset.shift == pytest.approx(-1.7, abs=3 * max(offset.measured_err))
    x = np.arange(400.0, 650.0, 1.1)
    si = Spectrum(x, 50 + lorentzian(x, 4000.0, 522.3, 3.5) + rng.normal(0, 1.0, x.size))
    offset = offset_from_silicon(si)
    assert offset.shift == pytest.approx(-1.6, abs=3 * offset.error)
    assert offset.error < 0.05


def test_apply_to_maps_and_batches():
    offset = offset_from_silicon(DATA / "silicon_horiba633.txt")
    x = np.linspace(150.0, 900.0, 100)
    batch = [Spectrum(x, x**0.5), Spectrum(x, x**0.3)]
    for s in offset.apply(batch):
        np.testing.assert_allclose(s.x, x + offset.shift)
    m = offset.apply(SpectralMap(x, np.ones((2, 3, 100))))
    np.testing.assert_allclose(m.x, x + offset.shift)
    with pytest.raises(InputError, match="apply takes a Spectrum"):
        offset.apply(3.0)


def test_only_bands_inside_the_axis_are_used_and_skipped_are_listed(rng):
    ps = _synthetic(POLYSTYRENE_BANDS, 0.0, rng)
    offset = offset_from_polystyrene(ps, bands=POLYSTYRENE_E1840)
    assert set(offset.skipped) >= {2852.4, 2904.5, 3054.3}  # beyond the 1700 cm-1 axis
    assert offset.shift == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: offset_from_silicon(s), "silicon line: no band near 520.7"),
        (lambda s: offset_from_polystyrene(s, bands=[1000.0]), "not an ASTM E1840"),
        (lambda s: offset_from_polystyrene(s), "only 0 of the 6 polystyrene bands"),
        (lambda s: band_position(s, 3000.0), "no data within 3000"),
        (lambda s: offset_from_silicon([1, 2]), "give a Spectrum or a file path"),
    ],
    ids=["no-si-line", "unknown-band", "not-polystyrene", "outside-axis", "not-a-spectrum"],
)
def test_calibration_errors(call, message):
    x = np.arange(200.0, 1700.0, 1.0)
    flat = Spectrum(x, 100 + 0.01 * x)  # a slope: maxima at the window edges
    with pytest.raises(InputError, match=message):
        call(flat)
