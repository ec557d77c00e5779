"""Pooling through time: the random-walk smoother, and the option at every door."""

from __future__ import annotations

import numpy as np
import pytest

from nmcraman import deconvolve_map
from nmcraman.cli import main
from nmcraman.errors import InputError
from nmcraman.maps import deconvolve_batch
from nmcraman.maps.pooltime import leave_one_out, smooth_walk

#: The fixed model: fast, and the model choice is not what these tests are about.
FIXED = {"bands": "nmc+lo", "window": "bands", "baseline": "poly3", "progress": False}
X = np.arange(150.0, 901.0)


def _observed_walk(rng, steps=7, d=2, missing=(3,)):
    y = rng.normal(size=(steps, d))
    y[list(missing)] = np.nan
    a = rng.normal(size=(steps, d, d))
    r = a @ a.transpose(0, 2, 1) + 0.5 * np.eye(d)
    return y, r


def _gls(y, r, q):
    """The walk's posterior by brute force: one Gaussian over every state at once.

    Its precision sums the walk's steps (``1/q`` on each difference; the first state
    flat) and the observations; its mean solves the normal equations. Returns the
    precision, the mean (steps, d) and the right-hand side.
    """
    steps, d = y.shape
    n = steps * d
    prec, rhs = np.zeros((n, n)), np.zeros(n)
    for t in range(1, steps):
        diff = np.zeros((d, n))
        diff[:, t * d : (t + 1) * d] = np.eye(d)
        diff[:, (t - 1) * d : t * d] = -np.eye(d)
        prec += diff.T @ np.diag(1.0 / q) @ diff
    for t in range(steps):
        if np.all(np.isfinite(y[t])):
            inv = np.linalg.inv(r[t])
            prec[t * d : (t + 1) * d, t * d : (t + 1) * d] += inv
            rhs[t * d : (t + 1) * d] += inv @ y[t]
    return prec, np.linalg.solve(prec, rhs).reshape(steps, d), rhs


@pytest.mark.parametrize("q", [[0.3, 0.05], [1e-4, 10.0]])
@pytest.mark.parametrize("missing", [(3,), (0, 1), (6,)])
def test_smoother_is_the_gaussian_posterior_of_the_walk(rng, q, missing):
    y, r = _observed_walk(rng, missing=missing)
    q = np.array(q)
    walk = smooth_walk(y, r, q)
    prec, mean, _ = _gls(y, r, q)
    cov = np.linalg.inv(prec)
    d = y.shape[1]
    np.testing.assert_allclose(walk.mean, mean, atol=1e-9)
    for t in range(y.shape[0]):
        np.testing.assert_allclose(walk.cov[t], cov[t * d : (t + 1) * d, t * d : (t + 1) * d],
                                   atol=1e-9)  # fmt: skip


def test_a_flat_walk_is_the_precision_weighted_mean(rng):
    y = rng.normal(size=(5, 1))
    r = rng.uniform(0.5, 2.0, size=(5, 1, 1))
    walk = smooth_walk(y, r, np.array([1e-300]))
    want = np.sum(y[:, 0] / r[:, 0, 0]) / np.sum(1.0 / r[:, 0, 0])
    np.testing.assert_allclose(walk.mean[:, 0], want, rtol=1e-9)
    np.testing.assert_allclose(walk.cov[:, 0, 0], 1.0 / np.sum(1.0 / r[:, 0, 0]), rtol=1e-9)


@pytest.mark.parametrize("t", [0, 2, 3, 6])
def test_leave_one_out_is_the_posterior_without_that_step(rng, t):
    y, r = _observed_walk(rng)
    q = np.array([0.3, 0.05])
    walk = smooth_walk(y, r, q)
    mean, precision = leave_one_out(walk, y, r)
    d = y.shape[1]
    prec, _, rhs = _gls(y, r, q)
    block = slice(t * d, (t + 1) * d)
    if np.all(np.isfinite(y[t])):  # drop step t's observation
        inv = np.linalg.inv(r[t])
        prec[block, block] -= inv
        rhs[block] -= inv @ y[t]
    cov = np.linalg.inv(prec)
    np.testing.assert_allclose(mean[t], (cov @ rhs)[block], atol=1e-8)
    np.testing.assert_allclose(precision[t], np.linalg.inv(cov[block, block]), atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_step_variances_of_a_simulated_walk_are_recovered(seed):
    """300 steps of variances 1 and 0.04, observed with variance 0.01: within 25 %."""
    rng = np.random.default_rng(seed)
    q = np.array([1.0, 0.04])
    states = np.cumsum(rng.normal(size=(300, 2)) * np.sqrt(q), axis=0)
    y = states + 0.1 * rng.normal(size=states.shape)
    walk = smooth_walk(y, np.tile(0.01 * np.eye(2), (300, 1, 1)))
    np.testing.assert_allclose(walk.q, q, rtol=0.25)
    assert np.sqrt(np.mean((walk.mean - states) ** 2)) < 0.1  # better than the observations


def test_estimated_variance_maximises_the_likelihood(rng):
    states = np.cumsum(rng.normal(scale=0.3, size=(200, 1)), axis=0)
    y = states + rng.normal(size=states.shape)
    r = np.ones((200, 1, 1))
    walk = smooth_walk(y, r, tol=1e-9, rounds=1000)
    for factor in (0.8, 1.25):
        assert smooth_walk(y, r, walk.q * factor).loglik < walk.loglik


def test_a_known_shift_is_followed_through_time(shifting_series):
    cube, truth = shifting_series
    m = deconvolve_map(cube, X, dims=("time", "y", "x"), pooling="phases", through="time",
                       **FIXED)  # fmt: skip
    got = m.trend("position", band="Mn_A1g")["mean"].to_numpy()
    assert np.sqrt(np.mean((got - truth.mean(axis=1)) ** 2)) < 1.0
    assert m.meta["pooling"]["through"] == "time"
    assert all("walk_sd" in p for p in m.meta["pooling"]["phases"])


def test_dask_pools_through_time_as_in_memory(shifting_series):
    da = pytest.importorskip("dask.array")
    cube, _ = shifting_series
    kw = {"dims": ("time", "y", "x"), "pooling": "phases", "through": "time", **FIXED}
    here = deconvolve_map(cube, X, **kw)
    there = deconvolve_map(da.from_array(cube, chunks=(2, 1, 3, -1)), X, **kw)
    np.testing.assert_allclose(there.params["position"], here.params["position"], atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"through": "time"}, "pass pooling='phases'"),
        ({"through": "time", "pooling": "phases", "dims": ("y", "x", "z")}, "no dimension 'time'"),
        ({"through": 0, "pooling": "phases"}, "names a navigation dimension"),
    ],
)
def test_through_is_refused_where_it_cannot_apply(shifting_series, kwargs, match):
    cube, _ = shifting_series
    with pytest.raises(InputError, match=match):
        deconvolve_map(cube, X, **{**FIXED, "dims": ("time", "y", "x"), **kwargs})


def test_through_a_line_s_only_dimension_is_refused(shifting_series):
    cube, _ = shifting_series
    with pytest.raises(InputError, match="needs a dimension besides it"):
        deconvolve_map(cube[:, 0, 0], X, dims=("time",), pooling="phases", through="time",
                       **FIXED)  # fmt: skip


def test_through_without_pooling_is_refused_before_a_file_is_read(tmp_path):
    with pytest.raises(InputError, match="pass pooling='phases'"):
        deconvolve_map(tmp_path / "missing.txt", through="time")


def test_a_batch_has_no_dimension_to_pool_through(shifting_series):
    cube, _ = shifting_series
    with pytest.raises(TypeError, match="'through'"):
        deconvolve_batch(X, cube.reshape(-1, X.size), **FIXED, pooling="phases", through=0)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["one.npy", "--through"], "--through applies to --pooling phases"),
        (["one.npy", "--through", "--pooling", "phases"], "add --series"),
    ],
)
def test_cli_refuses_through_without_a_pooled_series(tmp_path, capsys, monkeypatch, argv, said):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "one.npy").write_bytes(b"")
    status = main(["map", *argv, "-o", "out.csv"])
    _, err = capsys.readouterr()
    assert status == 2
    assert said in err
    assert len(err.strip().splitlines()) == 1
