"""Partial pooling's spread: the extrapolated EM reaches plain EM's fixed point sooner."""

import numpy as np
import pytest

from nmcraman import deconvolve_joint
from nmcraman._engine import tau as tau_engine
from nmcraman.choice import FIXED
from nmcraman.synthetic import perturb, replicate_set


@pytest.mark.parametrize("ratio", [0.2, 0.5, 0.75])
def test_extrapolate_reaches_the_limit_of_a_geometric_sequence(ratio):
    limit, first = np.array([0.1, -3.2]), np.array([0.6, -2.5])
    cycle = [limit + (first - limit) * ratio**k for k in range(3)]
    got, left = tau_engine.extrapolate(cycle)
    np.testing.assert_allclose(got, limit, atol=1e-12)
    np.testing.assert_allclose(left, np.abs(cycle[2] - limit), atol=1e-12)


def test_extrapolate_holds_a_step_that_turns_and_caps_a_slow_one():
    got, left = tau_engine.extrapolate([np.array([0.0]), np.array([1.0]), np.array([0.5])])
    np.testing.assert_array_equal(got, [0.5])
    np.testing.assert_array_equal(left, [0.0])
    # Ratio 0.99 is held at MAX_RATIO: a jump of at most 4 steps.
    r = tau_engine.MAX_RATIO
    got, _ = tau_engine.extrapolate([np.array([0.0]), np.array([1.0]), np.array([1.99])])
    np.testing.assert_allclose(got, [1.99 + 0.99 * r / (1 - r)])
    got, left = tau_engine.extrapolate([np.array([1.0, np.nan])] * 3)
    np.testing.assert_array_equal(got, [1.0, np.nan])
    assert np.isnan(left[1])


def _rounds_and_tau(monkeypatch, spots, preset, **settings):
    for name, value in settings.items():
        monkeypatch.setattr(tau_engine, name, value)
    calls = []
    estimate = tau_engine.estimate_tau

    def counted(*args):
        calls.append(1)
        return estimate(*args)

    monkeypatch.setattr(tau_engine, "estimate_tau", counted)
    # The fixed model: one EM per fit (the default averages eight candidate fits).
    jr = deconvolve_joint([(s.x, s.y) for s in spots], bands=preset, share="partial", **FIXED)
    monkeypatch.undo()
    return len(calls), np.array([jr.stats["tau_position"], jr.stats["tau_fwhm"]])


def test_extrapolated_em_lands_nearer_plain_em_s_fixed_point_in_fewer_rounds(monkeypatch):
    """Plain EM (no jumps) stopped once a step is below the tolerance, as it was before
    the extrapolation, is far from its own fixed point: its steps shrink long before
    it gets there."""
    fixed = {"MAX_RATIO": 0.0, "TAU_RTOL": 0.002, "TAU_ROUNDS": 80}
    old = {"MAX_RATIO": 0.0, "TAU_RTOL": 0.05}
    rounds, miss = {"fast": [], "old": []}, {"fast": [], "old": []}
    for seed, (sample, preset) in enumerate([("Core_75", "nmc"), ("CS_75", "nmc+lo")] * 3):
        rng = np.random.default_rng(seed)
        spots = replicate_set(perturb(sample, rng), 10, snr=100, background="cubic", rng=rng)
        n_fixed, tau_fixed = _rounds_and_tau(monkeypatch, spots, preset, **fixed)
        assert n_fixed < 80
        for name, settings in (("fast", {}), ("old", old)):
            n, tau = _rounds_and_tau(monkeypatch, spots, preset, **settings)
            rounds[name].append(n)
            miss[name].append(np.abs(np.log(tau / tau_fixed)).max())
    assert np.mean(rounds["fast"]) < np.mean(rounds["old"])
    assert np.mean(miss["fast"]) < 0.75 * np.mean(miss["old"])
    assert max(miss["fast"]) < max(miss["old"])


def _jitter(spots):
    """The spread of the spots' own truths: positions (cm-1) and FWHMs (relative), each
    band's sample standard deviation pooled over bands."""
    pos = np.array([s.truth["position"] for s in spots])
    fwhm = np.array([s.truth["fwhm"] for s in spots])
    return np.sqrt(
        [
            np.mean(np.var(pos, axis=0, ddof=1)),
            np.mean(np.var(fwhm / fwhm.mean(axis=0), axis=0, ddof=1)),
        ]
    )


def test_estimated_spread_matches_the_jitter_of_replicate_sets():
    """Spots jittered by 1 cm-1 in position and 3 % in FWHM (`replicate_set`'s defaults),
    fitted with the model that made them: the estimated spreads match the jitter their
    truths actually have, each set's within 40 % and on average within 15 %. A FWHM
    deviation's variance taken relative to the FWHM and not to its square used to pass."""
    ratios = []
    for seed, (sample, preset) in enumerate([("Core_75", "nmc"), ("CS_75", "nmc+lo")] * 4):
        rng = np.random.default_rng(seed)
        spots = replicate_set(perturb(sample, rng), 8, snr=200, background="cubic", rng=rng)
        jr = deconvolve_joint([(s.x, s.y) for s in spots], bands=preset, share="partial", **FIXED)
        ratios.append(np.array([jr.stats["tau_position"], jr.stats["tau_fwhm"]]) / _jitter(spots))
    ratios = np.array(ratios)
    assert ((ratios > 0.6) & (ratios < 1.4)).all(), ratios
    np.testing.assert_allclose(ratios.mean(axis=0), 1.0, atol=0.15)
