"""Maps held as dask arrays, fitted task by task on the active dask scheduler.

A map larger than memory, or one on a dask.distributed cluster, is never loaded whole:
each task reads one chunk of the cube, chunked along any navigation dimensions (the
per-pixel fits, `_fit_rows` and `_first_rows`; the results are put back in the map's
row-major order) or, for a pooled map, one chunk of a phase's pixels (`DaskSource`), and
only per-pixel results come back. The phases are found, and each phase's shared values
and spread estimated, in this process from the per-pixel results and a subsample of
`nmcraman.maps.phase_fit.SUBSAMPLE` spectra per phase. No normal equations need summing
over tasks: each chunk of a phase refines the shared values from its own pixels, as in
memory (`nmcraman.maps.phase_fit.fit_phase`), so a pooled dask map gives the in-memory
map's table.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from .._engine.problem import Geometry
from ..bands import PRESETS, resolve_bands
from ..results.map import MapResult
from .build import join_blocks
from .choice import fit_per_pixel
from .pixels import (
    BatchOptions,
    axis_order,
    batch_options,
    first_pass,
    fit_unpooled,
    map_band_sets,
    map_geometry,
    model_meta,
    pooled_candidates,
    prepare_block,
    sample_rows,
    shared_setting,
)
from .pooled import check_pooling, pool_averaged, pool_map, pooling_options

__all__ = ["DaskSource", "dask_map"]


def dask_map(
    x, cube, map_shape, *, bands, jobs, progress, pooling, share, max_phases, coords, names,
    meta, through=None, **kwargs,
) -> MapResult:  # fmt: skip
    """Fit a dask array of spectra (last axis the channels) one chunk per task.

    Arguments as `nmcraman.deconvolve_map`; ``jobs`` and ``progress`` are the
    scheduler's business here (each task runs on one thread, without a bar).
    """
    import dask

    share, max_phases = pooling_options(pooling, share, max_phases)
    bands = _in_memory(bands)
    pooled = not (isinstance(pooling, str) and pooling == "none")
    opts = batch_options(bands=bands, jobs=1, progress=False, pooled=pooled, **kwargs)
    x_full, order = axis_order(x, opts.model.baseline)
    if pooled:
        check_pooling(pooling, share, max_phases)
    flat = cube.reshape(-1, x_full.size)
    if np.any(order != np.arange(order.size)):
        flat = flat[:, order]
    per_pixel = not pooled and opts.model.choosing
    fixed, choice = (opts, None) if per_pixel else _shared_setting(x_full, flat, bands, opts)
    meta = {**(meta or {}), **model_meta(fixed.model, choice)}
    blocks, where = _chunks(cube, order)
    # The results come back chunk after chunk; ``back`` puts them in row-major order.
    back = np.argsort(np.concatenate(where), kind="stable")
    if not pooled:
        tasks = [dask.delayed(_fit_rows)(x_full, b, bands, fixed, meta) for b in blocks]
        merged = join_blocks(list(dask.compute(*tasks)), map_shape)
        if np.any(back != np.arange(back.size)):
            merged = merged._take(back, map_shape)
        return merged.replace(coords=coords, names=names)

    def run(each: BatchOptions):
        parts = dask.compute(*[dask.delayed(_first_rows)(x_full, b, bands, each) for b in blocks])
        firsts = {
            key: (
                map_geometry(x_full, b, each),
                {k: np.concatenate([p[key][k] for p in parts])[back] for k in parts[0][key]},
            )
            for key, b in map_band_sets(bands).items()
        }
        return firsts, DaskSource(x_full, flat, each)

    target = {"share": share, "max_phases": max_phases, "through": through,
              "map_shape": map_shape, "coords": coords, "names": names, "meta": meta}  # fmt: skip
    cands = pooled_candidates(x_full, bands, opts, choice)
    if cands:
        return pool_averaged(lambda c: run(opts.with_model(**c.overrides)), cands, choice,
                             pooling, **target, xmin=opts.model.xmin)  # fmt: skip
    return pool_map(*run(fixed), pooling, **target)


def _in_memory(bands):
    """``bands`` as the tasks receive it: a TOML file of priors read here, once.

    A worker of a cluster may not see the client's files (another machine, another
    working folder), and every task would read the file again. Presets, dicts and
    lists of `Band` go as they are: they need no file.
    """
    if isinstance(bands, os.PathLike) or (
        isinstance(bands, str) and bands != "auto" and bands not in PRESETS
    ):
        return resolve_bands(bands)
    return bands


def _shared_setting(x_full, flat, bands, opts: BatchOptions):
    """`shared_setting` from a sample of the map's pixels, the only ones computed.

    The pixels of `sample_rows` are brought into this process, as the in-memory map
    reads them.
    """
    rows = flat[:0]
    if opts.model.choosing:
        rows = flat[sample_rows(flat.shape[0])]
    return shared_setting(x_full, np.asarray(rows, dtype=np.float64), bands, opts)


def _chunks(cube, order: np.ndarray) -> tuple[list, list[np.ndarray]]:
    """Split a dask cube into its chunks along the navigation dimensions.

    Returns each chunk as a dask array (its navigation shape, channels in ``order``)
    and the flat row-major indices of its pixels in the whole map.
    """
    cube = cube.rechunk({cube.ndim - 1: -1})
    nav = cube.shape[:-1]
    edges = [np.cumsum((0, *c)) for c in cube.chunks[:-1]]
    blocks, where = [], []
    for idx in np.ndindex(*cube.numblocks[:-1]):
        block = cube.blocks[(*idx, 0)]
        if np.any(order != np.arange(order.size)):
            block = block[..., order]
        ranges = [np.arange(edges[a][i], edges[a][i + 1]) for a, i in enumerate(idx)]
        blocks.append(block)
        where.append(np.ravel_multi_index(np.ix_(*ranges), nav).ravel())
    return blocks, where


def _block(block) -> tuple[np.ndarray, tuple[int, ...]]:
    """Return a chunk's spectra (pixels, channels) and its navigation shape."""
    arr = np.asarray(block, dtype=np.float64)
    return arr.reshape(-1, arr.shape[-1]), arr.shape[:-1]


def _fit_rows(x_full, block, bands, opts: BatchOptions, meta) -> MapResult:
    """Fit one chunk of the map, every pixel on its own (a task)."""
    ys, shape = _block(block)
    fit = fit_per_pixel if opts.model.choosing else fit_unpooled
    return fit(x_full, ys, bands, opts, map_shape=shape, coords=None, names=None, meta=meta)


def _first_rows(x_full, block, bands, opts: BatchOptions) -> dict[str, dict]:
    """Fit one chunk of the map per band set (a task); return the per-pixel arrays."""
    ys, shape = _block(block)
    fits = first_pass(x_full, ys, bands, opts, shape)
    return {key: out for key, (_, out) in fits.items()}


class DaskSource:
    """Spectra in a dask array (pixels, channels), as `nmcraman.maps.pooled` reads them.

    `load` brings the few rows of a subsample into this process; `run` sends each
    chunk of a phase to the scheduler as a task that reads only its own rows.
    """

    def __init__(self, x_full: np.ndarray, flat, opts: BatchOptions):
        self.x_full, self.flat, self.opts = x_full, flat, opts

    def load(self, rows: np.ndarray, geo: Geometry) -> dict:
        """`prepare_block` of the spectra ``rows``."""
        ys = np.asarray(self.flat[rows].compute(), dtype=np.float64)
        return prepare_block(self.x_full, ys, geo, self.opts)

    def run(self, job: Callable, chunks: list[np.ndarray], args: list[tuple], geo: Geometry):
        """``job(load(rows), *arg)`` for each chunk of rows and its arguments, as tasks."""
        import dask

        tasks = [
            dask.delayed(_run_chunk)(self.flat[rows], self.x_full, geo, self.opts, job, *arg)
            for rows, arg in zip(chunks, args, strict=True)
        ]
        return list(dask.compute(*tasks))


def _run_chunk(ys, x_full, geo: Geometry, opts: BatchOptions, job: Callable, *args):
    return job(prepare_block(x_full, np.asarray(ys, dtype=np.float64), geo, opts), *args)
