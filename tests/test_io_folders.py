"""Tests of nmcraman.io._folders: read_many on folders and glob patterns."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import CUBE, MAP_X, spectrum_file

from nmcraman.errors import InputError, ReadError
from nmcraman.io import read_many


def test_folder_reads_sorted_files_skipping_notes(batch):
    m = read_many(batch)
    assert m.shape == (3,)
    assert m.meta["names"] == ["s0.txt", "s1.txt", "s2.txt"]
    assert m.meta["failed"] == []
    assert m.meta["resampled"] is False
    np.testing.assert_array_equal(m.spectra, CUBE.reshape(20, -1)[:3])
    np.testing.assert_array_equal(m.coords, [[0, 7], [1, 7], [2, 7]])


def test_glob_reads_matching_files(batch):
    m = read_many(str(batch / "s[12].txt"))
    assert m.meta["names"] == ["s1.txt", "s2.txt"]
    with pytest.raises(ReadError, match="no file matches"):
        read_many(str(batch / "*.xyz"))


def test_unreadable_files_are_listed_and_skipped(batch):
    (batch / "bad.txt").write_text("not a spectrum\n")
    with pytest.warns(UserWarning, match="1 of 4 files could not be read"):
        m = read_many(batch)
    assert m.meta["names"] == ["s0.txt", "s1.txt", "s2.txt"]
    assert [name for name, _ in m.meta["failed"]] == ["bad.txt"]
    assert "no numeric data" in m.meta["failed"][0][1]


def test_nothing_readable_is_a_read_error(tmp_path):
    (tmp_path / "a.txt").write_text("nothing\n")
    (tmp_path / "b.txt").write_text("")
    with pytest.raises(ReadError, match=r"none of the 2 files could be read \(a.txt: "):
        read_many(tmp_path)


def test_different_axes_are_resampled_on_the_overlap(tmp_path):
    x2 = np.arange(100.0, 800.0, 0.7)
    spectrum_file(tmp_path, "a.txt", MAP_X, 2.0 * MAP_X)
    spectrum_file(tmp_path, "b.txt", x2, 3.0 * x2 + 1.0)
    m = read_many(tmp_path)
    assert m.meta["resampled"] is True
    np.testing.assert_array_equal(m.x, MAP_X[MAP_X <= x2[-1]])
    np.testing.assert_allclose(m.spectra, [2.0 * m.x, 3.0 * m.x + 1.0], rtol=1e-12)


def test_disjoint_axes_are_an_input_error(tmp_path):
    spectrum_file(tmp_path, "a.txt", MAP_X, MAP_X)
    spectrum_file(tmp_path, "b.txt", MAP_X + 2000.0, MAP_X)
    with pytest.raises(InputError, match="ranges do not overlap"):
        read_many(tmp_path)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: p / "nothing_here", "no such file or folder"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "holds no spectrum files"),
    ],
)
def test_bad_batch_sources(tmp_path, make, match):
    with pytest.raises(ReadError, match=match):
        read_many(make(tmp_path))


def test_shift_and_column_apply_to_every_file(tmp_path):
    flat = CUBE.reshape(20, -1)
    for i in range(2):
        rows = [f"{a!r}\t0.5\t{b!r}" for a, b in zip(MAP_X.tolist(), flat[i].tolist(), strict=True)]
        (tmp_path / f"s{i}.txt").write_text("\n".join(rows))
    m = read_many(tmp_path, column=2, shift=1.25)
    np.testing.assert_allclose(m.x, MAP_X + 1.25)
    np.testing.assert_array_equal(m.spectra, flat[:2])
    assert m.meta["shift_cm1"] == 1.25
    with pytest.raises(InputError, match="shift must be a finite number"):
        read_many(tmp_path, shift=float("nan"))


def test_format_applies_to_every_file(batch):
    assert read_many(batch, format="text").shape == (3,)
    with pytest.raises(ReadError, match="none of the 3 files could be read"):
        read_many(batch, format="jasco")
    with pytest.raises(InputError, match="unknown format 'txt'"):
        read_many(batch, format="txt")
