"""The misfit check: nominal false alarms on noise, an added band found, moments additive."""

import numpy as np
import pytest
from scipy.stats import binom, f

from nmcraman.misfit import BLOCK, EDGE_Z, MISFIT_ALPHA, _f_sf, mean_residual_test, moments

X = np.arange(180.0, 776.0)
#: Centres and FWHMs of seven bands: a fit's residual has their amplitudes projected out.
BANDS = [(475, 40), (500, 50), (550, 60), (590, 70), (600, 50), (625, 40), (660, 60)]


def _projector() -> np.ndarray:
    """Orthonormal basis of what a fixed-model fit removes: a cubic and band amplitudes."""
    t = (X - X.mean()) / np.ptp(X)
    cols = [t**k for k in range(4)]
    cols += [1.0 / (1.0 + ((X - c) / (w / 2.0)) ** 2) for c, w in BANDS]
    return np.linalg.qr(np.array(cols).T)[0]


def _residuals(rng, n: int, smooth: bool = False) -> np.ndarray:
    """Residuals of ``n`` fits to pure noise: white (or correlated) noise minus its fit."""
    e = rng.normal(size=(n, X.size + 2))
    e = (e[:, :-2] + e[:, 1:-1] + e[:, 2:]) / np.sqrt(3.0) if smooth else e[:, 1:-1]
    q = _projector()
    return e - (e @ q) @ q.T


def _pvalues(rng, n: int, reps: int, smooth: bool = False) -> np.ndarray:
    return np.array(
        [
            mean_residual_test(moments(X, _residuals(rng, n, smooth), np.ones(n))).pvalue
            for _ in range(reps)
        ]
    )


@pytest.mark.parametrize("n", [3, 10, 100])
def test_false_alarm_rate_is_nominal_on_pure_noise_residuals(n, rng):
    """On residuals of fits to noise, p-values are uniform: each level is exceeded at its
    rate (within the 99.9 % binomial range). Without the small-sample correction of
    tr(S^2) the rates at N = 3 and 10 fall outside."""
    reps = 1500 if n < 100 else 400
    p = _pvalues(rng, n, reps)
    for level in (0.05, 0.2, 0.5):
        lo, hi = binom.interval(0.999, reps, level)
        assert lo <= np.sum(p < level) <= hi, (n, level, np.mean(p < level))


def test_correlated_noise_raises_no_false_alarms(rng):
    """Neighbouring channels correlated (an interpolated axis): the scatter between spectra
    carries the larger block variance, so the rate stays nominal."""
    reps = 600
    p = _pvalues(rng, 30, reps, smooth=True)
    lo, hi = binom.interval(0.999, reps, 0.05)
    assert lo <= np.sum(p < 0.05) <= hi


@pytest.mark.parametrize(("n", "height"), [(10, 1.5), (50, 0.6), (400, 0.25)])
def test_a_band_the_model_lacks_is_found(n, height, rng):
    """A Lorentzian at 720 cm-1 (FWHM 30) under every spectrum's noise, of a height near
    or below one spectrum's noise sigma, its part that the fit follows projected out."""
    band = height / (1.0 + ((X - 720.0) / 15.0) ** 2)
    q = _projector()
    left = band - q @ (q.T @ band)
    found = [
        mean_residual_test(moments(X, _residuals(rng, n) + left, np.ones(n))) for _ in range(20)
    ]
    assert all(t.misfit for t in found)
    assert all(t.statistic > 2.0 for t in found)


def test_statistic_ignores_a_common_noise_scale(rng):
    """A noise sigma wrong by the same factor for every spectrum changes nothing."""
    r = _residuals(rng, 20) + 0.1
    a = mean_residual_test(moments(X, r, np.ones(20)))
    b = mean_residual_test(moments(X, r, np.full(20, 3.0)))
    assert a.statistic == pytest.approx(b.statistic, rel=1e-12)
    assert a.pvalue == pytest.approx(b.pvalue, rel=1e-9)


def test_statistic_and_degrees_of_freedom_by_hand(rng):
    """``N |mean|^2 / tr(S)`` of the block values, h from tr(S)^2 / tr(S^2) corrected."""
    n = 12
    r = rng.normal(size=(n, X.size))
    got = mean_residual_test(moments(X, r, np.ones(n)))
    ids = np.floor(X / BLOCK)
    z = np.array([[row[ids == b].sum() / np.sqrt(np.sum(ids == b)) for b in np.unique(ids)]
                  for row in r])  # fmt: skip
    s = np.cov(z, rowvar=False)
    mean = z.mean(axis=0)
    tr, tr2 = np.trace(s), np.trace(s @ s)
    tr2 = (n - 1) ** 2 / ((n - 2) * (n + 1)) * (tr2 - tr**2 / (n - 1))
    h = min(tr**2 / tr2, z.shape[1])
    assert got.statistic == pytest.approx(n * mean @ mean / tr, rel=1e-10)
    assert got.df == pytest.approx((h, (n - 1) * h), rel=1e-10)
    assert got.pvalue == pytest.approx(f.sf(got.statistic, h, (n - 1) * h), rel=1e-9)


@pytest.mark.parametrize(
    ("value", "d1", "d2"),
    [(0.3, 3.0, 7.0), (1.0, 28.4, 2800.0), (4.5, 12.5, 50.0), (60.0, 30.0, 1200.0)],
)
def test_f_tail_is_scipy_s(value, d1, d2):
    assert _f_sf(value, d1, d2) == pytest.approx(f.sf(value, d1, d2), rel=1e-9, abs=1e-300)


def test_moments_add_up_over_chunks_and_axes(rng):
    """Chunks of one pool sum to the pool; spectra on other axes share the common blocks."""
    r = rng.normal(size=(9, X.size))
    whole = moments(X, r, np.ones(9))
    parts = moments(X, r[:4], np.ones(4)) + moments(X, r[4:], np.ones(5))
    np.testing.assert_allclose(parts.total, whole.total, rtol=1e-12)
    np.testing.assert_allclose(parts.outer, whole.outer, rtol=1e-12)
    assert parts.n == 9
    other = moments(X[100:], r[:2, 100:], np.ones(2))
    both = whole + other
    assert both.n == 11
    np.testing.assert_array_equal(both.blocks, np.unique(np.floor(X[100:] / BLOCK)))


def test_too_few_spectra_are_not_tested():
    one = mean_residual_test(moments(X, np.ones((1, X.size)), np.ones(1)))
    assert np.isnan(one.pvalue)
    assert not one.misfit
    assert one.record()["model_misfit"] is False


def test_level_is_strict():
    """A flag costs the pool its pooled fit: one false alarm in a thousand pools at most."""
    assert MISFIT_ALPHA <= 1e-3


@pytest.mark.parametrize("removed", [0, 10, 25, 60])
def test_effective_blocks_are_capped_by_the_parameters_removed(removed, rng):
    """White noise on 40 blocks: h near 40 uncapped; at most 40 - removed, at least 1."""
    r = rng.normal(size=(200, X.size))
    test = mean_residual_test(moments(X, r, np.ones(200)), removed)
    k = np.unique(np.floor(X / BLOCK)).size
    assert test.df[0] == pytest.approx(min(max(k - removed, 1), test.df[0]))
    assert test.df[0] <= max(k - removed, 1)
    if removed == 0:
        assert test.df[0] > 0.8 * k
    else:
        assert test.df[0] == max(k - removed, 1)


@pytest.mark.parametrize(
    ("added", "edge"),
    [
        (lambda: 0.0, None),
        (lambda: 1.5 * np.exp(-(X - X[0]) / 8.0), (195.0, 225.0)),
        (lambda: 0.6 / (1.0 + ((X - 625.0) / 20.0) ** 2), None),
    ],
    ids=["noise", "edge rise", "band inside"],
)
def test_structure_at_the_low_end_is_located_and_nowhere_else(added, edge, rng):
    r = _residuals(rng, 50) + added()
    found = mean_residual_test(moments(X, r, np.ones(50))).low_edge
    if edge is None:
        assert np.isnan(found)
    else:
        assert edge[0] <= found <= edge[1]
        assert found % BLOCK == 0


def test_the_low_edge_ends_at_the_first_block_within_edge_z(rng):
    r = _residuals(rng, 200)
    blocks = np.floor(X / BLOCK)
    # The first two blocks far off zero, the third just within EDGE_Z standard errors.
    for k, z in enumerate((3 * EDGE_Z, 2 * EDGE_Z, 0.5 * EDGE_Z)):
        sel = blocks == blocks[0] + k
        r[:, sel] += z / np.sqrt(200) / np.sqrt(sel.sum())
    test = mean_residual_test(moments(X, r, np.ones(200)))
    assert test.low_edge == (blocks[0] + 2) * BLOCK
    assert test.record()["misfit_low_edge"] == test.low_edge
