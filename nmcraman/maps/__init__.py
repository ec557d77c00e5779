"""Maps and batches: every pixel fitted on the batch kernels, in memory, on dask, or pooled.

`deconvolve_map` and `deconvolve_batch` (`deconvolve`) are the entry points; `pixels`
drives the batch kernel, `choice` chooses each pixel's window and orders, `dask_map`
fits dask arrays block by block, `pooled` and `phases` pool pixels by phase, `build`
assembles a `nmcraman.results.map.MapResult`.
"""

from .deconvolve import deconvolve_batch, deconvolve_map

__all__ = ["deconvolve_batch", "deconvolve_map"]
