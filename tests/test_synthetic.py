"""The synthetic-spectrum generator: truths, noise level, reproducibility."""

import numpy as np
import pytest

from nmcraman.synthetic import REFERENCE, perturb, simulate


@pytest.mark.parametrize("sample", list(REFERENCE))
def test_truth_matches_reference_and_noise_matches_snr(sample):
    s = simulate(sample, snr=50, background="none", rng=1)
    assert s.truth["area_pct"].sum() == pytest.approx(100, abs=0.11)
    assert len(s.truth) == len(REFERENCE[sample])
    clean = simulate(sample, snr=None, background="none")
    resid = s.y - clean.y
    assert resid.std() == pytest.approx(1000 / 50, rel=0.1)
    assert clean.y.max() == pytest.approx(1000)


def test_reproducible_and_perturbed_in_windows():
    a = simulate(perturb("CS_75", 4), rng=4)
    b = simulate(perturb("CS_75", 4), rng=4)
    np.testing.assert_array_equal(a.y, b.y)
    t = perturb("CS_75", 5)
    assert not np.allclose(t["position"], [r[1] for r in REFERENCE["CS_75"]])
    assert t["area_pct"].sum() == pytest.approx(100)


@pytest.mark.parametrize("background", ["none", "flat", "linear", "cubic", "fluorescence"])
def test_backgrounds(background):
    s = simulate("Core_75", background=background, snr=None, rng=2)
    assert np.isfinite(s.background).all()
    assert (s.y >= s.background - 1e-9).all()
