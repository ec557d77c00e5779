"""The shipped example spectra: reproducible from their script, fitted within error."""

import runpy
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import compare_to_truth

from nmcraman import deconvolve

SPECTRA = Path(__file__).resolve().parents[1] / "spectra"


def test_script_reproduces_the_shipped_files(tmp_path):
    shutil.copy(SPECTRA / "make_spectra.py", tmp_path)
    runpy.run_path(str(tmp_path / "make_spectra.py"), run_name="__main__")
    for name in ("core_75.txt", "cs_75.txt", "truth.csv"):
        assert (tmp_path / name).read_text() == (SPECTRA / name).read_text()


@pytest.mark.parametrize(
    ("name", "sample", "n_bands"), [("core_75", "Core_75", 6), ("cs_75", "CS_75", 7)]
)
def test_shipped_spectra_fit_to_their_truth(name, sample, n_bands):
    res = deconvolve(SPECTRA / f"{name}.txt")
    assert len(res.table) == n_bands
    truth = pd.read_csv(SPECTRA / "truth.csv").query("sample == @sample")
    d = compare_to_truth(res.table, truth)
    t = res.table
    assert np.all(d["position"] < 4 * t["position_err"])
    assert np.all(d["fwhm"] < 4 * t["fwhm_err"])
    assert np.all(d["area_pct"] < 4 * t["area_pct_err"])
