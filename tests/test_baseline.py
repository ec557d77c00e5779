"""Baseline stage: joint polynomials, pybaselines methods, user arrays and callables."""

import numpy as np
import pybaselines
import pytest

from nmcraman import InputError
from nmcraman.baseline import BASELINES, baseline_stage, legendre_basis

X = np.linspace(150.0, 900.0, 751)
BACKGROUND = 100 + 0.1 * X
Y = BACKGROUND + 500 * np.exp(-0.5 * ((X - 500) / 40) ** 2)


@pytest.mark.parametrize("order", range(7))
def test_polynomial_names_give_joint_order(order):
    stage = baseline_stage(X, Y, f"poly{order}")
    assert stage.order == order
    assert not stage.initial.any()


@pytest.mark.parametrize("name", [k for k in BASELINES if not k.startswith("poly") and k != "auto"])
def test_every_named_baseline_runs(name):
    stage = baseline_stage(X, Y, name)
    assert stage.initial.shape == Y.shape
    assert np.isfinite(stage.initial).all()
    if name != "none":
        assert stage.order == 1
        # The method is pybaselines' own, with its defaults, on the same data.
        reference, _ = getattr(pybaselines.Baseline(x_data=X), name)(Y)
        np.testing.assert_allclose(stage.initial, reference, rtol=1e-12, atol=1e-9)
        # Under the band's top it stays near the true background: it does not take the
        # band (measured with pybaselines 1.2 defaults: at most 68 counts off, AsLS).
        top = np.argmin(abs(X - 500))
        assert abs(stage.initial[top] - BACKGROUND[top]) < 0.2 * 500


def test_array_and_callable():
    assert baseline_stage(X, Y, np.zeros_like(Y), refine=2).order == 2
    stage = baseline_stage(X, Y, lambda x, y: 0.1 * x)
    np.testing.assert_allclose(stage.initial, 0.1 * X)


def test_legendre_basis_is_well_conditioned():
    b = legendre_basis(X, 5)
    assert b.shape == (6, X.size)
    assert np.linalg.cond(b @ b.T) < 1e3
    assert legendre_basis(X, -1).shape == (0, X.size)


@pytest.mark.parametrize(
    ("baseline", "kwargs", "match"),
    [
        ("poly9", {}, "unknown baseline"),
        ("wavelet", {}, "unknown baseline"),
        (np.ones(3), {}, "finite values"),
        (lambda x, y: np.full_like(y, np.nan), {}, "finite values"),
        ("asls", {"refine": 9}, "refine"),
        ("asls", {"bogus_option": 3}, "rejected its options"),
    ],
)
def test_bad_baselines(baseline, kwargs, match):
    with pytest.raises(InputError, match=match):
        baseline_stage(X, Y, baseline, **kwargs)
