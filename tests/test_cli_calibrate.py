"""nmcraman calibrate: the offset of a standard's spectrum, and the --shift it prints."""

import re

import numpy as np
import pytest

from nmcraman.calibration import offset_from_polystyrene
from nmcraman.cli import main
from nmcraman.io import read_spectrum

DATA = "tests/data"


def _shift(text: str) -> float:
    return float(re.search(r"--shift ([+-][0-9.]+)", text).group(1))


@pytest.mark.parametrize("offset", [-3.1, 0.0, 2.4])
def test_silicon_offset_of_a_spectrum_with_a_known_error(tmp_path, capsys, offset):
    """A Lorentzian Si line drawn ``offset`` cm-1 below 520.7, on a sloped background."""
    x = np.arange(380.0, 660.0, 0.9)
    rng = np.random.default_rng(5)
    centre = 520.7 - offset
    y = 200 + 0.3 * x + 8000 / (1 + ((x - centre) / 1.9) ** 2) + rng.normal(0, 5, x.size)
    path = tmp_path / "si.txt"
    np.savetxt(path, np.column_stack([x, y]))
    assert main(["calibrate", str(path)]) == 0
    out = capsys.readouterr().out
    assert _shift(out) == pytest.approx(offset, abs=0.03)
    assert out.startswith("si.txt: shift")
    assert "yes" in out


def test_polystyrene_reports_each_band_as_the_library_measures_it(capsys):
    path = f"{DATA}/polystyrene_horiba633.txt"
    assert main(["calibrate", path, "--standard", "polystyrene"]) == 0
    out = capsys.readouterr().out
    want = offset_from_polystyrene(read_spectrum(path))
    assert _shift(out) == pytest.approx(want.shift, abs=0.005)
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d{3,4}(\.\d)?\s", line)]
    assert [float(r[0]) for r in rows] == list(want.reference)
    np.testing.assert_allclose([float(r[2]) for r in rows], want.residuals, atol=0.005)


def test_a_standard_whose_bands_disagree_exits_1_without_a_shift(capsys):
    """A polymer that is not polystyrene: 2 of its 4 bands disagree with ASTM E1840."""
    path = f"{DATA}/renishaw_polymer_532nm.wdf"
    assert main(["calibrate", path, "--standard", "polystyrene"]) == 1
    captured = capsys.readouterr()
    assert "--shift" not in captured.out
    assert "Bands that disagree: 620.9, 1602.3 cm-1" in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1
    assert "2 of 4 bands (620.9, 1602.3 cm-1) disagree" in err[0]


def test_a_given_shift_is_checked_by_calibrating_again(capsys):
    path = f"{DATA}/silicon_horiba633.txt"
    assert main(["calibrate", path]) == 0
    first = _shift(capsys.readouterr().out)
    assert main(["calibrate", path, "--shift", f"{first:.2f}"]) == 0
    assert _shift(capsys.readouterr().out) == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["calibrate", f"{DATA}/polystyrene_horiba633.txt"], "silicon line"),
        (["calibrate", f"{DATA}/silicon_horiba633.txt", "--standard", "diamond"], "invalid choice"),
        (["calibrate", "no_such_file.txt"], "no_such_file"),
    ],
)
def test_bad_calibrations_exit_2_with_one_line(capsys, args, match):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert match in err
    assert "Traceback" not in err
