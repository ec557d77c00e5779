"""Shared fixtures: a seeded random generator, synthetic spectra with known truth, files."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from io_samples import CUBE, MAP_X, spectrum_file

from nmcraman.synthetic import simulate

matplotlib.use("Agg")


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


@pytest.fixture(scope="session")
def core_spectrum():
    """Core_75-like spectrum, SNR 150, fluorescence background."""
    return simulate("Core_75", snr=150, rng=11)


@pytest.fixture(scope="session")
def cs_spectrum():
    """CS_75-like spectrum (seven bands), SNR 150, fluorescence background."""
    return simulate("CS_75", snr=150, rng=12)


def compare_to_truth(table, truth):
    """Absolute differences of position, FWHM and area % against the truth, per band."""
    t = truth.set_index("band").loc[table["band"]]
    return {
        "position": np.abs(table["position"].to_numpy() - t["position"].to_numpy()),
        "fwhm": np.abs(table["fwhm"].to_numpy() - t["fwhm"].to_numpy()),
        "area_pct": np.abs(table["area_pct"].to_numpy() - t["area_pct"].to_numpy()),
    }


@pytest.fixture
def batch(tmp_path):
    """A folder of three spectrum files (stage X 0-2, Y 7), a README, a hidden file, a folder."""
    flat = CUBE.reshape(20, -1)
    for i in range(3):
        spectrum_file(tmp_path, f"s{i}.txt", MAP_X, flat[i], header=[f"#X={i}", "#Y=7"])
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / ".hidden.txt").write_text("junk\n")
    (tmp_path / "sub").mkdir()
    return tmp_path


def z_scores(table, truth):
    """(fit - truth) / reported 1-sigma error of position, FWHM and area %, per band."""
    t = truth.set_index("band").loc[table["band"]]
    return pd.DataFrame(
        {
            q: (table[q].to_numpy() - t[q].to_numpy()) / table[f"{q}_err"].to_numpy()
            for q in ("position", "fwhm", "area_pct")
        }
    )
