"""results/exports.py: one export path for Result, JointResult and MapResult."""

import numpy as np
import pandas as pd
import pytest

from nmcraman import InputError, deconvolve, deconvolve_batch, deconvolve_joint, load
from nmcraman.model import FIXED
from nmcraman.results.exports import PAGES, Exports
from nmcraman.synthetic import simulate


@pytest.fixture(scope="module")
def results():
    spectra = [simulate("Core_75", snr=150, rng=k) for k in range(3)]
    s = spectra[0]
    return {
        "fit": deconvolve(s.x, s.y, bands="nmc", **FIXED),
        "joint": deconvolve_joint([(t.x, t.y) for t in spectra], bands="nmc", **FIXED),
        "map": deconvolve_batch(s.x, np.array([t.y for t in spectra]), bands="nmc", **FIXED),
    }


@pytest.mark.parametrize("kind", sorted(PAGES))
def test_every_result_exports_through_the_one_path(results, kind, tmp_path):
    res = results[kind]
    assert isinstance(res, Exports)
    assert res._page == kind
    for method in ("to_csv", "to_parquet", "save", "to_html"):
        assert getattr(type(res), method) is getattr(Exports, method)
    res.to_csv(tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv")
    np.testing.assert_allclose(back["area_pct"], res.table["area_pct"], rtol=1e-12)
    res.save(tmp_path / "r.json")
    assert type(load(tmp_path / "r.json")) is type(res)
    res.to_html(tmp_path / "p.html")
    assert "<html" in (tmp_path / "p.html").read_text(encoding="utf-8")[:200].lower()


@pytest.mark.parametrize("kind", sorted(PAGES))
@pytest.mark.parametrize("method", ["to_csv", "save", "to_html"])
def test_no_export_replaces_a_file_without_force(results, kind, method, tmp_path):
    path = tmp_path / "out"
    path.write_text("old")
    with pytest.raises(InputError, match="exists"):
        getattr(results[kind], method)(path)
    assert path.read_text() == "old"
    getattr(results[kind], method)(path, force=True)
    assert path.read_text() != "old"
