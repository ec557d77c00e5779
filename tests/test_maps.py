"""deconvolve_map / deconvolve_batch: gradients, flags, per-pixel agreement, inputs."""

import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_fit

from nmcraman import InputError, deconvolve
from nmcraman.mapresult import QC_FLAGS
from nmcraman.maps import deconvolve_batch, deconvolve_map, despike, noise_sigma
from nmcraman.synthetic import core_shell_map, simulate

X = np.arange(150.0, 901.0)


@pytest.fixture(scope="module")
def shell_map():
    cube, x, truth = core_shell_map(14, 14, snr=120, corrupt=0.08, rng=7)
    return cube, x, truth, deconvolve_map(cube, x, progress=False)


def test_core_shell_gradient_and_model_choice(shell_map):
    _, _, truth, m = shell_map
    frac = truth["fraction"]
    clean = truth["corrupted"] == ""
    mn = m.image("area_pct", "Mn_A1g")
    core, rim = clean & (frac == 0), clean & (frac == 1)
    assert np.nanmean(mn[rim]) > np.nanmean(mn[core]) + 5
    assert abs(np.nanmean(mn[core]) - truth["area_pct"][..., 5][core].mean()) < 3
    model = m.stats["model"].reshape(m.shape)
    assert (model[core] == "nmc").mean() > 0.8
    assert (model[rim] == "nmc+lo").mean() > 0.7
    assert np.isnan(m.image("position", "LO_RS")[core & (model == "nmc")]).all()


def test_corrupted_pixels_are_flagged_and_the_rest_fitted(shell_map):
    _, _, truth, m = shell_map
    flags = m.flag_names().reshape(m.shape)
    bad = truth["corrupted"]
    expected = {"nan": "bad_input", "zero": "bad_input", "saturated": "saturated", "spike": "spike"}
    assert (bad != "").sum() >= 12
    for kind, flag in expected.items():
        assert all(flag in f for f in flags[bad == kind]), kind
    clean = bad == ""
    assert np.isfinite(m.image("position", "Mn_A1g")[clean]).all()
    assert m.stats["converged"].reshape(m.shape)[clean].all()
    for f in flags[clean]:
        assert "bad_input" not in f
        assert "saturated" not in f


def test_repr_counts_pixels_per_flag(shell_map):
    _, _, truth, m = shell_map
    text = repr(m)
    bad_input = int(np.isin(truth["corrupted"], ["nan", "zero"]).sum())
    assert text.startswith("<MapResult (14, 14) pixels x ")
    assert f"bad_input {bad_input}" in text
    assert "not_converged" not in text  # flags no pixel has are left out


@pytest.mark.parametrize("bands", ["nmc", "nmc+lo"])
def test_cold_pixels_equal_deconvolve(bands):
    cube, x, _ = core_shell_map(3, 4, rng=3)
    m = deconvolve_map(cube, x, bands=bands, warm_start=False, progress=False)
    for r, c in [(0, 0), (1, 2), (2, 3)]:
        ref = deconvolve(x, cube[r, c], bands=bands).table
        got = m.table.query("row == @r and col == @c").reset_index(drop=True)
        # Equal within the convergence tolerance: far below 1 % of the 1-sigma errors.
        for col in ("position", "fwhm", "area_pct"):
            diff = np.abs(got[col] - ref[col]).to_numpy()
            assert np.all(diff < 0.01 * ref[f"{col}_err"].to_numpy()), col
            np.testing.assert_allclose(got[f"{col}_err"], ref[f"{col}_err"], rtol=1e-2)
        assert list(got["band"]) == list(ref["band"])
        # The same band flags, by the same rule: the map's column adds pixel flags.
        band_part = [
            ";".join(w for w in f.split(";") if w not in QC_FLAGS) or "ok" for f in got["flag"]
        ]
        assert band_part == list(ref["flag"])


def test_warm_starts_keep_accuracy_against_the_truth():
    cube, x, truth = core_shell_map(16, 16, rng=11)
    rim = truth["fraction"].ravel() == 1
    rmse = {}
    for warm in (False, True):
        m = deconvolve_map(cube, x, bands="nmc+lo", warm_start=warm, progress=False)
        assert m.stats["warm"].any() == warm
        err = m.params["area_pct"][rim] - truth["area_pct"].reshape(-1, 7)[rim]
        rmse[warm] = np.sqrt(np.mean(err**2))
    assert rmse[True] < 1.15 * rmse[False]


def test_jobs_do_not_change_results():
    cube, x, _ = core_shell_map(3, 5, rng=5)
    a = deconvolve_map(cube, x, bands="nmc", jobs=1, progress=False)
    b = deconvolve_map(cube, x, bands="nmc", jobs=2, progress=False)
    # Same minimum; convergence (ftol 1e-8) leaves ~1e-3 cm-1 of play.
    np.testing.assert_allclose(a.params["position"], b.params["position"], atol=0.01)


def test_batch_of_spectra_and_result_api(tmp_path):
    ys = np.array([simulate("CS_75", snr=150, rng=i).y for i in range(5)])
    m = deconvolve_batch(X, ys, bands="nmc+lo", names=[f"s{i}" for i in range(5)])
    assert m.image("fwhm", "Co_Eg").shape == (5,)
    ratio = m.ratio("Mn_A1g", "Co_A1g")
    np.testing.assert_allclose(ratio, m.image("area", "Mn_A1g") / m.image("area", "Co_A1g"))
    t = m.table
    assert list(t.columns[:3]) == ["row", "col", "name"]
    assert len(t) == 5 * 7
    path = tmp_path / "map.csv"
    m.to_csv(path)
    pd.testing.assert_frame_equal(pd.read_csv(path), t, check_dtype=False)
    assert len(m.pixels) == 5
    fig = m.plot("area_pct", "Mn_A1g")
    assert fig.axes
    with pytest.raises(InputError, match="give band"):
        m.image("area_pct")
    with pytest.raises(InputError, match="unknown band"):
        m.image("area_pct", "Fe_Eg")
    with pytest.raises(InputError, match="unknown parameter"):
        m.image("colour", "Mn_A1g")


def test_descending_axis_and_2d_input():
    ys = np.array([simulate("Core_75", snr=150, rng=i).y for i in range(3)])
    a = deconvolve_map(ys, X, bands="nmc", progress=False)
    b = deconvolve_map(ys[:, ::-1], X[::-1], bands="nmc", progress=False)
    np.testing.assert_allclose(a.params["position"], b.params["position"])


def test_xarray_dask_and_exports(tmp_path):
    xr = pytest.importorskip("xarray")
    da = pytest.importorskip("dask.array")
    cube, x, _ = core_shell_map(4, 3, rng=6)
    ref = deconvolve_map(cube, x, bands="nmc", progress=False)
    arr = xr.DataArray(cube, dims=("row", "col", "shift"), coords={"shift": x})
    np.testing.assert_allclose(
        deconvolve_map(arr, bands="nmc", progress=False).params["position"],
        ref.params["position"],
        atol=0.01,
    )
    lazy = da.from_array(cube, chunks=(2, 3, x.size))
    got = deconvolve_map(lazy, x, bands="nmc", progress=False)
    assert got.shape == (4, 3)
    # Warm starts restart at each dask block, so allow for convergence tolerance.
    np.testing.assert_allclose(got.params["position"], ref.params["position"], atol=0.05)
    ds = ref.to_xarray()
    assert ds["area_pct"].shape == (4, 3, 6)
    pytest.importorskip("pyarrow")
    ref.to_parquet(tmp_path / "m.parquet")
    assert len(pd.read_parquet(tmp_path / "m.parquet")) == len(ref.table)


@pytest.fixture(scope="module")
def cluster_client():
    """A dask.distributed Client on 2 worker processes of 1 thread each, closed afterwards."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster, timeout=60) as client,
    ):
        yield client


@pytest.mark.parametrize("bands", ["nmc", "auto"])
def test_distributed_cluster_gives_the_local_table(cluster_client, bands):
    da = pytest.importorskip("dask.array")
    from distributed import get_task_stream

    cube, x, _ = core_shell_map(4, 5, rng=8)
    want = deconvolve_map(cube, x, bands=bands, progress=False)
    lazy = da.from_array(cube, chunks=(2, 5, x.size))
    with get_task_stream(cluster_client) as tasks:
        got = deconvolve_map(lazy, x, bands=bands, progress=False)
    # The rows ran in the workers (two blocks of two rows), not in this process.
    ran = [t for t in tasks.data if "_fit_rows" in t["key"]]
    assert len(ran) == 2
    assert {t["worker"] for t in ran} <= set(cluster_client.scheduler_info()["workers"])
    assert got.shape == (4, 5)
    # Worker processes load the kernels from numba's cache: equal within the
    # tolerance for fits computed in another process (see SEPARATE_PROCESS_SIGMA).
    assert_same_fit(got.table, want.table)
    np.testing.assert_array_equal(got.stats["flags"], want.stats["flags"])


def test_despike_and_noise():
    rng = np.random.default_rng(1)
    s = simulate("Core_75", snr=100, rng=1)
    y = np.vstack([s.y, s.y])
    y[1, 400] += 3000
    clean, found = despike(y)
    assert found.tolist() == [False, True]
    assert abs(clean[1, 400] - s.y[400]) < 50
    sig = noise_sigma(rng.normal(0, 3.0, (4, 5000)))
    np.testing.assert_allclose(sig, 3.0, rtol=0.05)
    assert noise_sigma(s.y[None])[0] == pytest.approx(s.noise_sigma, rel=0.15)


@pytest.mark.parametrize(
    ("data", "x", "match"),
    [
        (np.zeros((3, 10)), X, "channels"),
        (np.zeros(751), X, "rows, cols, channels"),
        (np.zeros((0, 751)), X, "empty"),
        (np.zeros((2, 751)), None, "give the Raman-shift axis"),
    ],
)
def test_bad_maps(data, x, match):
    with pytest.raises(InputError, match=match):
        deconvolve_map(data, x, progress=False)


def test_bad_options():
    ys = np.array([simulate("Core_75", rng=0).y])
    with pytest.raises(InputError, match="jobs"):
        deconvolve_batch(X, ys, bands="nmc", jobs=0)
    with pytest.raises(InputError, match="baseline array"):
        deconvolve_batch(X, ys, bands="nmc", baseline=np.zeros(751))
    with pytest.raises(InputError, match="map shape"):
        deconvolve_batch(X, ys, bands="nmc", map_shape=(2, 2))
