"""Tests of nmcraman.io._grid: stage positions to a row-major grid, or a list of spectra."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import CUBE, expected_coords, labspec_lines, num, write_lines

from nmcraman.io import read_map


@pytest.mark.parametrize("scan", ["serpentine", "shuffled", "y-descending", "y-fast"])
def test_pixels_are_row_major_by_ascending_y_then_x(tmp_path, scan):
    cells = [(r, c) for r in range(4) for c in range(5)]
    if scan == "y-fast":  # Y varies fastest in the file: a column at a time
        cells = [(r, c) for c in range(5) for r in range(4)]
    elif scan == "serpentine":
        cells = [(r, c) for r in range(4) for c in (range(5) if r % 2 == 0 else range(4, -1, -1))]
    elif scan == "shuffled":
        cells = [cells[i] for i in np.random.default_rng(5).permutation(len(cells))]
    else:
        cells = [(r, c) for r in range(3, -1, -1) for c in range(5)]
    m = read_map(write_lines(tmp_path, "map.txt", labspec_lines(order=cells)))
    np.testing.assert_array_equal(m.spectra, CUBE)
    np.testing.assert_array_equal(m.coords, expected_coords())


def test_stage_jitter_does_not_split_grid_lines(tmp_path):
    lines = labspec_lines()
    jitter = np.random.default_rng(1).uniform(-5e-4, 5e-4, (20, 2))
    for i, (dx, dy) in enumerate(jitter):
        fields = lines[i + 1].split("\t")
        fields[0], fields[1] = num(float(fields[0]) + dx), num(float(fields[1]) + dy)
        lines[i + 1] = "\t".join(fields)
    m = read_map(write_lines(tmp_path, "map.txt", lines))
    assert m.shape == (4, 5)
    np.testing.assert_array_equal(m.spectra, CUBE)


def test_an_incomplete_grid_falls_back_to_a_list_with_coords(tmp_path):
    lines = labspec_lines()[:-3]  # an aborted map: the last 3 pixels are missing
    with pytest.warns(UserWarning, match="17 stage positions do not fill a grid"):
        m = read_map(write_lines(tmp_path, "aborted.txt", lines))
    assert m.shape == (17,)
    np.testing.assert_array_equal(m.spectra, CUBE.reshape(20, -1)[:17])
    np.testing.assert_array_equal(m.coords, expected_coords()[:17])
    assert m.meta["grid"] is False


def test_repeated_positions_are_not_a_grid(tmp_path):
    cells = [(r, c) for r in range(4) for c in range(5)]
    cells[7] = cells[6]  # 20 pixels on a 4 x 5 grid, but one position twice
    with pytest.warns(UserWarning, match="do not fill a grid"):
        assert read_map(write_lines(tmp_path, "m.txt", labspec_lines(order=cells))).shape == (20,)
