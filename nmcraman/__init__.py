"""nmcraman: Raman deconvolution of layered NMC battery cathodes.

One spectrum (or a map) in, the table papers print out: for each band (Ni, Co, Mn
Eg and A1g modes and an optional rock-salt LO band) its position, FWHM and area %,
with 1-sigma errors.

Examples
--------
>>> from nmcraman import deconvolve
>>> from nmcraman.synthetic import simulate
>>> s = simulate("CS_75", snr=150, rng=3)
>>> res = deconvolve(s.x, s.y)
>>> res.model_choice["chosen"]
'nmc+lo'
"""

import importlib

from ._version import __version__
from .bands import BANDS, PRESETS, Band, bands
from .errors import BandError, InputError, NmcramanError, ReadError
from .options import FitOptions
from .spectrum import SpectralMap, Spectrum

__all__ = [
    "BANDS",
    "PRESETS",
    "Band",
    "BandError",
    "FitOptions",
    "InputError",
    "JointResult",
    "MapResult",
    "NmcramanError",
    "ReadError",
    "Result",
    "SpectralMap",
    "Spectrum",
    "__version__",
    "bands",
    "deconvolve",
    "deconvolve_batch",
    "deconvolve_joint",
    "deconvolve_map",
    "load",
    "read_map",
    "read_series",
    "read_spectrum",
]

#: Public names loaded on first use, and the module that holds each: the fitters and
#: results pull in numba's kernels and pandas, the readers pandas' parsers and vendor
#: packages, so that ``import nmcraman`` stays fast (PEP 562).
_ON_USE = {
    "deconvolve": "fit",
    "deconvolve_joint": "joint",
    "deconvolve_batch": "maps",
    "deconvolve_map": "maps",
    "Result": "results.result",
    "JointResult": "results.joint",
    "MapResult": "results.map",
    "load": "results.savefile",
    "read_spectrum": "io",
    "read_map": "io",
    "read_series": "io",
}


def __getattr__(name: str):
    module = _ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'nmcraman' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
