"""Tests of nmcraman.spectrum: Spectrum.shifted, SpectralMap.shifted and map shapes."""

from __future__ import annotations

import numpy as np
import pytest

from nmcraman import InputError, SpectralMap, Spectrum

X = np.linspace(150.0, 900.0, 301)


def test_spectrum_shifted_moves_x_keeps_y_and_adds_up():
    s = Spectrum(X[::-1], np.arange(301.0), {"source": "a.txt"})
    moved = s.shifted(2.0).shifted(-0.5)
    np.testing.assert_allclose(moved.x, X + 1.5)
    np.testing.assert_array_equal(moved.y, s.y)
    assert moved.meta == {"source": "a.txt", "shift_cm1": 1.5}
    assert "shift_cm1" not in s.meta  # the original is unchanged


def test_map_shifted_keeps_spectra_and_coords():
    spectra = np.arange(2 * 3 * 301, dtype=float).reshape(2, 3, 301)
    coords = np.arange(12.0).reshape(6, 2)
    m = SpectralMap(X, spectra, coords, {"laser_nm": 532.0}).shifted(-1.25)
    np.testing.assert_allclose(m.x, X - 1.25)
    np.testing.assert_array_equal(m.spectra, spectra)
    np.testing.assert_array_equal(m.coords, coords)
    assert m.meta == {"laser_nm": 532.0, "shift_cm1": -1.25}


@pytest.mark.parametrize("dx", [np.nan, np.inf, "1", None, True, [1.0]])
def test_shift_must_be_a_finite_number(dx):
    with pytest.raises(InputError, match="shift must be a"):
        Spectrum(X, X).shifted(dx)


def test_map_takes_a_series_of_maps_but_not_a_lone_spectrum():
    spectra = np.arange(2 * 3 * 4 * 301, dtype=float).reshape(2, 3, 4, 301)
    m = SpectralMap(X[::-1], spectra)
    assert m.shape == (2, 3, 4)
    np.testing.assert_array_equal(m.spectra, spectra[..., ::-1])  # reordered with x
    with pytest.raises(InputError, match=r"map spectra must have shape .*got \(301,\)"):
        SpectralMap(X, np.ones(301))


def test_a_map_may_have_any_number_of_navigation_dimensions():
    spectra = np.zeros((2, 1, 2, 3, X.size))
    m = SpectralMap(X, spectra, meta={"dims": ("time", "z", "y", "x")})
    assert m.shape == (2, 1, 2, 3)
    with pytest.raises(InputError, match=r"\(\*navigation, "):
        SpectralMap(X, np.zeros(X.size))
