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

from ._version import __version__
from .bands import BANDS, PRESETS, Band, bands
from .errors import BandError, InputError, NmcramanError, ReadError
from .fit import FitOptions, deconvolve
from .joint import deconvolve_joint
from .maps import deconvolve_batch, deconvolve_map
from .results.joint import JointResult
from .results.map import MapResult
from .results.result import Result
from .results.savefile import load
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


def __getattr__(name: str):
    # The readers pull in pandas' parsers and optional vendor packages: load on use.
    if name == "read_spectrum":
        from .io import read_spectrum

        return read_spectrum
    if name == "read_map":
        from .io import read_map

        return read_map
    if name == "read_series":
        from .io import read_series

        return read_series
    raise AttributeError(f"module 'nmcraman' has no attribute {name!r}")
