"""Dense linear algebra kernels against numpy and scipy."""

import numpy as np
import pytest
from reference import nnls_free, unit_profiles

from nmcraman._kernels import linalg as linalg_kernels
from nmcraman.baseline import legendre_basis

X = np.linspace(200.0, 800.0, 601)


def _spd_system(rng, k):
    """A random well-posed symmetric positive definite system ``a z = b``."""
    m = rng.normal(size=(k, k + 4))
    return m @ m.T, rng.normal(size=k)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_chol_solve_matches_numpy(rng, k):
    a, b = _spd_system(rng, k)
    out = np.empty(k)
    linalg_kernels.chol_solve(a, b, np.arange(k), k, np.empty((k, k)), out)
    np.testing.assert_allclose(out, np.linalg.solve(a, b), rtol=1e-8)


@pytest.mark.parametrize("seed", range(6))
def test_nnls_free_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    basis = legendre_basis(X, 2)
    theta = np.r_[np.sort(rng.uniform(350, 650, 4)), rng.uniform(20, 90, 4), 0.5]
    phi = np.vstack([unit_profiles(X, theta, 4, "lorentzian"), basis])
    # Some true areas negative so the constraint binds.
    y = np.r_[rng.normal(0, 40, 4), rng.normal(0, 1, 3)] @ phi + rng.normal(0, 0.01, X.size)
    h = phi @ phi.T
    g = phi @ y
    coef = np.empty(phi.shape[0])
    passive = np.empty(phi.shape[0], dtype=np.bool_)
    linalg_kernels.nnls_free(h, g, 4, coef, passive, np.empty((7, 7)))
    ref = nnls_free(phi, y, 4)
    assert (coef[:4] >= 0).all()
    cost = np.sum((y - coef @ phi) ** 2)
    ref_cost = np.sum((y - ref @ phi) ** 2)
    assert cost <= ref_cost * (1 + 1e-8) + 1e-12
    np.testing.assert_allclose(coef, ref, atol=1e-6 * np.abs(ref).max())


@pytest.mark.parametrize("k", [1, 4, 9])
def test_chol_forward_gives_the_quadratic_form(rng, k):
    """z = L^-1 D b from the factor: z . z equals b^T a^-1 b, the Gram correction."""
    a, b = _spd_system(rng, k)
    idx = np.arange(k)
    low, d, z = np.empty((k, k)), np.empty(k), np.empty(k)
    linalg_kernels.chol_factor(a, idx, k, low, d)
    linalg_kernels.chol_forward(low, d, idx, k, b, z)
    assert z @ z == pytest.approx(b @ np.linalg.solve(a, b), rel=1e-9)


@pytest.mark.parametrize("k", [1, 5, 25])
def test_chol_inverse_matches_numpy(rng, k):
    a, _ = _spd_system(rng, k)
    a *= np.outer(np.logspace(0, 6, k), np.logspace(0, 6, k))  # badly scaled, as covariances
    low, d, inv = np.empty((k, k)), np.empty(k), np.empty((k, k))
    linalg_kernels.chol_factor(a, np.arange(k), k, low, d)
    linalg_kernels.chol_inverse(low, d, k, inv)
    np.testing.assert_allclose(inv, np.linalg.inv(a), rtol=1e-7, atol=1e-9 * np.abs(inv).max())


@pytest.mark.parametrize("src_step", [1, 2])
def test_copyto_fills_a_row_view_like_slice_assignment(rng, src_step):
    src = rng.normal(size=7 * src_step)[::src_step]
    dst = np.zeros((3, 7))
    linalg_kernels.copyto(dst[1], src)
    np.testing.assert_array_equal(dst[1], src)
    assert not dst[[0, 2]].any()
