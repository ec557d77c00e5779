"""Band priors: where each NMC Raman band is expected, and how far it may move.

A prior gives, for each band, a starting centre, an allowed centre window and a
FWHM range, all in cm-1. The fitter starts from the centres, never leaves the windows,
and keeps the bands in the order of their starting centres so that labels never swap.

The presets follow the band assignment used for Ni-rich and core-shell NMC in the
study this library serves (García-Alonso et al., Table S3): an Eg and an A1g band
for each of Ni, Co and Mn, plus an optional longitudinal-optical (LO) band of a
rock-salt (NiO-like) surface phase. The numbers are *not* taken from that table:
they come from the literature below, rounded, with windows wide enough to hold the
spread reported across compositions (Ni-rich to NMC111, LiCoO2, LiNiO2, Mn-rich).

References
----------
.. [Inaba1997] M. Inaba, Y. Iriyama, Z. Ogumi, Y. Todzuka, A. Tasaka, "Raman study of
   layered rock-salt LiCoO2 and its electrochemical lithium deintercalation",
   J. Raman Spectrosc. 28 (1997) 613-617. LiCoO2: Eg 485, A1g 595 cm-1.
.. [Julien2000] C. Julien, "Local cationic environment in lithium nickel-cobalt oxides
   used as cathode materials for lithium batteries", Solid State Ionics 136-137
   (2000) 887-896. LiNi(1-y)Co(y)O2: Eg 465 to 485, A1g 545 to 595 cm-1 with Co content.
.. [Ammundsen1999] B. Ammundsen, G. R. Burns, M. S. Islam, H. Kanoh, J. Rozière,
   "Lattice dynamics and vibrational spectra of lithium manganese oxides",
   J. Phys. Chem. B 103 (1999) 5175-5180. Mn-O stretching of layered and spinel
   Li-Mn oxides at 580 to 630 cm-1.
.. [BenKamel2012] K. Ben-Kamel, N. Amdouni, A. Mauger, C. M. Julien, "Study of the local
   structure of LiNi0.33+dMn0.33+dCo0.33-2dO2 oxides", J. Alloys Compd. 528 (2012)
   91-98. NMC111: Eg near 475-480, A1g near 595-600 cm-1, with Mn-related shoulders.
.. [BaddourHadjean2010] R. Baddour-Hadjean, J.-P. Pereira-Ramos, "Raman
   microspectrometry applied to the study of electrode materials for lithium
   batteries", Chem. Rev. 110 (2010) 1278-1319. Review of LiMO2 band positions and widths.
.. [Flores2018] E. Flores, P. Novák, E. J. Berg, "In situ and operando Raman
   spectroscopy of layered transition metal oxides for Li-ion battery cathodes",
   Front. Energy Res. 6 (2018) 82. Ni-rich LiMO2: broad Eg near 470-480 and A1g near
   550-560 cm-1, FWHM 40 to 100 cm-1, lower-frequency Ni-related contributions.
.. [Flores2020] E. Flores, N. Vonrüti, P. Novák, U. Aschauer, E. J. Berg, "Cation
   ordering and redox chemistry of layered Ni-rich LixNi1-2yCoyMnyO2: an operando
   Raman spectroscopy study", Chem. Mater. 32 (2020) 186-194. NCM811/622/111
   deconvolved into several Eg/A1g components between 350 and 650 cm-1.
.. [MironovaUlmane2007] N. Mironova-Ulmane, A. Kuzmin, I. Steins, J. Grabis, I. Sildos,
   M. Pärs, "Raman scattering in nanosized nickel oxide NiO", J. Phys.: Conf. Ser. 93
   (2007) 012039. Rock-salt NiO one-phonon LO band at 560 to 570 cm-1.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from .errors import BandError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "BANDS",
    "PRESETS",
    "Band",
    "band_sets",
    "bands",
    "bands_to_toml",
    "check_ties",
    "resolve_bands",
]


@dataclass(frozen=True)
class Band:
    """Prior for one Raman band. All positions and widths are in cm-1.

    Parameters
    ----------
    id : str
        Stable identifier used in tables, e.g. ``"Ni_Eg"``.
    label : str
        Display label as printed in papers, e.g. ``"Ni (Eg)"``.
    centre : float
        Starting centre.
    window : tuple of float
        ``(low, high)`` limits of the centre; must contain ``centre``.
    fwhm : float
        Starting full width at half maximum.
    fwhm_range : tuple of float
        ``(low, high)`` limits of the FWHM; must contain ``fwhm``, ``low > 0``.
    reference : str, optional
        Where the numbers come from. Default is ``""``.
    fix : tuple of str, optional
        Parameters held at their prior value instead of fitted: ``"position"`` (at
        ``centre``) and/or ``"fwhm"`` (at ``fwhm``). Default is ``()``.
    tie : dict or tuple of pairs, optional
        ``{"fwhm": "Co_Eg"}``: this band's FWHM equals that band's, one fitted value
        for both. Default is no tie.

    Notes
    -----
    Why ``fix`` and ``tie`` and not expressions: lmfit's ``expr`` allows any formula
    and fityk's shared ``$variables`` any sharing, but what NMC deconvolution asks for
    is holding a band where a reference measurement put it and giving related bands
    one width; both keep the fit a variable projection with fewer free parameters,
    which an arbitrary expression would not. In TOML: ``fix = ["position"]`` and
    ``tie = {fwhm = "Co_Eg"}``.

    Examples
    --------
    >>> from nmcraman import Band
    >>> Band("X", "X band", 500.0, (480.0, 520.0), 40.0, (10.0, 90.0)).window
    (480.0, 520.0)
    """

    id: str
    label: str
    centre: float
    window: tuple[float, float]
    fwhm: float
    fwhm_range: tuple[float, float]
    reference: str = ""
    fix: tuple[str, ...] = ()
    tie: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fix", _fixes(self.fix, self.id))
        object.__setattr__(self, "tie", _ties(self.tie, self.id))
        object.__setattr__(self, "window", _pair(self.window, self.id, "window"))
        object.__setattr__(self, "fwhm_range", _pair(self.fwhm_range, self.id, "fwhm_range"))
        for name in ("centre", "fwhm"):
            object.__setattr__(self, name, _number(getattr(self, name), self.id, name))
        _check_band(self)


def _number(value: Any, band_id: str, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise BandError(f"band {band_id!r}: {name} must be a number, got {value!r}.") from None
    if not math.isfinite(out):
        raise BandError(f"band {band_id!r}: {name} must be finite, got {value!r}.")
    return out


def _pair(value: Any, band_id: str, name: str) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise BandError(f"band {band_id!r}: {name} must be a pair (low, high), got {value!r}.")
    items = list(value)
    if len(items) != 2:
        raise BandError(f"band {band_id!r}: {name} must be a pair (low, high), got {value!r}.")
    return (_number(items[0], band_id, name), _number(items[1], band_id, name))


#: Band parameters that ``fix`` may hold and ``tie`` may share.
CONSTRAINABLE = {"fix": ("position", "fwhm"), "tie": ("fwhm",)}


def _fixes(value: Any, band_id: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, Mapping):
        raise BandError(f"band {band_id!r}: fix must be a list of parameter names, got {value!r}.")
    out = tuple(sorted(set(items)))
    bad = [f for f in out if f not in CONSTRAINABLE["fix"]]
    if bad:
        raise BandError(
            f"band {band_id!r}: cannot fix {bad[0]!r}; fix takes"
            f" {' and/or '.join(CONSTRAINABLE['fix'])}."
        )
    return out


def _ties(value: Any, band_id: str) -> tuple[tuple[str, str], ...]:
    try:
        pairs = dict(value.items() if isinstance(value, Mapping) else value)
    except (TypeError, ValueError):
        raise BandError(
            f"band {band_id!r}: tie must map a parameter to a band id, like"
            f" {{'fwhm': 'Co_Eg'}}; got {value!r}."
        ) from None
    for param, target in pairs.items():
        if param not in CONSTRAINABLE["tie"]:
            raise BandError(
                f"band {band_id!r}: cannot tie {param!r}; only the FWHM can be tied"
                " ({'fwhm': band id})."
            )
        if not isinstance(target, str) or target == band_id:
            raise BandError(f"band {band_id!r}: tie {param} to another band's id, got {target!r}.")
    return tuple(sorted(pairs.items()))


def _check_band(b: Band) -> None:
    if not isinstance(b.id, str) or not b.id.isidentifier():
        raise BandError(f"band id {b.id!r} must be a name like 'Ni_Eg' (letters, digits, _).")
    lo, hi = b.window
    if not lo < hi:
        raise BandError(f"band {b.id!r}: window low {lo:g} must be below high {hi:g} cm-1.")
    if not lo <= b.centre <= hi:
        raise BandError(
            f"band {b.id!r}: centre {b.centre:g} cm-1 lies outside its window ({lo:g}, {hi:g})."
        )
    both = {p for p, _ in b.tie} & set(b.fix)
    if both:
        raise BandError(f"band {b.id!r}: {sorted(both)[0]} is both fixed and tied; choose one.")
    wlo, whi = b.fwhm_range
    if not 0 < wlo < whi:
        raise BandError(
            f"band {b.id!r}: fwhm_range must satisfy 0 < low < high, got ({wlo:g}, {whi:g})."
        )
    if not wlo <= b.fwhm <= whi:
        raise BandError(
            f"band {b.id!r}: starting fwhm {b.fwhm:g} cm-1 lies outside fwhm_range"
            f" ({wlo:g}, {whi:g})."
        )


_NI_RICH = "Flores2018; Flores2020; BaddourHadjean2010"

#: Every band the library knows, with its literature prior. Presets pick from these.
BANDS: dict[str, Band] = {
    b.id: b
    for b in (
        Band(
            "Ni_Eg",
            "Ni (Eg)",
            370.0,
            (330.0, 410.0),
            70.0,
            (15.0, 150.0),
            f"{_NI_RICH}: weak low-frequency Ni-related Eg band of Ni-rich LiMO2",
        ),
        Band(
            "Co_Eg",
            "Co (Eg)",
            445.0,
            (410.0, 470.0),
            80.0,
            (15.0, 150.0),
            "Inaba1997; Julien2000; BenKamel2012: Co-O bending (Eg) region, softened in NMC",
        ),
        Band(
            "Co_A1g",
            "Co (A1g)",
            485.0,
            (465.0, 505.0),
            60.0,
            (15.0, 130.0),
            "Inaba1997 (LiCoO2 485 cm-1); Julien2000; Flores2018",
        ),
        Band(
            "Ni_A1g",
            "Ni (A1g)",
            520.0,
            (500.0, 540.0),
            45.0,
            (10.0, 110.0),
            "Julien2000 (LiNiO2 A1g 545); Flores2018; Flores2020: Ni-O stretching of Ni-rich NMC",
        ),
        Band(
            "Mn_Eg",
            "Mn (Eg)",
            550.0,
            (528.0, 566.0),
            50.0,
            (10.0, 110.0),
            "BenKamel2012; Flores2020; Ammundsen1999: Mn-related component near 550 cm-1",
        ),
        Band(
            "Mn_A1g",
            "Mn (A1g)",
            595.0,
            (568.0, 625.0),
            55.0,
            (15.0, 120.0),
            "Ammundsen1999; BenKamel2012 (NMC111 A1g near 595); Inaba1997 (LiCoO2 595)",
        ),
        Band(
            "LO_RS",
            "LO (R-S)",
            565.0,
            (550.0, 585.0),
            35.0,
            (10.0, 80.0),
            "MironovaUlmane2007: one-phonon LO of rock-salt NiO near 560-570 cm-1",
        ),
    )
}

_NMC = ("Ni_Eg", "Co_Eg", "Co_A1g", "Ni_A1g", "Mn_Eg", "Mn_A1g")

#: Preset name -> tuple of band ids, in table order.
PRESETS: dict[str, tuple[str, ...]] = {"nmc": _NMC, "nmc+lo": (*_NMC, "LO_RS")}

BandSpec = str | Path | Mapping[str, Any] | Iterable[Band]
_FIELDS = tuple(f.name for f in fields(Band))


def bands(preset: str = "nmc+lo") -> list[Band]:
    """Return the band priors of a preset.

    Parameters
    ----------
    preset : str, optional
        ``"nmc"`` (six first-order bands) or ``"nmc+lo"`` (adds ``LO_RS``).
        Default is ``"nmc+lo"``.

    Returns
    -------
    list of Band
        In table order.

    Examples
    --------
    >>> from nmcraman import bands
    >>> [b.id for b in bands("nmc")]
    ['Ni_Eg', 'Co_Eg', 'Co_A1g', 'Ni_A1g', 'Mn_Eg', 'Mn_A1g']
    """
    if preset not in PRESETS:
        raise BandError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}.")
    return [BANDS[i] for i in PRESETS[preset]]


def _band_from_mapping(band_id: str, spec: Mapping[str, Any], base: Band | None) -> Band:
    if not isinstance(spec, Mapping):
        raise BandError(f"band {band_id!r}: expected a table of fields, got {spec!r}.")
    unknown = set(spec) - set(_FIELDS) - {"center"}
    if unknown:
        raise BandError(
            f"band {band_id!r}: unknown field(s) {', '.join(sorted(unknown))};"
            f" allowed: {', '.join(f for f in _FIELDS if f != 'id')}."
        )
    values = dict(spec)
    if "center" in values:
        values["centre"] = values.pop("center")
    if base is not None:
        return replace(base, **values)
    missing = [f for f in ("centre", "window", "fwhm_range") if f not in values]
    if missing:
        raise BandError(
            f"unknown band id {band_id!r}: give {', '.join(missing)} for a new band, or use"
            f" one of {', '.join(BANDS)}."
        )
    values.setdefault("label", band_id)
    if "fwhm" not in values:
        lo, hi = _pair(values["fwhm_range"], band_id, "fwhm_range")
        values["fwhm"] = math.sqrt(lo * hi) if lo > 0 else hi / 2
    return Band(id=band_id, **values)


#: ``preset`` of a dict or TOML file of priors that holds only the bands it lists.
NO_PRESET = "none"
#: What a band of a dict or file without a preset must give to be a band of its own,
#: not a change to a preset's band: each entry is a field or a choice of fields.
_FULL_BAND = (("centre", "center"), ("window",), ("fwhm", "fwhm_range"))


def _is_full(fields_: Any) -> bool:
    return isinstance(fields_, Mapping) and all(
        any(f in fields_ for f in choice) for choice in _FULL_BAND
    )


def _from_mapping(spec: Mapping[str, Any], source: str = "") -> list[Band]:
    """Bands of a dict (or a TOML file, named ``source``): a preset and changes to it.

    Without a ``preset``, every band a library id names must be given in full (a
    custom model); a file that only changes some bands of a preset would otherwise
    become a model of those bands alone, so it is refused.
    """
    spec = dict(spec)
    preset = spec.pop("preset", None)
    table = spec.pop("bands", spec)
    if not isinstance(table, Mapping):
        raise BandError("'bands' must be a table of band id -> fields.")
    if preset is None:
        _check_no_preset(table, source)
    out = {} if preset in (None, NO_PRESET) else {b.id: b for b in bands(preset)}
    for band_id, fields_ in table.items():
        if fields_ is False or fields_ is None:
            if band_id not in out:
                raise BandError(f"cannot drop band {band_id!r}: not in preset {preset!r}.")
            del out[band_id]
            continue
        out[band_id] = _band_from_mapping(band_id, fields_, out.get(band_id, BANDS.get(band_id)))
    return list(out.values())


def _check_no_preset(table: Mapping[str, Any], source: str) -> None:
    """Refuse priors without a preset that change library bands instead of defining them.

    Raises
    ------
    BandError
        Naming the bands that are only changes, and the two ways to say what is meant.
    """
    changes = [i for i, f in table.items() if i in BANDS and not _is_full(f)]
    if not changes:
        return
    name = (lambda v: f'preset = "{v}"') if source else (lambda v: f'"preset": "{v}"')
    where = source or "the bands dict"
    raise BandError(
        f"{where} changes {', '.join(changes)} but names no preset, so only the"
        f" {len(table)} band(s) listed would be fitted; add {name('nmc+lo')} (or"
        f" {name('nmc')}) to change these bands of a preset, or {name(NO_PRESET)} to fit"
        " only the bands listed."
    )


def band_sets(spec: BandSpec) -> dict[str, list[Band]]:
    """Resolve ``bands=`` for a fit that may choose its model: the sets to fit, by name.

    ``"auto"`` gives every preset under its name (the fit keeps the one its criterion
    prefers, `nmcraman.results.result.choose_model`); anything else one set under ``""``
    (`resolve_bands`).
    """
    if isinstance(spec, str) and spec == "auto":
        return {p: resolve_bands(p) for p in PRESETS}
    return {"": resolve_bands(spec)}


def resolve_bands(spec: BandSpec) -> list[Band]:
    """Turn any accepted ``bands=`` value into a validated list of `Band`.

    Parameters
    ----------
    spec : str, path, dict or list of Band
        A preset name (``"nmc"``, ``"nmc+lo"``); a path to a TOML file; a dict
        ``{band_id: {field: value}}``; or a list of `Band`. A dict or file names the
        preset it starts from (``"preset"``) and overrides or drops (``False``) some
        of its bands; known ids fill unspecified fields from the library's priors.
        ``"preset": "none"`` fits only the bands listed. Without a preset every band
        must be given in full (``centre``, ``window``, ``fwhm`` or ``fwhm_range``):
        a custom model, as `bands_to_toml` writes it.

    Returns
    -------
    list of Band

    Raises
    ------
    BandError
        Unknown preset or band id, invalid field, duplicate ids, fewer than one band,
        or a dict or file without a preset that only changes some library bands (it
        would fit those bands alone).

    Examples
    --------
    >>> from nmcraman.bands import resolve_bands
    >>> b = resolve_bands({"preset": "nmc", "Mn_A1g": {"centre": 600.0}})
    >>> b[-1].centre
    600.0
    """
    if isinstance(spec, (str, Path)):
        text = str(spec)
        if text in PRESETS:
            out = bands(text)
        elif text.lower().endswith(".toml") or Path(text).is_file():
            out = _from_mapping(_load_toml(Path(text)), Path(text).name)
        else:
            raise BandError(
                f"unknown bands {text!r}: use a preset ({', '.join(PRESETS)}, auto),"
                " a .toml file, a dict or a list of Band."
            )
    elif isinstance(spec, Mapping):
        out = _from_mapping(spec)
    elif isinstance(spec, Iterable):
        out = list(spec)
        bad = [b for b in out if not isinstance(b, Band)]
        if bad:
            raise BandError(f"bands list must hold Band objects, got {type(bad[0]).__name__}.")
    else:
        raise BandError(f"bands must be a preset, path, dict or list, got {type(spec).__name__}.")
    if not out:
        raise BandError("no bands to fit: give at least one band.")
    ids = [b.id for b in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise BandError(f"duplicate band id(s) {', '.join(dup)}; each band needs its own id.")
    check_ties(out)
    return out


def check_ties(band_list: list[Band]) -> None:
    """Refuse ties to a band that is not in the list, or to a band that is tied itself.

    Raises
    ------
    BandError
        With the band and the tie to change.
    """
    by_id = {b.id: b for b in band_list}
    for b in band_list:
        for param, target in b.tie:
            if target not in by_id:
                raise BandError(
                    f"band {b.id!r}: its {param} is tied to {target!r}, which is not among the"
                    f" bands ({', '.join(by_id)}); tie it to one of them or drop the tie."
                )
            if any(p == param for p, _ in by_id[target].tie):
                raise BandError(
                    f"band {b.id!r}: its {param} is tied to {target!r}, whose {param} is tied"
                    " in turn; tie both to the same band."
                )


def held_parameters(band_list: Iterable[Band]) -> dict[str, dict]:
    """Return the constraints of ``band_list``, for provenance: band id -> fix and tie.

    Bands that hold nothing are left out; an empty dict means a free fit.

    Examples
    --------
    >>> from nmcraman.bands import held_parameters, resolve_bands
    >>> held_parameters(resolve_bands({"preset": "nmc", "Mn_A1g": {"fix": ["position"]}}))
    {'Mn_A1g': {'fix': ['position']}}
    """
    out = {}
    for b in band_list:
        held = {}
        if b.fix:
            held["fix"] = list(b.fix)
        if b.tie:
            held["tie"] = dict(b.tie)
        if held:
            out[b.id] = held
    return out


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise BandError(f"band prior file {str(path)!r} does not exist.") from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BandError(f"cannot read band priors from {path.name}: {exc}.") from None


#: Comment lines after the title of `bands_to_toml`: how to hold or share a parameter,
#: and how to keep only the changes to a preset.
_TOML_HELP = (
    "#",
    "# The fit starts at centre and fwhm and never leaves window and fwhm_range.",
    "# A band can also hold a parameter at its prior value instead of fitting it, or",
    "# take another band's FWHM (one fitted value for both). Add to its table, e.g.:",
    '#   fix = ["position"]        # or ["fwhm"], or ["position", "fwhm"]',
    "#   tie = {fwhm = \"Co_Eg\"}    # this band's FWHM is Co_Eg's",
    "# This file lists every band in full. To change only some bands of a preset, write",
    '# preset = "nmc+lo" (or "nmc") at the top and list only those bands and fields.',
)


def bands_to_toml(band_list: Iterable[Band]) -> str:
    """Write band priors as TOML text that `resolve_bands` reads back.

    Parameters
    ----------
    band_list : iterable of Band

    Returns
    -------
    str

    Examples
    --------
    >>> from nmcraman import bands
    >>> from nmcraman.bands import bands_to_toml
    >>> bands_to_toml(bands("nmc")).splitlines()[0]
    '# nmcraman band priors: positions and widths in cm-1'
    """
    lines = ["# nmcraman band priors: positions and widths in cm-1", *_TOML_HELP]
    for b in band_list:
        d = asdict(b)
        lines += [
            "",
            f"[bands.{b.id}]",
            f"label = {_toml_str(d['label'])}",
            f"centre = {b.centre:g}",
            f"window = [{b.window[0]:g}, {b.window[1]:g}]",
            f"fwhm = {b.fwhm:g}",
            f"fwhm_range = [{b.fwhm_range[0]:g}, {b.fwhm_range[1]:g}]",
            f"reference = {_toml_str(d['reference'])}",
        ]
        if b.fix:
            lines.append("fix = [" + ", ".join(_toml_str(f) for f in b.fix) + "]")
        if b.tie:
            lines.append("tie = {" + ", ".join(f"{p} = {_toml_str(t)}" for p, t in b.tie) + "}")
    return "\n".join(lines) + "\n"


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
