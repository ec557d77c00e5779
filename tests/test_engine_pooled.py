"""The pooled Levenberg-Marquardt's linear algebra: block solves that survive singular blocks."""

import numpy as np
import pytest

from nmcraman._engine import pooled as pooled_engine


def _gram(rng, k, m=40):
    jac = rng.normal(size=(m, k))
    return jac.T @ jac


def _blocks(rng, n=3, nu=2, nl=3, dead=((1, 2),)):
    """A block-arrow system whose spectrum blocks lose the (spectrum, slot) pairs ``dead``:
    a FREE slot of a band without area there, zero in its row, column and gradient."""
    jac = rng.normal(size=(n, 30, nu + nl))
    for s, j in dead:
        jac[s, :, nu + j] = 0.0
    a = np.transpose(jac, (0, 2, 1)) @ jac
    g = np.einsum("smk,sm->sk", jac, rng.normal(size=(n, 30)))
    return pooled_engine._System(
        costs=np.zeros(n), coefs=np.zeros((n, 1)), auu=a[:, :nu, :nu].sum(axis=0),
        auv=a[:, :nu, nu:], d=a[:, nu:, nu:], gu=g[:, :nu].sum(axis=0), gv=g[:, nu:],
    )  # fmt: skip


def _full(sys):
    """The whole normal matrix and gradient, shared slots first, then each spectrum's."""
    n, nu, nl = sys.auv.shape
    size = nu + n * nl
    mat = np.zeros((size, size))
    mat[:nu, :nu] = sys.auu
    for s in range(n):
        sl = slice(nu + s * nl, nu + (s + 1) * nl)
        mat[:nu, sl] = sys.auv[s]
        mat[sl, :nu] = sys.auv[s].T
        mat[sl, sl] = sys.d[s]
    return mat, np.concatenate([sys.gu, sys.gv.ravel()])


def test_solve_blocks_equals_numpy_on_regular_blocks(rng):
    mat = np.array([_gram(rng, 4) for _ in range(3)])
    rhs = rng.normal(size=(3, 4, 2))
    np.testing.assert_allclose(
        pooled_engine._solve_blocks(mat, rhs), np.linalg.solve(mat, rhs), rtol=1e-10
    )


@pytest.mark.parametrize("kind", ["zero_row", "rank_deficient", "all_zero"])
def test_solve_blocks_gives_a_finite_least_squares_step_on_singular_blocks(kind, rng):
    """A singular block (a band without area: a zero row and column; or two parameters
    that move the model alike) gets the least-norm solution instead of an error."""
    mat = np.array([_gram(rng, 4) for _ in range(2)])
    rhs = rng.normal(size=(2, 4, 1))
    if kind == "zero_row":
        mat[1, 2, :] = mat[1, :, 2] = 0.0
        rhs[1, 2] = 0.0
    elif kind == "rank_deficient":
        # Slots 0 and 1 move the model alike: exactly singular without a zero diagonal.
        mat[1] = np.diag([1.0, 1.0, 2.0, 3.0])
        mat[1, 0, 1] = mat[1, 1, 0] = 1.0
        rhs[1] = [[1.0], [1.0], [4.0], [3.0]]
    else:
        mat[1] = 0.0
        rhs[1] = 0.0
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.solve(mat, rhs)
    got = pooled_engine._solve_blocks(mat, rhs)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got[0], np.linalg.solve(mat[0], rhs[0]), rtol=1e-10)
    want = np.linalg.lstsq(mat[1], rhs[1], rcond=None)[0]
    np.testing.assert_allclose(got[1], want, rtol=1e-8, atol=1e-12)


def test_undamped_step_with_a_dead_slot_is_the_full_systems_least_squares_step(rng):
    """The Gauss-Newton step (no damping) when one spectrum's FREE slot moves nothing: it
    used to raise 'Singular matrix'; now it is the least-norm solution of the whole
    block-arrow system, with no step for the dead slot."""
    sys = _blocks(rng)
    du, dv = pooled_engine._solve(sys, 0.0)
    assert np.isfinite(du).all()
    assert np.isfinite(dv).all()
    assert dv[1, 2] == 0.0
    mat, grad = _full(sys)
    want = np.linalg.lstsq(mat, grad, rcond=None)[0]
    np.testing.assert_allclose(np.concatenate([du, dv.ravel()]), want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("lam", [0.0, 1e-3, 10.0])
def test_damped_steps_with_dead_slots_are_finite(lam, rng):
    sys = _blocks(rng, dead=((0, 0), (2, 1), (2, 2)))
    du, dv = pooled_engine._solve(sys, lam)
    assert np.isfinite(du).all()
    assert np.isfinite(dv).all()
    assert pooled_engine._predicted(sys, du, dv) >= 0.0


def test_inverse_marks_undetermined_parameters_nan(rng):
    """As a single fit's covariance: a zero diagonal (a band without area) gives NaN in its
    row and column, and the rest is the inverse of the determined block."""
    mat = np.array([_gram(rng, 4), _gram(rng, 4)])
    mat[1, 3, :] = mat[1, :, 3] = 0.0
    got = pooled_engine._inverse(mat)
    np.testing.assert_allclose(got[0], np.linalg.inv(mat[0]), rtol=1e-10)
    assert np.isnan(got[1, 3]).all()
    assert np.isnan(got[1, :, 3]).all()
    np.testing.assert_allclose(got[1, :3, :3], np.linalg.inv(mat[1, :3, :3]), rtol=1e-10)


def test_a_prior_on_the_shared_values_adds_its_precision_pull_and_penalty(rng):
    """``prior=(mean, precision)``: the shared block gains the precision, its gradient the
    pull towards the mean, the objective the quadratic; the spectra's blocks are as
    without it. FREE slots (here slot 2) take no part."""
    kind = np.array(
        [pooled_engine.SHARED, pooled_engine.POOLED, pooled_engine.FREE, pooled_engine.SHARED]
    )
    q, n = kind.size, 3
    prec = np.where(kind == pooled_engine.POOLED, 4.0, 0.0)
    a = np.array([_gram(rng, q) for _ in range(n)])
    args = (rng.uniform(0.5, 2.0, n), rng.uniform(size=n), np.zeros((n, 1)), a,
            rng.normal(size=(n, q)), rng.normal(size=q), rng.normal(size=(n, q)))  # fmt: skip
    mu = args[5]
    mean, precision = rng.normal(size=q), _gram(rng, q)
    precision[2, :] = precision[:, 2] = 0.0
    plain = pooled_engine._Blocks(kind, prec)
    held = pooled_engine._Blocks(kind, prec, (mean, precision))
    without, with_prior = plain.system(*args), held.system(*args)
    u = np.flatnonzero(kind != pooled_engine.FREE)
    pu = precision[np.ix_(u, u)]
    np.testing.assert_allclose(with_prior.auu - without.auu, pu, atol=1e-12)
    np.testing.assert_allclose(with_prior.gu - without.gu, pu @ (mean[u] - mu[u]), atol=1e-12)
    for name in ("auv", "d", "gv"):
        np.testing.assert_array_equal(getattr(with_prior, name), getattr(without, name))
    off = mu[u] - mean[u]
    v = args[6]
    np.testing.assert_allclose(held.penalty(mu, v) - plain.penalty(mu, v), off @ pu @ off)
