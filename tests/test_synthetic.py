"""The synthetic-spectrum generator: truths, noise level, reproducibility."""

import numpy as np
import pytest

from nmcraman.synthetic import REFERENCE, perturb, replicate_set, simulate


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


@pytest.mark.parametrize(("shape", "eta"), [("pseudo_voigt", 0.3), ("gaussian", 0.5)])
def test_replicate_set_draws_its_spots_with_the_band_shape_asked(shape, eta):
    """Each spot is `simulate` of its own truth with that shape; the draws of the
    truths do not depend on the shape."""
    spots = replicate_set("CS_75", 3, shape=shape, eta=eta, snr=1e12, background="none", rng=5)
    plain = replicate_set("CS_75", 3, snr=1e12, background="none", rng=5)
    for s, p in zip(spots, plain, strict=True):
        assert (s.shape, s.eta) == (shape, eta)
        want = simulate(s.truth, shape=shape, eta=eta, snr=None, background="none",
                        peak=s.y.max())  # fmt: skip
        np.testing.assert_allclose(s.y, want.y, rtol=0, atol=1e-6)
        np.testing.assert_allclose(s.truth["area_pct"], p.truth["area_pct"], rtol=1e-12)
        np.testing.assert_allclose(s.truth["position"], p.truth["position"], rtol=1e-12)
