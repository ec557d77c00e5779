"""Shared fixtures: a seeded random generator and synthetic spectra with known truth."""

import matplotlib
import numpy as np
import pandas as pd
import pytest

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


def z_scores(table, truth):
    """(fit - truth) / reported 1-sigma error of position, FWHM and area %, per band."""
    t = truth.set_index("band").loc[table["band"]]
    return pd.DataFrame(
        {
            q: (table[q].to_numpy() - t[q].to_numpy()) / table[f"{q}_err"].to_numpy()
            for q in ("position", "fwhm", "area_pct")
        }
    )
