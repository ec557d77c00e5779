"""Tests of nmcraman.io._axis: axes in nm or absolute cm-1 converted to Raman shift."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import (
    DATA,
    WITEC_NM,
    labspec_lines,
    text_rows,
    witec_rows_as_plain_text,
    write_lines,
)

from nmcraman.errors import ReadError
from nmcraman.io import read_map, read_spectrum
from nmcraman.io._axis import ABSOLUTE_CM1, to_shift


def test_unlabelled_nm_axis_is_converted_when_laser_given(tmp_path):
    path = witec_rows_as_plain_text(tmp_path)
    with pytest.warns(UserWarning, match="looks like wavelength in nm"):
        s = read_spectrum(path, laser_nm=532)
    ref = read_spectrum(DATA / "witec_ascii_Si-wafer.txt", laser_nm=532)
    np.testing.assert_allclose(s.x, ref.x)
    np.testing.assert_allclose(s.y, ref.y)
    assert s.meta["x_unit_inferred"] is True


def test_header_saying_nm_is_converted(tmp_path):
    path = witec_rows_as_plain_text(tmp_path, "Wavelength (nm), Counts\n")
    s = read_spectrum(path, laser_nm=532)
    assert s.meta["x_unit_original"] == "nm"
    np.testing.assert_allclose(s.x, 1e7 / 532 - 1e7 / WITEC_NM, rtol=1e-12)


def test_header_saying_cm1_disables_nm_guess(tmp_path):
    x = np.linspace(400.0, 700.0, 1500)  # fine step inside 190-1100: would look like nm
    path = tmp_path / "fine.txt"
    path.write_text("Raman shift (cm-1)\tI\n" + "\n".join(text_rows("\t", x=x, y=np.sin(x))))
    np.testing.assert_allclose(read_spectrum(path).x, x)


def test_axis_in_nm_is_converted_with_the_laser(tmp_path):
    nm = np.linspace(540.0, 560.0, 201)  # a CCD wavelength axis: step 0.1
    cube = np.ones((2, 2, nm.size)) + np.arange(nm.size)
    path = write_lines(tmp_path, "nm.txt", labspec_lines(cube, nm))
    with pytest.raises(ReadError, match="pass laser_nm="):
        read_map(path)
    with pytest.warns(UserWarning, match="converted to Raman shift"):
        m = read_map(path, laser_nm=532.0)
    np.testing.assert_allclose(m.x, np.sort(1e7 / 532.0 - 1e7 / nm))


def test_absolute_wavenumber_is_converted_with_the_laser():
    # 1e7 / 532 - 1e7 / 550 = 615.2 cm-1: the Raman shift of light scattered at 550 nm
    absolute = 1e7 / np.array([540.0, 550.0, 560.0])
    meta = {}
    shift = to_shift(absolute, ABSOLUTE_CM1, 532.0, "f.spc", meta)
    np.testing.assert_allclose(shift, 1e7 / 532.0 - 1e7 / np.array([540.0, 550.0, 560.0]))
    assert shift[1] == pytest.approx(615.17, abs=0.01)
    assert meta["x_unit_original"] == ABSOLUTE_CM1
    with pytest.raises(ReadError, match="absolute wavenumber and the file gives no laser"):
        to_shift(absolute, ABSOLUTE_CM1, None, "f.spc", {})
