"""pooled_choice: pooled fits weight their candidate settings by the pool's evidence."""

import numpy as np
import pytest

from nmcraman import choice, pooled_choice
from nmcraman.misfit import BLOCK


@pytest.mark.parametrize("pool", ["map", "set"])
@pytest.mark.parametrize("evidence", ["point", "spectra"])
def test_pooled_weights_follow_the_single_spectrum_rule(evidence, pool, monkeypatch):
    """Per pool (column): exp(-EVIDENCE_POINTS (s - min s) / 2), summing to 1; with
    "spectra", a pool of n spectra weighs n times each score difference; a candidate not
    fitted (inf) gets 0. Each kind of pool follows its own rule."""
    other = {"map": "set", "set": "map"}[pool]
    rule = {pool: evidence, other: {"point": "spectra", "spectra": "point"}[evidence]}
    monkeypatch.setattr(pooled_choice, "POOLED_EVIDENCE", rule)
    s = np.array([[5.00, 4.20], [5.10, 4.25], [np.inf, 4.10]])
    n = np.array([1, 3])
    w = pooled_choice.pooled_weights(s, n, ["bands"] * 3, pool)
    np.testing.assert_allclose(w.sum(axis=0), 1.0, rtol=1e-12)
    assert w[2, 0] == 0.0
    scale = n if evidence == "spectra" else np.ones(2)
    for j in range(2):
        ok = np.isfinite(s[:, j])
        want = np.exp(-0.5 * choice.EVIDENCE_POINTS * scale[j] * (s[ok, j] - s[ok, j].min()))
        np.testing.assert_allclose(w[ok, j], want / want.sum(), rtol=1e-12)


def test_a_set_credits_each_spectrum_and_a_map_phase_one():
    """The default rules: a joint set's spots are separate evidence, a phase's pixels not."""
    s = np.array([[5.00], [5.10]])
    one = choice.order_weights(s)
    np.testing.assert_allclose(pooled_choice.pooled_weights(s, 5, ["bands"] * 2, "map"), one)
    np.testing.assert_allclose(
        pooled_choice.pooled_weights(s, 5, ["bands"] * 2, "set"), choice.order_weights(5 * s)
    )


@pytest.mark.parametrize("mode", ["choose", "average"])
def test_pooled_weights_choose_the_window_of_the_best_score(mode, monkeypatch):
    """ "choose": a pool weights only the orders of its best-scored window, as one
    spectrum does; "average": every candidate alike."""
    monkeypatch.setattr(pooled_choice, "POOLED_WINDOWS", mode)
    s = np.array([[5.00, 4.30], [5.02, 4.25], [5.01, 4.20], [5.03, 4.40]])
    windows = ["bands", "bands", "wide", "wide"]
    w = pooled_choice.pooled_weights(s, 1, windows, "map")
    if mode == "average":
        np.testing.assert_allclose(w, choice.order_weights(s), rtol=1e-12)
    else:
        np.testing.assert_allclose(w[:, 0], [*choice.order_weights(s[:2, 0]), 0, 0])
        np.testing.assert_allclose(w[:, 1], [0, 0, *choice.order_weights(s[2:, 1])])


def test_candidates_that_fail_the_misfit_check_get_no_weight_if_another_passes():
    """Pool 0: candidate 1 passes, so the flagged candidate 0 gets no weight. Pool 1:
    both flagged, the pool fails with its scores kept. Pool 2: candidate 0 flagged,
    candidate 1 not tested (too few spectra): nothing passed, scores kept, the pool
    fails (the one test run failed)."""
    scores = np.array([[1.0, 2.0, 1.0], [3.0, 4.0, 3.0]])
    flagged = np.array([[True, True, True], [False, True, False]])
    tested = np.array([[True, True, True], [True, True, False]])
    got, failed = pooled_choice.without_misfits(scores, flagged, tested)
    np.testing.assert_array_equal(got, [[np.inf, 2.0, 1.0], [3.0, 4.0, 3.0]])
    np.testing.assert_array_equal(failed, [False, True, True])
    weights = pooled_choice.pooled_weights(got, 1, ["bands", "bands"], "set")
    np.testing.assert_array_equal(weights[:, 0], [0.0, 1.0])
    np.testing.assert_allclose(weights[:, 1], choice.order_weights(scores[:, 1]))


@pytest.mark.parametrize(
    ("pools", "given", "want"),
    [
        # Every candidate failed, both with an edge at 195 and 205: one block past 200.
        ([[{"model_misfit": True, "misfit_low_edge": 195.0},
           {"model_misfit": True, "misfit_low_edge": 205.0}]], None, 200.0 + BLOCK),
        # One candidate passed: nothing to trim.
        ([[{"model_misfit": True, "misfit_low_edge": 195.0},
           {"model_misfit": False, "misfit_low_edge": None}]], None, None),
        # Every candidate failed, fewer than half with an edge: another cause.
        ([[{"model_misfit": True, "misfit_low_edge": 195.0},
           {"model_misfit": True}, {"model_misfit": True}]], None, None),
        # A low end the user gave is kept.
        ([[{"model_misfit": True, "misfit_low_edge": 195.0},
           {"model_misfit": True, "misfit_low_edge": 205.0}]], 190.0, None),
    ],
)  # fmt: skip
def test_trimmed_settings_move_the_first_window_past_the_edge(pools, given, want):
    kept = [choice.Setting("bands", f"poly{k}") for k in (3, 2)] + [choice.Setting("wide", "poly3")]
    got = pooled_choice.trimmed_settings(kept, pools, given)
    if want is None:
        assert got == []
    else:
        assert [(c.window, c.name, c.xmin) for c in got] == [
            ("bands", "poly3", want),
            ("bands", "poly2", want),
        ]
        assert pooled_choice.trimmed_settings(got, pools, None) == []  # trimmed once
