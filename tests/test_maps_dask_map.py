"""Maps held as dask arrays: the in-memory table, block by block, pooled or not, on a cluster."""

import numpy as np
import pytest
from conftest import assert_same_fit

from nmcraman.maps import deconvolve_map
from nmcraman.model import FIXED
from nmcraman.synthetic import core_shell_map

da = pytest.importorskip("dask.array")


class _Recorder:
    """An array that records the map rows each read asks for (what dask loads)."""

    def __init__(self, cube):
        self.cube, self.reads = cube, []
        self.shape, self.dtype, self.ndim = cube.shape, cube.dtype, cube.ndim

    def __getitem__(self, key):
        rows = key[0] if isinstance(key, tuple) else key
        self.reads.append(len(range(*rows.indices(self.shape[0]))))
        return self.cube[key]


@pytest.mark.parametrize("share", ["partial", "shape"])
def test_pooled_dask_array_gives_the_in_memory_table_reading_a_block_at_a_time(pooled_map, share):
    cube, x = pooled_map["cube"], pooled_map["x"]
    want = (
        pooled_map["pooled"]
        if share == "partial"
        else deconvolve_map(cube, x, progress=False, pooling="phases", share=share, **FIXED)
    )
    source = _Recorder(cube)
    lazy = da.from_array(source, chunks=(4, cube.shape[1], x.size))
    # The fixture's model (`conftest.pooled_map`).
    got = deconvolve_map(lazy, x, progress=False, pooling="phases", share=share, **FIXED)
    # No read ever asked for more than one block of 4 map rows.
    assert source.reads
    assert max(source.reads) <= 4
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.stats["phase"], want.stats["phase"])
    np.testing.assert_array_equal(got.stats["flags"], want.stats["flags"])
    assert_same_fit(got.table, want.table)
    assert got.meta["pooling"]["share"] == share


def test_dask_map_pooled_by_given_labels_gives_the_in_memory_table(pooled_map):
    cube, x, truth = pooled_map["cube"], pooled_map["x"], pooled_map["truth"]
    labels = (truth["fraction"] > 0.5).astype(int)
    labels[:2] = -1  # two rows left out of pooling
    want = deconvolve_map(cube, x, bands="nmc+lo", pooling=labels, progress=False)
    lazy = da.from_array(cube, chunks=(5, cube.shape[1], x.size))
    got = deconvolve_map(lazy, x, bands="nmc+lo", pooling=labels, progress=False)
    np.testing.assert_array_equal(got.image("phase"), want.image("phase"))
    assert (got.image("phase")[:2] == -1).all()
    np.testing.assert_array_equal(got.stats["flags"], want.stats["flags"])
    assert_same_fit(got.table, want.table)


def test_dask_map_keeps_coordinates_and_names():
    cube, x, _ = core_shell_map(4, 3, rng=6)
    coords = np.arange(24.0).reshape(12, 2)
    names = [f"p{i}" for i in range(12)]
    from nmcraman.maps.dask_map import dask_map

    got = dask_map(
        x, da.from_array(cube, chunks=(2, 3, x.size)), (4, 3), bands="nmc", jobs=None,
        progress=False, pooling="none", share=None, max_phases=None, coords=coords,
        names=names, meta={},
    )  # fmt: skip
    np.testing.assert_array_equal(got.coords, coords)
    assert got.names == names


@pytest.mark.parametrize("baseline", ["poly2", "asls"])
def test_dask_map_names_its_baseline_as_in_memory(baseline):
    cube, x, _ = core_shell_map(2, 3, rng=6)
    lazy = da.from_array(cube, chunks=(1, 3, x.size))
    got = deconvolve_map(lazy, x, bands="nmc", baseline=baseline, progress=False)
    want = deconvolve_map(cube, x, bands="nmc", baseline=baseline, progress=False)
    assert got.meta["baseline"] == want.meta["baseline"]
    assert got.meta["baseline_order"] == want.meta["baseline_order"]


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
    from distributed import get_task_stream

    cube, x, _ = core_shell_map(4, 5, rng=8)
    # Without warm starts: a warm start chains pixels across the block boundaries here
    # and not on the cluster, and may end in another minimum of a weak band.
    want = deconvolve_map(cube, x, bands=bands, progress=False, warm_start=False)
    lazy = da.from_array(cube, chunks=(2, 5, x.size))
    with get_task_stream(cluster_client) as tasks:
        got = deconvolve_map(lazy, x, bands=bands, progress=False, warm_start=False)
    # The rows ran in the workers (two blocks of two rows), not in this process.
    ran = [t for t in tasks.data if "_fit_rows" in t["key"]]
    assert len(ran) == 2
    assert {t["worker"] for t in ran} <= set(cluster_client.scheduler_info()["workers"])
    assert got.shape == (4, 5)
    # Worker processes load the kernels from numba's cache: equal within the
    # tolerance for fits computed in another process (see SEPARATE_PROCESS_SIGMA);
    # a default pixel makes about a dozen fits, whose errors may move by 0.2 %.
    assert_same_fit(got.table, want.table, err_rtol=0.01)
    np.testing.assert_array_equal(got.stats["flags"], want.stats["flags"])


def test_priors_file_the_workers_cannot_see_is_read_once_here(
    cluster_client, tmp_path, monkeypatch
):
    """A relative TOML path: the workers started elsewhere, so only this process finds it."""
    from nmcraman.bands import bands, bands_to_toml

    (tmp_path / "mine.toml").write_text(bands_to_toml(bands("nmc")))
    monkeypatch.chdir(tmp_path)  # after the cluster started: its workers stay where they were
    cube, x, _ = core_shell_map(2, 3, rng=9)
    want = deconvolve_map(cube, x, bands="mine.toml", progress=False)
    got = deconvolve_map(da.from_array(cube, chunks=(1, 3, x.size)), x, bands="mine.toml")
    assert_same_fit(got.table, want.table)


def test_pooled_map_on_a_cluster_gives_the_local_table(cluster_client, pooled_map):
    from distributed import get_task_stream

    cube, x, want = pooled_map["cube"], pooled_map["x"], pooled_map["pooled"]
    lazy = da.from_array(cube, chunks=(6, cube.shape[1], x.size))
    with get_task_stream(cluster_client) as tasks:
        got = deconvolve_map(lazy, x, progress=False, pooling="phases", **FIXED)
    workers = set(cluster_client.scheduler_info()["workers"])
    # The first pass ran as one task per block of 6 rows, and every phase's pixels as
    # chunk tasks (one per phase: each has fewer than CHUNK pixels), in the workers.
    first = [t for t in tasks.data if "_first_rows" in t["key"]]
    chunks = [t for t in tasks.data if "_run_chunk" in t["key"]]
    assert len(first) == 4
    assert len(chunks) == len(want.meta["pooling"]["phases"])
    assert {t["worker"] for t in first + chunks} <= workers
    np.testing.assert_array_equal(got.stats["phase"], want.stats["phase"])
    np.testing.assert_array_equal(got.stats["flags"], want.stats["flags"])
    assert_same_fit(got.table, want.table)


@pytest.mark.parametrize("pooling", ["none", "phases"])
def test_dask_maps_keep_their_spectra_only_when_asked(pooling):
    cube, x, _ = core_shell_map(6, 5, rng=6)
    ref = deconvolve_map(cube, x, bands="nmc", progress=False, pooling=pooling)
    lazy = da.from_array(cube, chunks=(2, 5, x.size))
    assert deconvolve_map(lazy, x, bands="nmc", progress=False, pooling=pooling).spectra is None
    got = deconvolve_map(lazy, x, bands="nmc", progress=False, pooling=pooling, keep_spectra=True)
    for name in ("codes", "offset", "step"):
        np.testing.assert_array_equal(
            getattr(got.spectra.data, name), getattr(ref.spectra.data, name)
        )
    np.testing.assert_array_equal(got.spectra.x, ref.spectra.x)
    # Warm starts restart at each dask block: the same fits within their tolerance.
    top = np.abs(cube).max()
    for p in range(30):
        np.testing.assert_allclose(got.curves(p)["fit"], ref.curves(p)["fit"], atol=1e-3 * top)
