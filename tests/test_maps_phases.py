"""Phases of a map: core and rim told apart, flagged pixels left out, labels checked."""

import numpy as np
import pytest

from nmcraman import InputError
from nmcraman.maps.phases import EXCLUDED, MIN_PHASE, find_phases, phase_labels, usable_pixels
from nmcraman.results.map import QC_FLAGS


def test_phases_separate_core_and_rim(pooled_map):
    frac = pooled_map["truth"]["fraction"].ravel()
    labels = find_phases(pooled_map["unpooled"], usable_pixels(pooled_map["unpooled"]))
    core, rim = set(labels[(frac == 0) & (labels >= 0)]), set(labels[(frac == 1) & (labels >= 0)])
    assert core
    assert rim
    assert not core & rim


def test_phases_go_from_core_to_rim_in_order(pooled_map):
    """Each phase covers a narrow band of the core-to-rim fraction, not a mixture."""
    frac = pooled_map["truth"]["fraction"].ravel()
    labels = find_phases(pooled_map["unpooled"], usable_pixels(pooled_map["unpooled"]))
    for k in np.unique(labels[labels >= 0]):
        spread = np.percentile(frac[labels == k], [10, 90])
        assert spread[1] - spread[0] < 0.5, (k, spread)


def test_flagged_pixels_are_left_out(pooled_map):
    m = pooled_map["unpooled"]
    usable = usable_pixels(m)
    bits = sum(1 << QC_FLAGS.index(f) for f in EXCLUDED)
    assert np.array_equal(usable, (m.stats["flags"] & bits) == 0)
    corrupted = pooled_map["truth"]["corrupted"].ravel() != ""
    assert corrupted.any()
    assert not usable[corrupted].any()
    labels = find_phases(m, usable)
    assert (labels[~usable] == -1).all()
    assert (labels[usable] >= 0).all()


@pytest.mark.parametrize("most", [1, 2, 3])
def test_max_phases_caps_the_number_of_phases(pooled_map, most):
    m = pooled_map["unpooled"]
    labels = find_phases(m, usable_pixels(m), most)
    found = np.unique(labels[labels >= 0])
    assert found.size <= most
    assert np.array_equal(found, np.arange(found.size))
    assert np.bincount(labels[labels >= 0]).min() >= MIN_PHASE


@pytest.mark.parametrize("most", [0, -2, 2.5, True])
def test_max_phases_must_be_a_positive_whole_number(pooled_map, most):
    m = pooled_map["unpooled"]
    with pytest.raises(InputError, match="max_phases"):
        find_phases(m, usable_pixels(m), most)


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.zeros((3, 4)), "integers"),
        (np.zeros((3, 4), dtype=bool), "integers"),
        (np.zeros((4, 3), dtype=int), "shape"),
        (np.zeros(11, dtype=int), "shape"),
    ],
)
def test_phase_labels_refuses_bad_labels(labels, match):
    with pytest.raises(InputError, match=match):
        phase_labels(labels, (3, 4))


def test_phase_labels_accepts_the_map_shape_or_flat():
    labels = np.arange(12).reshape(3, 4) - 2
    assert np.array_equal(phase_labels(labels, (3, 4)), labels.ravel())
    assert np.array_equal(phase_labels(labels.ravel(), (3, 4)), labels.ravel())


def test_steps_keep_a_change_of_every_pixel_from_splitting_phases(shifting_series):
    """One material whose Mn A1g moves 15 cm-1 over six steps: grouped alone, its pixels
    split into phases by step; with ``steps``, the change they all go through alike is
    taken out and they make one phase."""
    from nmcraman import deconvolve_map
    from nmcraman.model import FIXED

    cube, _ = shifting_series
    m = deconvolve_map(cube, np.arange(150.0, 901.0), bands="nmc+lo", progress=False, **FIXED)
    usable = usable_pixels(m)
    steps = np.repeat(np.arange(cube.shape[0]), cube.shape[2])
    alone = find_phases(m, usable)
    assert np.unique(alone[usable]).size > 1
    assert all(np.unique(steps[alone == k]).size == 1 for k in np.unique(alone[usable]))
    assert np.unique(find_phases(m, usable, steps=steps)[usable]).size == 1
