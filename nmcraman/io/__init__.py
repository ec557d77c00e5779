"""Read Raman spectra, maps and batches of files from instrument exports.

`read_spectrum` turns one file into a `Spectrum`, `read_map` one file of many spectra
into a `SpectralMap`, `read_many` a folder or glob of single-spectrum files into a
batch, and `read_series` one map file per step (time, voltage) into one series. The
format is found from the content, not the name (see `._formats`): plain text columns
(any separator, decimal commas, comment or header lines, Latin-1 bytes, CRLF), Horiba
LabSpec text and XML exports and maps, JASCO text exports, WITec Project ASCII
exports, B&W Tek vendor CSV, Thermo DXR CSV, Galactic SPC files and Renishaw ``.wdf``
spectra and maps (through ``renishawWiRE``). ``format=`` forces one entry of
`FORMATS`. The axis always comes back as Raman shift in cm-1.

The package holds one module per layer: `._files` (path, bytes, decoding), `._text`
(header and data lines, separators, columns), `._axis` (units, laser line, nm to
cm-1), `._grid` (stage positions to a map), one module per vendor format, the format
registry `._formats`, and the public readers `._read`, `._folders` and `._series`.
"""

from ._folders import read_many
from ._formats import FORMATS
from ._read import read_map, read_spectrum
from ._series import read_series

__all__ = ["FORMATS", "read_many", "read_map", "read_series", "read_spectrum"]
