"""Write the synthetic JASCO and LabSpec XML files of tests/data from known formulas.

No licensed JASCO or LabSpec XML export could be found, so these files follow the
layouts documented in tests/data/README.md, with intensities from the formulas below
(the tests recompute them). Run from anywhere: ``python tests/data/make_vendor_files.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
LASER_NM = 632.817


def jasco_axis() -> np.ndarray:
    """A non-linear Raman-shift axis, 4 decimals as JASCO writes it (cm-1)."""
    i = np.arange(700)
    return np.round(150.0 + 1.05 * i + 2e-4 * i**2, 4)


def jasco_counts(x: np.ndarray) -> np.ndarray:
    """A band at 600 cm-1 on a sloped background, in half counts."""
    return np.round(2 * (200 + 800 * np.exp(-(((x - 600) / 20) ** 2)) + 0.1 * x)) / 2


def lsx_nm_axis() -> np.ndarray:
    """A CCD axis in nm (ascending wavelength), 4 decimals."""
    return np.round(641.0 + 0.02 * np.arange(1500), 4)


def lsx_spectrum(nm: np.ndarray) -> np.ndarray:
    """A band at 520.7 cm-1 Raman shift (with the 632.817 nm laser), on 50 counts."""
    shift = 1e7 / LASER_NM - 1e7 / nm
    return np.round(50 + 1000 / (1 + ((shift - 520.7) / 2.5) ** 2), 3)


def lsx_map_axis() -> np.ndarray:
    """Raman shift stored descending, as LabSpec stores it (cm-1)."""
    return np.round(900.0 - 2.5 * np.arange(241), 2)


#: Stage positions of the map (µm): three X columns, two Y rows.
MAP_X = np.array([-4.0, 0.0, 4.0])
MAP_Y = np.array([10.0, 12.5])


def lsx_map_pixel(x: np.ndarray, px: float, py: float) -> np.ndarray:
    """The spectrum at stage (px, py): a band at 550 cm-1 whose height tells the pixel."""
    height = 100 + 10 * px + 1000 * (py - 10)
    return np.round(20 + height * np.exp(-(((x - 550) / 30) ** 2)), 3)


def _jasco() -> str:
    x = jasco_axis()
    y = jasco_counts(x)
    head = [
        ("TITLE", "Synthetic Raman"),
        ("DATA TYPE", "RAMAN SPECTRUM"),
        ("ORIGIN", "JASCO"),
        ("OWNER", ""),
        ("DATE", "25/01/14"),
        ("TIME", "10:11:12"),
        ("SPECTROMETER/DATA SYSTEM", ""),
        ("LOCALE", "1033"),
        ("RESOLUTION", ""),
        ("DELTAX", ""),
        ("XUNITS", "1/CM"),
        ("YUNITS", "INTENSITY"),
        ("FIRSTX", f"{x[0]:.4f}"),
        ("LASTX", f"{x[-1]:.4f}"),
        ("NPOINTS", str(x.size)),
        ("FIRSTY", f"{y[0]:g}"),
        ("MAXY", f"{y.max():g}"),
        ("MINY", f"{y.min():g}"),
    ]
    lines = [f"{k},{v}" for k, v in head] + ["XYDATA"]
    lines += [f"{a:.4f},{b:g}" for a, b in zip(x, y, strict=True)]
    lines += [
        "",
        "##### Extended Information",
        "[Comments]",
        "Sample name,Synthetic Raman",
        "Comment,written by tests/data/make_vendor_files.py",
        "",
        "[Detailed Information]",
        "Data array type,Non-linear data array",
        "Horizontal axis,Raman Shift [cm-1]",
        "Vertical axis,Int.",
        f"Data points,{x.size}",
        "",
        "[Measurement Information]",
        "Model Name,NRS-4500",
        "Exposure,30 sec",
        "Accumulation,2",
        "Laser wavelength,532.08 nm",
        "Resolution,1.05 cm-1, 1.02 cm-1/pixel",
        "Shift,-1.20 cm-1",
        "",
    ]
    return "\r\n".join(lines)


def _entry(ident: str, key: str, shown: str, number: str | None = None) -> str:
    precise = f'<LSX Format="5" ID="0x8736F70">{number}</LSX>' if number else ""
    return (
        f'<LSX Format="9" ID="{ident}" Size="3"><LSX Format="7" ID="0x6D6D616E">{key}</LSX>'
        f'<LSX Format="7" ID="0x7D6C61DB">{shown}</LSX>{precise}</LSX>'
    )


def _axis(ident: str, name: str, unit: str, values: np.ndarray) -> str:
    text = " ".join(f"{v:g}" for v in values)
    return (
        f'<LSX Format="9" ID="{ident}" Size="3">'
        f'<LSX Format="6" ID="0x7D6CD4DB" Size="{values.size}">{text}</LSX>'
        f'<LSX Format="7" ID="0x6D707974">{name}</LSX>'
        f'<LSX Format="7" ID="0x7C696E75">{unit}</LSX></LSX>'
    )


def _lsx(title: str, axes: list[str], setup: list[str], rows: list[np.ndarray]) -> str:
    intensity = (
        '<LSX Format="9" ID="0x0" Size="2"><LSX Format="7" ID="0x6D707974">Intens</LSX>'
        '<LSX Format="7" ID="0x7C696E75">Cnt</LSX></LSX>'
    )
    kind = "Spectrum" if len(rows) == 1 else "Map"
    body = "\n\t\t".join(
        f'<LSX_Row Format="6" Index="{i}" Size="{r.size}">{" ".join(f"{v:g}" for v in r)}</LSX_Row>'
        for i, r in enumerate(rows)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<LSX_Data>\n'
        f'\t<LSX_Tree Format="9" ID="0x69746164" Size="4">\n'
        f'\t\t<LSX Format="7" ID="0x6D707974">{kind}</LSX>\n'
        f'\t\t<LSX Format="8" ID="0x6C7469D9">{title}</LSX>\n'
        f'\t\t<LSX Format="9" ID="0x7A74D9D6" Size="1"><LSX Format="9" ID="0x7B697861"'
        f' Size="{len(axes) + 1}">{intensity}{"".join(axes)}</LSX></LSX>\n'
        f'\t\t<LSX Format="9" ID="0x6C62D4D9" Size="1"><LSX Format="9" ID="0x8716361"'
        f' Size="{len(setup)}">{"".join(setup)}</LSX></LSX>\n'
        "\t</LSX_Tree>\n"
        f'\t<LSX_Matrix Format="6" ID="0x7D6CD4DB" Size="{rows[0].size}">\n\t\t{body}\n'
        "\t</LSX_Matrix>\n</LSX_Data>\n"
    )


def _setup(extra: list[str]) -> list[str]:
    return [
        _entry("0x6F707865", "Acq. time (s)", "3"),
        _entry("0xD9E15849", "Instrument", "LabRAM HR Evol"),
        _entry("0x6D7361DE", "Laser (nm)", "633 ", f"{LASER_NM}"),
        *extra,
    ]


def lsx_map(stages: list[tuple[str, str, np.ndarray]], rows: list[np.ndarray]) -> str:
    """A LabSpec XML map on `lsx_map_axis`: stage axes IDs 0x2, 0x3 as (name, unit, positions).

    The first stage axis varies fastest along ``rows``, as LabSpec writes them.
    """
    axes = [_axis("0x1", "Spectr", "1/cm", lsx_map_axis())]
    axes += [_axis(f"0x{i}", *stage) for i, stage in enumerate(stages, start=2)]
    return _lsx("synthetic map", axes, _setup([]), rows)


def main() -> None:
    (HERE / "jasco_synthetic_raman.csv").write_bytes(_jasco().encode("utf-8"))
    nm = lsx_nm_axis()
    stage = [_entry("0x8000078", "X (µm)", "-12.5"), _entry("0x8000079", "Y (µm)", "3.25")]
    spectrum = _lsx(
        "synthetic nm spectrum",
        [_axis("0x1", "Spectr", "nm", nm)],
        _setup(stage),
        [lsx_spectrum(nm)],
    )
    (HERE / "labspec_xml_spectrum_nm.xml").write_text(spectrum, encoding="utf-8")
    x = lsx_map_axis()
    rows = [lsx_map_pixel(x, px, py) for py in MAP_Y for px in MAP_X]
    mapped = lsx_map([("X", "µm", MAP_X), ("Y", "µm", MAP_Y)], rows)
    (HERE / "labspec_xml_map.xml").write_text(mapped, encoding="utf-8")


if __name__ == "__main__":
    main()
