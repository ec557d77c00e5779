"""Sample spectra, maps and files with known content for the tests of nmcraman.io.

Spectra: ``X``, ``Y`` and text rows made of them. Maps: ``CUBE`` on the axis ``MAP_X``
at stage positions ``STAGE_X`` (columns) and ``STAGE_Y`` (rows), as LabSpec exports.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nmcraman.synthetic import core_shell_map

DATA = Path(__file__).parent / "data"

# A reference spectrum for the text variants: shifts 150-897.5 cm-1 (a Raman axis,
# too coarse to look like nm), intensities with three decimals so that decimal
# marks matter.
X = 150.0 + 2.5 * np.arange(300)

Y = np.round(1000.0 + 300.0 * np.sin(X / 40.0) + X / 7.0, 3)

CUBE, MAP_X, _ = core_shell_map(4, 5, rng=0)

STAGE_X = 10.0 + 2.0 * np.arange(5)  # columns

STAGE_Y = -3.0 + 1.5 * np.arange(4)  # rows


def witec_columns() -> tuple[np.ndarray, np.ndarray]:
    """Wavelength (nm) and counts of the WITec Si file, parsed with numpy, not the reader."""
    return np.loadtxt(DATA / "witec_ascii_Si-wafer.txt", delimiter=",", skiprows=17, unpack=True)


# The Si wafer file: its laser line, saturated over 8 detector pixels (532.12 to 532.70
# nm), is centred at the middle of that run, 532.41 nm, to half a pixel (0.04 nm).
# Its pixels are 0.083 nm wide, 2.7 cm-1 at the Si line near 547 nm.
WITEC_NM, WITEC_COUNTS = witec_columns()
WITEC_LASER_NM = float(WITEC_NM[WITEC_COUNTS == 65535].mean())
WITEC_PIXEL_CM1 = 1e7 / 547.4 - 1e7 / (547.4 + np.median(np.diff(WITEC_NM)))
SI_CM1 = 520.7  # the Si phonon at room temperature


def vertex(spectrum, centre: float, half_width: float) -> float:
    """Peak position between grid points: vertex of the parabola through the top three."""
    top = np.flatnonzero(spectrum.x == peak(spectrum, centre, half_width))[0]
    a, b, _ = np.polyfit(spectrum.x[top - 1 : top + 2], spectrum.y[top - 1 : top + 2], 2)
    return -b / (2 * a)


def peak(spectrum, centre: float, half_width: float) -> float:
    """Shift of the highest point within centre +- half_width (not at the window edge)."""
    inside = np.flatnonzero(np.abs(spectrum.x - centre) < half_width)
    top = inside[np.argmax(spectrum.y[inside])]
    assert inside[0] < top < inside[-1], f"maximum at the window edge near {centre}"
    return float(spectrum.x[top])


def text_rows(sep: str, decimal: str = ".", x=X, y=Y) -> list[str]:
    rows = [f"{float(a)!r}{sep}{float(b)!r}" for a, b in zip(x, y, strict=True)]
    return [r.replace(".", ",") for r in rows] if decimal == "," else rows


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def three_columns(tmp_path):
    return write(
        tmp_path, "three.txt", "\n".join(f"{a}\t{b}\t{b}" for a, b in zip(X, Y, strict=True))
    )


LABSPEC_HEADER = (
    "#Acq. time (s)=\t60\n#Accumulations=\t2\n#Detector temperature (°C)=\t-70.13\n"
    "#Instrument=\tLabRAM HR Evol\n#Grating=\t600 gr/mm\n#Laser (nm)=\t632.817 \n"
    "#Laser Pol. (°)=\t45.008\n#X (µm)=\t-0.4\n#Y (µm)=\t-0.6\n#Z (µm)=\t-326.7\n"
    "#Title=\tNMC spot\n#AxisType[0]=Intens\n#AxisUnit[0]=Cnt\n"
    "#AxisType[1]=Spectr\n#AxisUnit[1]=1/cm\n"
)


def labspec_table(coords: list[list[float]]) -> str:
    lead = "\t" * len(coords[0])
    axis = lead + "\t".join(repr(float(v)) for v in X)
    rows = [
        "\t".join(repr(c) for c in xy) + "\t" + "\t".join(repr(float(v)) for v in Y)
        for xy in coords
    ]
    return LABSPEC_HEADER + "\n".join([axis, *rows])


def witec_rows_as_plain_text(tmp_path, header: str = "") -> Path:
    lines = (DATA / "witec_ascii_Si-wafer.txt").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "nm.txt"
    path.write_text(header + "\n".join(lines[lines.index("nm,CCD cts") + 1 :]))
    return path


def num(value: float, dec: str = ".") -> str:
    return repr(float(value)).replace(".", dec)


def labspec_lines(cube=CUBE, x=MAP_X, sep="\t", dec=".", corner=True, order=None, header=()):
    """A LabSpec map export of ``cube``: axis row, then X, Y and the spectrum per pixel."""
    rows, cols = cube.shape[:2]
    cells = [(r, c) for r in range(rows) for c in range(cols)] if order is None else order
    lead = sep * 2 if corner else ""
    lines = [*header, lead + sep.join(num(v, dec) for v in x)]
    for r, c in cells:
        values = [STAGE_X[c], STAGE_Y[r], *cube[r, c]]
        lines.append(sep.join(num(v, dec) for v in values))
    return lines


def write_lines(folder: Path, name: str, lines) -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


def expected_coords():
    return np.array([(STAGE_X[c], STAGE_Y[r]) for r in range(4) for c in range(5)])


def spectrum_file(folder: Path, name: str, x, y, header=()) -> Path:
    return write_lines(
        folder, name, [*header, *(f"{float(a)!r}\t{float(b)!r}" for a, b in zip(x, y, strict=True))]
    )
