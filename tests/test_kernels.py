"""The numba kernels against their numpy twins (tests/reference.py)."""

import numpy as np
import pytest
from reference import (
    SHAPES,
    covariance,
    kaufman_normal_equations,
    model,
    numeric_jacobian,
    unit_profiles,
)

from nmcraman import FitOptions
from nmcraman._kernels import levmar, varpro
from nmcraman._kernels import profiles as profile_kernels
from nmcraman._kernels import stats as stat_kernels
from nmcraman.baseline import legendre_basis
from nmcraman.lineshapes import shape_code

X = np.linspace(200.0, 800.0, 601)


def _free(nb):
    """The parameter map of a fit that holds nothing: every slot its own."""
    return np.arange(2 * nb + 1)


def _settings(max_iter, ftol, xtol, gtol, all_starts=False):
    """Settings record of Lorentzian bands 2 cm-1 apart at least."""
    opts = FitOptions(max_iter=max_iter, ftol=ftol, xtol=xtol, gtol=gtol)
    return levmar.make_settings(profile_kernels.LORENTZIAN, False, opts, 2.0, all_starts)


#: The settings most kernel tests fit with: tight tolerances, no gtol stop.
SETTINGS = _settings(200, 1e-12, 1e-9, 0.0)


THETA = np.array([430.0, 480.0, 560.0, 80.0, 55.0, 40.0, 0.3])
NB = 3


@pytest.mark.parametrize("shape", SHAPES)
def test_band_columns_match_lineshapes(shape):
    n = X.size
    phi, dc, dw, de = (np.empty((NB, n)) for _ in range(4))
    profile_kernels.band_columns(X, THETA, NB, shape_code(shape), phi, dc, dw, de)
    np.testing.assert_allclose(phi, unit_profiles(X, THETA, NB, shape), rtol=1e-12, atol=0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fit_eta", [False, True])
def test_full_jacobian_matches_finite_differences(shape, fit_eta):
    fit_eta = fit_eta and shape == "pseudo_voigt"
    basis = legendre_basis(X, 3)
    coef = np.array([30.0, 50.0, 20.0, 1.0, 0.2, -0.1, 0.05])
    npar = 2 * NB + int(fit_eta) + NB + basis.shape[0]
    jac = np.empty((npar, X.size))
    profile_kernels.full_jacobian(X, basis, THETA, coef, NB, shape_code(shape), fit_eta, jac)
    ref = numeric_jacobian(X, basis, THETA, coef, NB, shape, fit_eta)
    scale = np.abs(ref).max(axis=1, keepdims=True)
    np.testing.assert_allclose(jac / scale, ref / scale, rtol=0, atol=1e-7)


@pytest.mark.parametrize("shape", SHAPES)
def test_model_kernel_matches_reference(shape):
    basis = legendre_basis(X, 2)
    coef = np.array([30.0, 50.0, 20.0, 1.0, 0.2, -0.1])
    comps = np.empty((NB, X.size))
    base = profile_kernels.model(X, basis, THETA, coef, NB, shape_code(shape), comps)
    np.testing.assert_allclose(
        comps.sum(axis=0) + base, model(X, basis, THETA, coef, NB, shape), rtol=1e-12
    )


@pytest.mark.parametrize("dead_band", [False, True])
def test_covariance_matches_numpy_twin(dead_band):
    basis = legendre_basis(X, 3)
    coef = np.array([30.0, 0.0 if dead_band else 50.0, 20.0, 1.0, 0.2, -0.1, 0.05])
    npar = 3 * NB + basis.shape[0]
    jac = np.empty((npar, X.size))
    profile_kernels.full_jacobian(X, basis, THETA, coef, NB, 0, False, jac)
    cov = np.empty((npar, npar))
    stat_kernels.covariance(X, basis, THETA, coef, NB, 0, False, 2.5, _free(NB), cov)
    ref = covariance(jac, 2.5)
    np.testing.assert_array_equal(np.isnan(cov), np.isnan(ref))
    assert np.isnan(cov[1, 1]) == dead_band
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(cov[ok], ref[ok], rtol=1e-6, atol=1e-12 * np.abs(ref[ok]).max())


def test_covariance_of_held_slots_is_that_of_the_reduced_parameters():
    """Fixed slots get zero rows, a tied slot its target's: the covariance of the free
    parameters (Jacobian columns folded by the map) spread back onto every slot."""
    basis = legendre_basis(X, 3)
    coef = np.array([30.0, 50.0, 20.0, 1.0, 0.2, -0.1, 0.05])
    npar = 3 * NB + basis.shape[0]
    link = _free(NB)
    link[1] = -1  # centre of band 1 fixed
    link[NB + 2] = NB  # FWHM of band 2 tied to band 0's
    jac = np.empty((npar, X.size))
    profile_kernels.full_jacobian(X, basis, THETA, coef, NB, 0, False, jac)
    cov = np.empty((npar, npar))
    stat_kernels.covariance(X, basis, THETA, coef, NB, 0, False, 2.5, link, cov)
    free = [s for s in range(npar) if s >= 2 * NB or link[s] == s]
    folded = jac.copy()
    folded[NB] += jac[NB + 2]
    ref_free = covariance(folded[free], 2.5)
    source = {s: s for s in free} | {NB + 2: NB}
    for s in range(npar):
        for t in range(npar):
            if s == 1 or t == 1:
                assert cov[s, t] == 0.0
            else:
                ref = ref_free[free.index(source[s]), free.index(source[t])]
                assert cov[s, t] == pytest.approx(ref, rel=1e-6, abs=1e-12 * abs(ref_free).max())


def test_lm_holds_fixed_and_tied_slots(rng):
    """A fixed centre stays at its value, a tied FWHM equals its target at every step's
    end; compiled and plain Python agree."""
    x, y, basis, lo, hi = _small_problem(rng)
    lo, hi = lo.copy(), hi.copy()
    lo[1] = hi[1] = 555.0
    link = _free(2)
    link[1] = -1
    link[3] = 2
    out = []
    for fn in (levmar.fit_varpro, levmar.fit_varpro.py_func):
        theta = np.array([480.0, 555.0, 50.0, 50.0, 0.5])
        (status, *_), _ = _two_bands(fn, x, y, basis, theta, lo, hi, SETTINGS, link)
        assert status != levmar.STATUS_MAX_ITER
        assert theta[1] == 555.0
        assert theta[3] == theta[2]
        out.append(theta)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-10)


def _two_bands(fn, x, y, basis, theta, lo, hi, settings, link=None):
    """``fn`` (`fit_varpro` or its Python source) on the two bands of `_small_problem`."""
    coef = np.empty(basis.shape[0] + 2)
    link = _free(2) if link is None else link
    return fn(x, y, basis, theta, lo, hi, np.array([0, 1]), link, settings, coef), coef


def _small_problem(rng):
    x = np.linspace(300.0, 700.0, 161)
    basis = legendre_basis(x, 1)
    truth = np.array([470.0, 560.0, 60.0, 45.0, 0.5])
    y = model(x, basis, truth, np.array([40.0, 25.0, 1.0, 0.1]), 2, "lorentzian")
    y = (y + rng.normal(0, 0.005, x.size)) / y.max()
    lo = np.array([430.0, 520.0, 10.0, 10.0, 0.5])
    hi = np.array([510.0, 600.0, 120.0, 120.0, 0.5])
    return x, y, basis, lo, hi


def test_compiled_lm_equals_its_python_source(rng):
    """The jitted optimiser and the same code run as plain Python agree to 1e-10."""
    x, y, basis, lo, hi = _small_problem(rng)
    start = np.array([480.0, 550.0, 50.0, 50.0, 0.5])
    out = []
    for fn in (levmar.fit_varpro, levmar.fit_varpro.py_func):
        theta = start.copy()
        (status, *_), coef = _two_bands(fn, x, y, basis, theta, lo, hi, SETTINGS)
        out.append((status, theta, coef))
    assert out[0][0] == out[1][0] != levmar.STATUS_MAX_ITER
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-10)
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-10)


def test_lm_respects_bounds_and_order(rng):
    x, y, basis, lo, hi = _small_problem(rng)
    hi[1] = 540.0  # the true second centre (560) is outside: the fit must stop at 540
    theta = np.array([480.0, 530.0, 50.0, 50.0, 0.5])
    _two_bands(levmar.fit_varpro, x, y, basis, theta, lo, hi, _settings(300, 1e-12, 1e-9, 0.0))
    assert np.all(theta >= lo - 1e-12)
    assert np.all(theta <= hi + 1e-12)
    assert theta[1] == pytest.approx(540.0)
    assert theta[0] < theta[1]


def test_project_keeps_order_and_separation():
    theta = np.array([500.0, 499.0, 40.0, 40.0, 0.5])
    lo = np.array([450.0, 480.0, 10.0, 10.0, 0.5])
    hi = np.array([520.0, 560.0, 90.0, 90.0, 0.5])
    varpro.project(theta, lo, hi, np.array([0, 1]), 2, 2.0)
    assert theta[1] - theta[0] == pytest.approx(2.0)


def test_kernels_do_not_modify_inputs(rng):
    x, y, basis, lo, hi = _small_problem(rng)
    for arr in (x, y, basis, lo, hi):
        arr.flags.writeable = False
    theta = np.array([480.0, 550.0, 50.0, 50.0, 0.5])
    (status, *_), _ = _two_bands(levmar.fit_varpro, x, y, basis, theta, lo, hi, SETTINGS)
    assert status != levmar.STATUS_MAX_ITER


def _evaluated(shape, n_points=601):
    """Kernel state after `evaluate` at THETA on a spectrum with every band present."""
    x = np.linspace(200.0, 800.0, n_points)
    basis = legendre_basis(x, 3)
    true = THETA.copy()
    true[:NB] += (5.0, -4.0, 6.0)
    y = model(x, basis, true, np.array([30.0, 50.0, 20.0, 1.0, 0.2, -0.1, 0.05]), NB, shape)
    y = y + 0.01 * np.sin(x / 7.0)
    n, m = x.size, NB + basis.shape[0]
    phi = np.empty((m, n))
    dc, dw, de = (np.empty((NB, n)) for _ in range(3))
    h, g, coef, r = np.empty((m, m)), np.empty(m), np.empty(m), np.empty(n)
    passive = np.empty(m, dtype=np.bool_)
    varpro.design(basis, y, NB, phi, h, g)
    varpro.evaluate(x, y, THETA, NB, shape_code(shape), phi, dc, dw, de, h, g, coef, passive,
               np.empty((2 * NB + 1, 2 * NB + 1)), r)  # fmt: skip
    assert passive.all()
    return x, basis, coef, (phi, dc, dw, de, coef, passive, r)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fit_eta", [False, True])
def test_normal_equations_match_explicit_projection(shape, fit_eta):
    """Stride 1: the n x n projected Jacobian, formed explicitly, gives the same system."""
    fit_eta = fit_eta and shape == "pseudo_voigt"
    x, basis, coef, state = _evaluated(shape)
    q = 2 * NB + int(fit_eta)
    a, jtr = np.empty((q, q)), np.empty(q)
    phi, dc, dw, de, coef, passive, r = state
    varpro.normal_equations(NB, q, fit_eta, phi, dc, dw, de, coef, passive, r, 1, a, jtr)
    ref_a, ref_jtr = kaufman_normal_equations(x, basis, THETA, coef, NB, shape, fit_eta, r)
    np.testing.assert_allclose(a, ref_a, rtol=1e-5, atol=1e-6 * np.abs(ref_a).max())
    np.testing.assert_allclose(jtr, ref_jtr, rtol=1e-5, atol=1e-6 * np.abs(ref_jtr).max())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n_points", [601, 1201])
def test_strided_normal_equations_keep_gradient_and_approximate_matrix(shape, n_points):
    """The matrix from every stride-th point is close and PSD; the gradient is exact."""
    x, _, _, state = _evaluated(shape, n_points)
    stride = varpro.hessian_stride(THETA, NB, x[1] - x[0])
    assert stride > 1
    q = 2 * NB
    out = {}
    for s in (1, stride):
        a, jtr = np.empty((q, q)), np.empty(q)
        varpro.normal_equations(NB, q, False, *state[:4], *state[4:], s, a, jtr)
        out[s] = a, jtr
    (a1, g1), (a_s, g_s) = out[1], out[stride]
    np.testing.assert_array_equal(g_s, g1)
    assert np.linalg.norm(a_s - a1) <= 1e-3 * np.linalg.norm(a1)
    assert np.linalg.eigvalsh(a_s).min() >= -1e-10 * np.abs(a_s).max()


def _multistart(x, y, basis, lo, hi, starts, bound0, all_starts=True):
    theta, coef = np.empty(starts.shape[1]), np.empty(basis.shape[0] + 2)
    out = levmar.fit_multistart(
        x, y, basis, starts, lo, hi, np.array([0, 1]), _free(2),
        _settings(200, 1e-12, 1e-9, 0.0, all_starts), np.empty((0, starts.shape[1])), bound0,
        theta, coef,
    )  # fmt: skip
    return out, theta


def test_multistart_keeps_the_best_start_and_stops_duplicates(rng):
    x, y, basis, lo, hi = _small_problem(rng)
    starts = np.array([[480.0, 550.0, 50.0, 50.0, 0.5], [481.0, 549.0, 51.0, 49.0, 0.5]])
    single = starts[0].copy()
    ref, _ = _two_bands(levmar.fit_varpro, x, y, basis, single, lo, hi, SETTINGS)
    (status, n_iter, _, cost, best), theta = _multistart(x, y, basis, lo, hi, starts, np.inf)
    assert status != levmar.STATUS_MAX_ITER
    assert best == 0
    assert cost == ref[3]
    np.testing.assert_array_equal(theta, single)
    # The second start begins within DUPLICATE_TOL of the first one's path: it stops
    # at once instead of converging again.
    assert n_iter <= ref[1] + 1


@pytest.mark.parametrize(
    ("index", "value", "coef0", "expected"),
    [
        (None, None, 40.0, False),  # interior, both bands present
        (None, None, 0.0, True),  # a band squeezed out
        (0, 430.0, 40.0, True),  # centre on its lower bound
        (1, 600.0, 40.0, True),  # centre on its upper bound
        (2, 10.0 + 0.5 * stat_kernels.BOUND_TOL, 40.0, True),  # FWHM within BOUND_TOL of its bound
        (3, 120.0, 40.0, True),  # FWHM on its upper bound
        (2, 10.0 + 2 * stat_kernels.BOUND_TOL, 40.0, False),  # just off the bound
    ],
)
def test_trapped_marks_minima_with_a_band_on_a_bound_or_absent(index, value, coef0, expected):
    _, _, _, lo, hi = _small_problem(np.random.default_rng(0))
    theta = np.array([470.0, 560.0, 60.0, 45.0, 0.5])
    if index is not None:
        theta[index] = value
    assert levmar.trapped(theta, np.array([coef0, 25.0, 1.0, 0.1]), lo, hi, 2) is expected


def test_multistart_stops_at_the_first_untrapped_minimum(rng):
    """Unless all starts are asked for, an interior first minimum is kept alone."""
    x, y, basis, lo, hi = _small_problem(rng)
    starts = np.array([[480.0, 550.0, 50.0, 50.0, 0.5], [455.0, 585.0, 95.0, 25.0, 0.5]])
    (_, it_first, _, cost_first, _), first = _multistart(x, y, basis, lo, hi, starts[:1], np.inf)
    (_, it_all, _, _, _), _ = _multistart(x, y, basis, lo, hi, starts, np.inf)
    out, theta = _multistart(x, y, basis, lo, hi, starts, np.inf, all_starts=False)
    assert not levmar.trapped(first, np.ones(4), lo, hi, 2)
    assert (out[1], out[3], out[4]) == (it_first, cost_first, 0)
    np.testing.assert_array_equal(theta, first)
    assert it_all > it_first  # the second start ran when all were asked for


def test_multistart_runs_on_while_the_best_minimum_is_trapped(rng):
    """With a FWHM bound below the true width every minimum is trapped: all starts run."""
    x, y, basis, lo, hi = _small_problem(rng)
    hi = hi.copy()
    hi[2] = 40.0  # the first band is 60 cm-1 wide
    starts = np.array([[480.0, 550.0, 30.0, 50.0, 0.5], [455.0, 585.0, 20.0, 25.0, 0.5]])
    every = _multistart(x, y, basis, lo, hi, starts, np.inf)
    some = _multistart(x, y, basis, lo, hi, starts, np.inf, all_starts=False)
    assert levmar.trapped(every[1], np.ones(4), lo, hi, 2)
    assert some[0] == every[0]
    np.testing.assert_array_equal(some[1], every[1])


def test_a_minimum_on_a_bound_stops_by_gtol(rng):
    """The push of the step against a bound is no decrease left to gain: gtol applies."""
    x, y, basis, lo, hi = _small_problem(rng)
    hi = hi.copy()
    hi[2] = 40.0  # below the first band's 60 cm-1
    theta = np.array([480.0, 550.0, 30.0, 50.0, 0.5])
    settings = _settings(200, 1e-14, 1e-12, 1e-4)
    (status, *_), _ = _two_bands(levmar.fit_varpro, x, y, basis, theta, lo, hi, settings)
    assert theta[2] == hi[2]
    assert status == levmar.STATUS_GTOL


def test_multistart_gives_up_starts_worse_than_a_known_cost(rng):
    """A start that cannot reach a better cost known from elsewhere stops as worse."""
    x, y, basis, lo, hi = _small_problem(rng)
    starts = np.array([[480.0, 550.0, 50.0, 50.0, 0.5]])
    (_, _, _, cost, _), _ = _multistart(x, y, basis, lo, hi, starts, np.inf)
    (status, n_iter, _, worse_cost, _), _ = _multistart(x, y, basis, lo, hi, starts, 0.5 * cost)
    assert status == levmar.STATUS_WORSE
    assert worse_cost == np.inf
    assert n_iter == levmar.WORSE_AFTER


def test_exp_nonpositive_matches_numpy_to_one_ulp(rng):
    """The vectorised exp of the Gaussian profiles, over the whole range of float64,
    subnormal results and underflow to zero included."""
    t = -np.concatenate(
        [
            rng.uniform(0.0, 1.0, 2000),
            rng.uniform(0.0, 760.0, 2000),
            [0.0, 1e-300, 0.5 * np.log(2.0), 708.3, 708.4, 745.0, 745.2, 746.0, 800.0, 1e300],
        ]
    )
    out, work = np.empty_like(t), np.empty_like(t)
    profile_kernels.exp_nonpositive(t, out, work)
    ref = np.exp(t)
    normal = ref >= np.finfo(float).tiny
    np.testing.assert_allclose(out[normal], ref[normal], rtol=2.3e-16, atol=0)
    np.testing.assert_allclose(out[~normal], ref[~normal], rtol=0, atol=5e-324)  # one ulp
    np.testing.assert_array_equal(out == 0, ref == 0)


@pytest.mark.parametrize(
    ("centre", "fwhm", "area", "errs", "code"),
    [
        (550.0, 40.0, 2.0, (1.0, 2.0, 0.1), 0),
        (500.0, 40.0, 2.0, (1.0, 2.0, 0.1), stat_kernels.FLAG_POSITION_AT_BOUND),
        (600.0 - 1e-4, 40.0, 2.0, (1.0, 2.0, 0.1), stat_kernels.FLAG_POSITION_AT_BOUND),
        (550.0, 80.0, 2.0, (1.0, 2.0, 0.1), stat_kernels.FLAG_FWHM_AT_BOUND),
        (
            500.0,
            10.0,
            2.0,
            (1.0, 2.0, 0.1),
            stat_kernels.FLAG_POSITION_AT_BOUND | stat_kernels.FLAG_FWHM_AT_BOUND,
        ),
        (
            550.0,
            40.0,
            2.0,
            (1.0, 2.0, 1.5),
            stat_kernels.FLAG_UNRESOLVED,
        ),  # area error > half the area
        (
            550.0,
            40.0,
            2.0,
            (1.0, 25.0, 0.1),
            stat_kernels.FLAG_UNRESOLVED,
        ),  # FWHM error > half the FWHM
        (550.0, 40.0, 2.0, (np.nan, 2.0, 0.1), stat_kernels.FLAG_UNRESOLVED),
        (
            550.0,
            80.0,
            2.0,
            (1.0, 2.0, np.inf),
            stat_kernels.FLAG_FWHM_AT_BOUND | stat_kernels.FLAG_UNRESOLVED,
        ),
        (500.0, 80.0, 0.0, (1.0, 2.0, 0.1), stat_kernels.FLAG_ABSENT),  # absent overrides the rest
    ],
)
def test_band_table_numbers_and_flags(centre, fwhm, area, errs, code):
    """Band 0 is the case; band 1 is a clean band. Values come back in data units."""
    scale = 10.0
    theta = np.array([centre, 700.0, fwhm, 30.0, 0.5])
    coef = np.array([area / scale, 6.0 / scale, 0.3])
    lo = np.array([500.0, 650.0, 10.0, 10.0, 0.5])
    hi = np.array([600.0, 750.0, 80.0, 80.0, 0.5])
    # err: centres, FWHMs, eta, areas, baseline, then the two area-% errors.
    err = np.array([errs[0], 0.5, errs[1], 1.0, 0.0, errs[2], 0.2, 0.01, 3.0, 4.0])
    table = np.empty((len(stat_kernels.TABLE_ROWS), 2))
    codes = np.empty(2, dtype=np.int64)
    stat_kernels.band_table(
        theta, coef, 2, profile_kernels.LORENTZIAN, scale, lo, hi, err, 5, table, codes
    )
    assert codes.tolist() == [code, 0]
    rows = dict(zip(stat_kernels.TABLE_ROWS, table, strict=True))
    np.testing.assert_array_equal(rows["position"], theta[:2])
    np.testing.assert_array_equal(rows["fwhm_err"], [errs[1], 1.0])
    np.testing.assert_allclose(rows["area"], [area, 6.0])
    np.testing.assert_allclose(rows["area_pct"], [100 * area / (area + 6), 600 / (area + 6)])
    np.testing.assert_array_equal(rows["area_pct_err"], [3.0, 4.0])
    np.testing.assert_allclose(rows["height"], rows["area"] / theta[2:4] * 2 / np.pi)
