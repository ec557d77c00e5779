"""Tests of nmcraman.io._witec: WITec Project ASCII exports."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import DATA, SI_CM1, WITEC_COUNTS, WITEC_LASER_NM, WITEC_NM, WITEC_PIXEL_CM1, vertex

from nmcraman.io import read_spectrum


def test_witec_nm_axis_converted_with_laser():
    s = read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=532)
    assert (s.meta["format"], s.meta["instrument"]) == ("witec", "WITec")
    assert s.meta["x_unit_original"] == "nm"
    assert s.meta["laser_nm"] == 532.0
    assert len(s) == 1600
    assert s.x[0] == pytest.approx(1e7 / 532 - 1e7 / 530.7816803)
    assert s.x[-1] == pytest.approx(1e7 / 532 - 1e7 / 661.8723782)
    # every point: shift = 1e7 / laser - 1e7 / wavelength (docs/io.rst), counts as stored
    np.testing.assert_allclose(s.x, 1e7 / 532 - 1e7 / WITEC_NM, rtol=1e-12)
    np.testing.assert_array_equal(s.y, WITEC_COUNTS)
    # saturated laser line kept in y and counted; it must land near 0 cm-1
    assert s.meta["saturated"] == 8
    assert np.count_nonzero(s.y == 65535) == 8
    assert np.all(np.abs(s.x[s.y == 65535]) < 30)
    # Si line: with the nominal 532 nm every shift is 1e7 / 532 - 1e7 / 532.41 = 14.4
    # cm-1 higher than from the file's own laser line, so the Si line is expected at
    # 520.7 + 14.4 = 535.1; it sits at 530.8, 4.3 cm-1 short of that (see the next test).
    laser_offset = 1e7 / 532 - 1e7 / WITEC_LASER_NM
    assert vertex(s, 530, 40) == pytest.approx(SI_CM1 + laser_offset, abs=2 * WITEC_PIXEL_CM1)
    assert s.meta["stage_x_um"] == pytest.approx(2.3283064365387e-8)
    assert s.meta["header"]["SizeGraph"] == "1600"


def test_witec_shift_from_the_file_s_own_laser_line_puts_si_at_520_7():
    """With the laser wavelength read off the file's own (saturated) laser line, the
    laser lands at 0 cm-1 and the Si phonon at 520.7 cm-1 within 2 detector pixels.

    Two pixels (5.5 cm-1) is the order of the wavelength error of a spectrograph axis not
    calibrated on a lamp, and the file has no calibration record. This axis is 0.8 %
    short in dispersion: the Si line sits 15.06 nm above the laser line where 520.7 cm-1
    needs 15.18 nm, so it comes out at 516.4 cm-1, 1.6 pixels low. A reader that got the
    conversion wrong (units, sign, the laser ignored) misses by far more.
    """
    s = read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=WITEC_LASER_NM)
    assert np.abs(s.x[s.y == 65535]).max() < 4.5 * WITEC_PIXEL_CM1  # 8 pixels around 0
    assert vertex(s, 520, 40) == pytest.approx(SI_CM1, abs=2 * WITEC_PIXEL_CM1)


def test_witec_laser_from_header(tmp_path):
    text = (DATA / "witec_ascii_Si-wafer.txt").read_text(encoding="utf-8")
    path = tmp_path / "witec.txt"
    path.write_text(text.replace("XAxisUnit = nm", "XAxisUnit = nm\nExcitationWavelength = 532"))
    s = read_spectrum(path)
    np.testing.assert_allclose(
        s.x, read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=532).x
    )
    assert s.meta["laser_nm"] == 532.0
