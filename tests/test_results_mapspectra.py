"""The spectra a map keeps (nmcraman/results/mapspectra.py): quantisation and baselines."""

import numpy as np
import pytest

from nmcraman.baseline import legendre_basis
from nmcraman.results.mapspectra import CODE_MISSING, NOISE_STEPS, MapSpectra, Quantised


def _rows(kind: str, rng) -> np.ndarray:
    x = np.linspace(150.0, 900.0, 751)
    if kind == "spectra":  # a band on a sloped background, with noise, several scales
        band = 1000.0 / (1.0 + ((x - 580.0) / 25.0) ** 2)
        return np.array([s * (band + 2 * x + rng.normal(0, 10, x.size)) for s in (1e-3, 1, 1e5)])
    if kind == "negative":
        return rng.normal(-50.0, 20.0, (3, x.size))
    if kind == "missing":
        rows = rng.normal(100.0, 5.0, (3, x.size))
        rows[0, 5] = np.nan
        rows[1, 100:110] = np.inf
        rows[2, :] = np.nan  # nothing finite
        return rows
    if kind == "flat":
        return np.full((2, x.size), 7.25)
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["spectra", "negative", "missing", "flat"])
def test_values_read_back_within_half_a_step(kind, rng):
    values = _rows(kind, rng)
    q = Quantised.of(values)
    assert q.codes.dtype == np.uint16
    back = q.values()
    finite = np.isfinite(values)
    assert np.array_equal(np.isnan(back), ~finite)
    assert (q.codes[~finite] == CODE_MISSING).all()
    assert (q.codes[finite] < CODE_MISSING).all()
    err = np.abs(np.where(finite, back - values, 0.0))
    # Half a step, plus the float rounding of offset + step * code.
    bound = 0.5 * q.step[:, None] + 1e-12 * np.abs(np.nan_to_num(values))
    assert (err <= bound).all()
    for row, v in enumerate(values):  # each row's range spans the codes
        if np.isfinite(v).any() and np.ptp(v[np.isfinite(v)]) > 0:
            assert q.codes[row][np.isfinite(v)].min() == 0
            assert q.codes[row][np.isfinite(v)].max() == CODE_MISSING - 1
            assert q.step[row] == pytest.approx(np.ptp(v[np.isfinite(v)]) / (CODE_MISSING - 1))
    np.testing.assert_array_equal(q.values(1), back[1])


def test_the_step_is_a_65534th_of_the_range(rng):
    values = _rows("spectra", rng)
    q = Quantised.of(values)
    err = np.abs(q.values() - values)
    rel = err.max(axis=1) / np.ptp(values, axis=1)
    assert (rel <= 0.5 / 65534 * (1 + 1e-9)).all()
    assert (rel > 0.1 / 65534).all()  # the bound is met, not beaten by luck


def test_the_step_is_at_least_an_eighth_of_the_noise(rng):
    """Codes finer than the noise spell out its digits, which a saved map cannot compress."""
    values = _rows("spectra", rng)
    noise = np.array([np.ptp(v) / 60 for v in values])
    noise[0] = np.nan  # no estimate: the range alone
    noise[1] = 0.0
    q = Quantised.of(values, noise)
    np.testing.assert_allclose(q.step[2:], noise[2:] / NOISE_STEPS)
    np.testing.assert_allclose(q.step[:2], np.ptp(values[:2], axis=1) / (CODE_MISSING - 1))
    err = np.abs(q.values() - values).max(axis=1)
    assert (err <= 0.5 * q.step * (1 + 1e-9)).all()
    assert q.codes[2:].max() < 60 * NOISE_STEPS + 1


def _spectra(rng, pixels: int, order: int, initial: bool) -> MapSpectra:
    x = np.linspace(180.0, 775.0, 596)
    data = Quantised.of(rng.normal(500.0, 50.0, (pixels, x.size)))
    start = (
        Quantised.of(np.exp(-x / 300.0) * rng.uniform(100, 200, (pixels, 1))) if initial else None
    )
    return MapSpectra(x, data, rng.normal(0, 100, (pixels, order + 1)), start)


@pytest.mark.parametrize(("order", "initial"), [(3, False), (0, False), (1, True), (-1, True)])
def test_baseline_is_the_legendre_polynomial_plus_the_start(order, initial, rng):
    s = _spectra(rng, 4, order, initial)
    for p in range(4):
        want = s.baseline_coef[p] @ legendre_basis(s.x, order) if order >= 0 else 0.0
        if initial:
            want = want + s.initial.values(p)
        np.testing.assert_allclose(s.baseline(p), want + np.zeros(s.x.size), rtol=1e-12)


def test_concat_and_with_baselines(rng):
    a, b = _spectra(rng, 3, 2, True), _spectra(rng, 2, 2, True)
    both = MapSpectra.concat([a, b])
    assert both.n_pixels == 5
    np.testing.assert_array_equal(both.data.values(4), b.data.values(1))
    np.testing.assert_array_equal(both.baseline(3), b.baseline(0))
    pick = np.array([True, False, True])
    other = _spectra(rng, 3, 2, True)
    mixed = a.with_baselines(pick, other)
    np.testing.assert_array_equal(mixed.baseline_coef[pick], other.baseline_coef[pick])
    np.testing.assert_array_equal(mixed.baseline_coef[~pick], a.baseline_coef[~pick])
    assert mixed.data is a.data
    assert mixed.initial is a.initial
