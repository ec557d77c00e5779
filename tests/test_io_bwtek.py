"""Tests of nmcraman.io._bwtek: B&W Tek vendor CSV."""

from __future__ import annotations

import pytest
from io_samples import DATA, peak

from nmcraman.io import read_spectrum


def test_bwtek_metadata_and_default_column():
    s = read_spectrum(DATA / "polystyrene_bwtek532.txt")
    assert s.meta["laser_nm"] == pytest.approx(532.02)
    assert s.meta["instrument"] == "B&W Tek BTC162E-532S-SYS"
    assert s.meta["y_column"] == "Dark Subtracted #1"
    assert s.meta["dropped_rows"] == 247
    assert s.meta["header"]["coefs_a1"] == "0,0869535306648179"
    # first row with a Raman shift is pixel 109: 145.99 cm-1, dark-subtracted 5655.2857
    assert s.y[0] == pytest.approx(5655.2857)
    assert peak(s, 1000, 10) == pytest.approx(1000.36, abs=0.01)


@pytest.mark.parametrize("column", ["Raw data #1", "raw data #1", 6])
def test_bwtek_column_override(column):
    s = read_spectrum(DATA / "polystyrene_bwtek532.txt", column=column)
    assert s.meta["y_column"] == "Raw data #1"
    assert s.y[0] == pytest.approx(6716.0)
