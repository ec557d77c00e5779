"""Tests of nmcraman.io._witec: WITec Project ASCII exports."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import DATA, peak

from nmcraman.io import read_spectrum


def test_witec_nm_axis_converted_with_laser():
    s = read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=532)
    assert (s.meta["format"], s.meta["instrument"]) == ("witec", "WITec")
    assert s.meta["x_unit_original"] == "nm"
    assert s.meta["laser_nm"] == 532.0
    assert len(s) == 1600
    assert s.x[0] == pytest.approx(1e7 / 532 - 1e7 / 530.7816803)
    assert s.x[-1] == pytest.approx(1e7 / 532 - 1e7 / 661.8723782)
    # saturated laser line kept in y and counted; it must land near 0 cm-1
    assert s.meta["saturated"] == 8
    assert np.count_nonzero(s.y == 65535) == 8
    assert np.all(np.abs(s.x[s.y == 65535]) < 30)
    # Si line: ~530 cm-1 with the nominal 532 nm, ~10 above 520.7, because the file's
    # own laser line sits at 532.4 nm (its wavelength calibration is off, not the reader)
    assert peak(s, 520, 40) == pytest.approx(529.8, abs=1.0)
    assert s.meta["stage_x_um"] == pytest.approx(2.3283064365387e-8)
    assert s.meta["header"]["SizeGraph"] == "1600"


def test_witec_laser_from_header(tmp_path):
    text = (DATA / "witec_ascii_Si-wafer.txt").read_text(encoding="utf-8")
    path = tmp_path / "witec.txt"
    path.write_text(text.replace("XAxisUnit = nm", "XAxisUnit = nm\nExcitationWavelength = 532"))
    s = read_spectrum(path)
    np.testing.assert_allclose(
        s.x, read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=532).x
    )
    assert s.meta["laser_nm"] == 532.0
