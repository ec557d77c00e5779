"""Self-contained HTML pages of fits: an interactive plot, the Table S3 table, provenance.

`Result.to_html` and `JointResult.to_html` call these. A page is one file: the style
sheet, the plotting script (``assets/plot.js``, no dependencies) and the data (JSON,
floats rounded to what a plot shows) are inline, and a Content-Security-Policy forbids
any network request, so a page opens offline and can be archived beside its data.

The tables are written here, in HTML, from the numbers of `Result.table` (each number
also kept unrounded in a ``data-value`` attribute); the script draws only the plot.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..._atomic import atomic_write
from ..._version import __version__

__all__ = ["joint_page", "result_page", "write_joint", "write_result"]

#: Significant digits kept of the curves embedded in a page, relative to each
#: spectrum's largest absolute value: finer than a screen pixel.
SIGNIFICANT = 5
#: Columns of the band table of one fit: (heading, value column, error column, decimals);
#: decimals None means 4 significant digits of the value (heights and areas are in data
#: units), its error shown with as many decimals.
BAND_COLUMNS = (
    ("Position (cm-1)", "position", "position_err", 1),
    ("FWHM (cm-1)", "fwhm", "fwhm_err", 1),
    ("Height", "height", None, None),
    ("Area", "area", "area_err", None),
    ("Area (%)", "area_pct", "area_pct_err", 1),
)
#: Columns of the summary table of a joint fit (`JointResult.summary`), as `BAND_COLUMNS`.
SUMMARY_COLUMNS = (
    ("Position (cm-1)", "position", "position_err", 1),
    ("FWHM (cm-1)", "fwhm", "fwhm_err", 1),
    ("Area (%)", "area_pct", "area_pct_err", 1),
    ("SD between spectra (%)", "area_pct_sd", None, 1),
    ("Spectra", "n_spectra", None, 0),
)
#: Shown for a missing number (NaN) or value (None).
MISSING = "\N{EN DASH}"
_HINT = (
    '<p class="hint">Drag across the plot to zoom, turn the wheel to zoom around the'
    " pointer, double-click to see everything; click a legend entry to hide it; point at a"
    " row of a band table to bring its band forward.</p>"
)


def result_page(result, title: str | None = None) -> str:
    """Return the HTML page of one fit (`nmcraman.deconvolve`).

    Parameters
    ----------
    result : Result
        The fit.
    title : str, optional
        Page heading. Default is the source file's name, else "nmcraman fit".

    Returns
    -------
    str
    """
    title = title or _source_name(result.meta) or "nmcraman fit"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{escape(_one_line(result))}</p>',
        _HINT,
        _figure(0),
        "<h2>Bands</h2>",
        band_table(result.table, BAND_COLUMNS),
        _facts(result, provenance=True),
    ]
    return fill_page(title, "\n".join(body), [spectrum_data(result, title)])


def joint_page(joint, title: str | None = None) -> str:
    """Return the HTML page of a joint fit (`nmcraman.deconvolve_joint`).

    The page holds the sample's summary and the joint fit's statistics, then each
    spectrum with its plot, band table and statistics.

    Parameters
    ----------
    joint : JointResult
        The fit.
    title : str, optional
        Page heading. Default is "nmcraman joint fit of N spectra".

    Returns
    -------
    str
    """
    title = title or f"nmcraman joint fit of {len(joint.results)} spectra"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{len(joint.results)} spectra, share={escape(joint.stats["share"])}</p>',
        "<h2>Summary</h2>",
        band_table(joint.summary, SUMMARY_COLUMNS),
        '<div class="facts">',
        key_values("Joint fit", joint.stats),
        _model_choice(joint.model_choice),
        key_values("Provenance", _shared_provenance(joint)),
        "</div>",
        '<p class="sub">Spectra: '
        + ", ".join(f'<a href="#spectrum-{i}">{escape(n)}</a>' for i, n in enumerate(joint.names))
        + "</p>",
        _HINT,
    ]
    for i, (name, res) in enumerate(zip(joint.names, joint.results, strict=True)):
        body += [
            f'<section class="spectrum" id="spectrum-{i}">',
            f"<h2>{escape(name)}</h2>",
            f'<p class="sub">{escape(_one_line(res))}</p>',
            _figure(i),
            band_table(res.table, BAND_COLUMNS),
            _facts(res, provenance=False),
            "</section>",
        ]
    data = [spectrum_data(r, n) for n, r in zip(joint.names, joint.results, strict=True)]
    return fill_page(title, "\n".join(body), data)


def write_result(result, path: str | os.PathLike, *, title=None, force: bool = True) -> None:
    """Write `result_page` to ``path``, atomically (see `Result.to_html`)."""
    write_text(path, result_page(result, title), force)


def write_joint(joint, path: str | os.PathLike, *, title=None, force: bool = True) -> None:
    """Write `joint_page` to ``path``, atomically (see `JointResult.to_html`)."""
    write_text(path, joint_page(joint, title), force)


def write_text(path: str | os.PathLike, text: str, force: bool) -> None:
    """Write a page's ``text`` to ``path`` (UTF-8) with `atomic_write`."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"), force=force)


# ---------------------------------------------------------------------------- data


def spectrum_data(result, name: str) -> dict[str, Any]:
    """Return what the plot of one fit needs, as JSON-ready lists (ascending Raman shift).

    Intensities keep `SIGNIFICANT` digits relative to the largest of the data, fit and
    bands; the Raman shift keeps 0.001 cm-1.
    """
    order = slice(None) if result.x[0] <= result.x[-1] else slice(None, None, -1)
    comps = np.asarray(result._components)[:, order]
    curves = {
        "y": result.y[order],
        "baseline": result.baseline[order],
        "fit": result.best_fit[order],
        "residual": result.residual[order],
    }
    biggest = max(float(np.nanmax(np.abs(c), initial=0.0)) for c in [*curves.values(), comps])
    decimals = SIGNIFICANT - 1 - math.floor(math.log10(biggest)) if biggest > 0 else 0
    out: dict[str, Any] = {"name": str(name), "x": rounded(result.x[order], 3)}
    out.update({k: rounded(v, decimals) for k, v in curves.items()})
    out["bands"] = [
        {"id": str(b), "label": str(lab), "y": rounded(c, decimals)}
        for b, lab, c in zip(result.table["band"], result.table["label"], comps, strict=True)
    ]
    return out


def rounded(values, decimals: int) -> list:
    """``values`` rounded to ``decimals`` (negative: tens, hundreds...), NaN as None.

    Whole numbers are written as ints, so that JSON does not spend ``.0`` on each.
    """
    a = np.round(np.asarray(values, dtype=np.float64), decimals)
    finite = np.isfinite(a)
    if decimals <= 0 and finite.all():
        return a.astype(np.int64).tolist()
    return [v if f else None for v, f in zip(a.tolist(), finite.tolist(), strict=True)]


# ---------------------------------------------------------------------------- markup


def band_table(table, columns: Iterable[tuple]) -> str:
    """HTML table of a band table, laid out like Table S3: value ± error, then the flag.

    Each number sits in a ``<span data-col=COLUMN data-value=REPR>``: the page shows it
    rounded, the attribute keeps it exactly (the browser tests compare both).
    """
    columns = list(columns)
    head = "".join(f"<th>{escape(h)}</th>" for h, *_ in columns)
    rows = [f'<table class="bands"><thead><tr><th>Band</th>{head}<th class="flag">Flag</th>']
    rows.append("</tr></thead><tbody>")
    for r in table.to_dict("records"):
        cells = []
        for _, col, err, digits in columns:
            if digits is None:
                digits = _decimals(r[col])
            text = _number(col, r[col], digits)
            if err is not None:
                text += " ± " + _number(err, r[err], digits)
            cells.append(f"<td>{text}</td>")
        flagged = ' class="flagged"' if r["flag"] != "ok" else ""
        rows.append(
            f'<tr data-band="{escape(r["band"])}"{flagged}><td>{escape(r["label"])}</td>'
            f'{"".join(cells)}<td class="flag">{escape(r["flag"])}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _decimals(value, significant: int = 4) -> int:
    """Decimals that show ``value`` with ``significant`` digits, never fewer than none."""
    v = abs(float(value))
    if not math.isfinite(v) or v == 0:
        return 0
    return max(0, significant - 1 - math.floor(math.log10(v)))


def _number(column: str, value, digits: int) -> str:
    v = float(value)
    shown = f"{v:.{digits}f}" if math.isfinite(v) else MISSING
    return f'<span data-col="{column}" data-value="{v!r}">{shown}</span>'


def _facts(result, *, provenance: bool) -> str:
    """Fit statistics, QC flags, model choice and (with ``provenance``) where it came from."""
    parts = ['<div class="facts">', key_values("Fit statistics", result.stats)]
    qc = list(getattr(result, "qc", ()) or ())
    if qc:
        items = "".join(f"<li>{escape(q)}</li>" for q in qc)
        parts.append(f'<div><h3>QC flags</h3><ul class="qc">{items}</ul></div>')
    parts.append(_model_choice(result.model_choice))
    if provenance:
        parts.append(key_values("Provenance", _provenance(result, result.model_choice)))
    parts.append("</div>")
    return "".join(parts)


def _provenance(result, model_choice: dict | None) -> dict[str, Any]:
    """Return a fit's version, source, priors, shape, baseline, window and other metadata."""
    meta = dict(result.meta)
    out: dict[str, Any] = {"nmcraman": version()}
    out["source"] = meta.pop("source", None)
    if model_choice:
        out["priors"] = f"{model_choice['chosen']} (chosen by {model_choice['criterion']})"
    out["bands"] = ", ".join(map(str, meta.pop("bands", ())))
    for key in ("shape", "baseline"):
        out[key] = meta.pop(key, None)
    window = meta.pop("window", None)
    if window is not None:
        out["window (cm-1)"] = f"{window[0]:g} to {window[1]:g}"
    extra = getattr(result, "provenance", None)
    if isinstance(extra, Mapping):
        out.update(extra)
    out.update(meta)
    return {k: v for k, v in out.items() if v is not None and v != ""}


def _shared_provenance(joint) -> dict[str, Any]:
    """Return the provenance of a joint fit: the first spectrum's, less what is its own.

    The files the spectra were read from are listed first, each once and in order
    (none for spectra given as arrays).
    """
    first = _provenance(joint.results[0], joint.model_choice)
    for key in ("source", "format", "header"):
        first.pop(key, None)
    files = [str(r.meta["source"]) for r in joint.results if r.meta.get("source")]
    out = {"nmcraman": first.pop("nmcraman")}
    if files:
        out["input files"] = list(dict.fromkeys(files))
    return {**out, **first}


def _model_choice(choice: dict | None) -> str:
    if not choice:
        return ""
    scores = {f"{choice['criterion'].upper()} of {k}": v for k, v in choice["scores"].items()}
    return key_values(
        "Band model choice", {"chosen": choice["chosen"], **scores, "margin": choice["margin"]}
    )


def key_values(heading: str, values: Mapping[str, Any]) -> str:
    """Return a headed two-column table of ``values`` (statistics, provenance)."""
    rows = "".join(
        f'<tr data-key="{escape(k)}"><td>{escape(k)}</td><td>{escape(_value(v))}</td></tr>'
        for k, v in values.items()
    )
    return f'<div><h3>{escape(heading)}</h3><table class="keys"><tbody>{rows}</tbody></table></div>'


def _value(v) -> str:
    """Format a statistic or metadata value: floats with 6 significant digits."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    if isinstance(v, Mapping):
        return "; ".join(f"{k}: {_value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v)
    return MISSING if v is None else str(v)


def _one_line(result) -> str:
    st = result.stats
    state = "converged" if st["converged"] else "NOT converged"
    src = result.meta.get("source")
    return (
        f"{len(result.table)} bands, {result.meta.get('shape')}, R² {st['r2']:.5f},"
        f" reduced χ² {st['redchi']:.4g}, {state}" + (f"; source {src}" if src else "")
    )


def _figure(index: int) -> str:
    return f'<div class="figure" data-index="{index}"></div>'


def _source_name(meta: Mapping) -> str | None:
    src = meta.get("source")
    return os.path.basename(str(src)) if src else None


def escape(text) -> str:
    """Return ``str(text)`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


def version() -> str:
    """Return the nmcraman version the pages name."""
    return __version__


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def fill_page(title: str, body: str, spectra: list[dict], *, data=None, script=("plot.js",)) -> str:
    """Fill ``assets/page.html``: style, body, data (JSON safe inside a script) and script.

    ``data`` replaces ``{"spectra": spectra}`` as the page's JSON, ``script`` names the
    script or scripts of ``assets/`` that draw it, run in that order.
    """
    scripts = (script,) if isinstance(script, str) else script
    data = {"spectra": spectra} if data is None else data
    data = json.dumps(data, separators=(",", ":"), allow_nan=False)
    # "<" escaped, so no "</script>" in a name can end the data block.
    data = data.replace("<", "\\u003c")
    fill = {
        "VERSION": escape(version()),
        "TITLE": escape(title),
        "CSS": _asset("page.css"),
        "BODY": body,
        "DATA": data,
        "JS": "\n".join(_asset(name) for name in scripts),
    }
    return re.sub(r"@([A-Z]+)@", lambda m: fill[m.group(1)], _asset("page.html"))
