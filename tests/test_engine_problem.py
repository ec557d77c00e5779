"""_engine.problem: one parameter layout for every consumer; shared geometries cannot change."""

import dataclasses

import numpy as np
import pytest

from nmcraman._engine.problem import Layout, geometry
from nmcraman._kernels import profiles as profile_kernels
from nmcraman.bands import resolve_bands


@pytest.mark.parametrize(("n_basis", "fit_eta"), [(4, False), (2, True), (0, False)])
def test_layout_slices_cover_the_names_once(n_basis, fit_eta):
    lay = Layout(("a", "b", "c"), n_basis, fit_eta)
    names = np.array(lay.names)
    assert len(names) == lay.n_params == lay.n_nonlinear + lay.n_linear
    parts = [names[lay.position], names[lay.fwhm], names[lay.area], names[lay.baseline]]
    if fit_eta:
        assert names[lay.eta] == "eta"
        parts.append(names[lay.eta : lay.eta + 1])
    assert sorted(np.concatenate(parts)) == sorted(names)
    assert list(names[lay.area]) == ["a_area", "b_area", "c_area"]
    assert lay.area_pct == slice(lay.n_params, lay.n_errors)


@pytest.mark.parametrize("shape", ["lorentzian", "pseudo_voigt"])
def test_layout_rows_follow_the_jacobian(shape, core_spectrum):
    """`full_jacobian` writes one row per name of the layout: each band's area row is
    its unit profile, each baseline row its basis column."""
    geo = geometry(core_spectrum.x, resolve_bands("nmc"), shape=shape, baseline_order=2)
    lay = geo.layout
    coef = np.ones(lay.n_linear)
    jac = np.empty((lay.n_params, geo.x.size))
    profile_kernels.full_jacobian(geo.x, geo.basis, geo.starts[0], coef, lay.nb, geo.shape_code,
                    geo.fit_eta, jac)  # fmt: skip
    np.testing.assert_array_equal(jac[lay.baseline], geo.basis)
    profiles = np.empty((lay.nb, geo.x.size))
    profile_kernels.model(geo.x, geo.basis, geo.starts[0], coef, lay.nb, geo.shape_code, profiles)
    np.testing.assert_allclose(jac[lay.area], profiles, rtol=1e-12)


def test_cached_geometry_is_frozen_and_read_only(core_spectrum):
    geo = geometry(core_spectrum.x, resolve_bands("nmc"))
    for name in ("x", "basis", "starts", "lo", "hi", "order", "sel"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(geo, name)[0] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        geo.shape = "gaussian"
    assert geometry(core_spectrum.x, resolve_bands("nmc")) is geo


def test_parameter_map_folds_fixed_and_tied_slots():
    from nmcraman._engine.problem import parameter_map

    spec = {
        "preset": "nmc",
        "Ni_A1g": {"tie": {"fwhm": "Mn_Eg"}},
        "Mn_A1g": {"fix": ["position"]},
        "Co_Eg": {"fix": ["fwhm"]},
        "Ni_Eg": {"tie": {"fwhm": "Co_Eg"}},
    }
    band_list = resolve_bands(spec)
    fold, offset = parameter_map(band_list, True)
    assert fold.shape == (13, 9)
    free = np.arange(1.0, 10.0)
    theta = fold @ free + offset
    nb = 6
    assert theta[5] == 595.0  # Mn_A1g position fixed at its prior centre
    assert theta[nb + 1] == 80.0  # Co_Eg FWHM fixed
    assert theta[nb + 0] == 80.0  # Ni_Eg FWHM tied to the fixed Co_Eg FWHM
    assert theta[nb + 3] == theta[nb + 4]  # Ni_A1g FWHM tied to Mn_Eg's
    assert len(set(theta[:5])) == 5
    assert theta[-1] == free[-1]
    assert np.all(fold.sum(axis=0) >= 1)
