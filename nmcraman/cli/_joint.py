"""``nmcraman fit --joint``: the files as spectra of one sample, fitted together."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ._common import UsageError, model_options, say, write_output
from ._html import joint_target
from ._provenance import check_sidecar, fitted, record, write_with_provenance


def spectra_path(out: Path) -> Path:
    """Where the per-spectrum table goes, beside the summary: ``OUT_spectra.csv``."""
    return out.with_name(f"{out.stem}_spectra{out.suffix or '.csv'}")


def run_joint(args: argparse.Namespace, files: Sequence[str], out: Path, priors) -> int:
    """Fit ``files`` with `nmcraman.deconvolve_joint`; write the summary and the table.

    ``out`` receives the summary (one row per band: the sample's Table S3 with
    errors and flags), ``OUT_spectra.csv`` every spectrum's bands (``file`` first),
    each with its provenance sidecar, and ``--html`` the set's page. All are written
    only once the fit succeeded, each atomically.
    """
    from ..joint import deconvolve_joint
    from ..results.html.page import joint_page

    if len(files) < 2:
        raise UsageError("--joint needs two or more spectrum files.")
    if args.jobs != 1:
        raise UsageError("--joint fits all files at once; drop --jobs.")
    if args.engine != "numba":
        raise UsageError("--joint has one engine; drop --engine.")
    second = spectra_path(out)
    if second.exists() and not args.force:
        raise UsageError(f"{second} exists; pass --force to overwrite it.")
    page = joint_target(args.html, args.force)
    check_sidecar(second, args.force)
    names = ("shape", "baseline", "refine", "eta", "criterion")
    args.share = args.share or "partial"
    res = deconvolve_joint(
        list(files), bands=priors, share=args.share, shift=args.shift,
        read={"laser_nm": args.laser_nm, "column": args.column}, **model_options(args, names),
    )  # fmt: skip
    summary = res.summary.copy()
    if res.model_choice:
        summary.insert(0, "preset", res.model_choice["chosen"])
    # Each spectrum is named by its path as given, as in deconvolve_joint; the column is
    # "file", as in the table of a fit without --joint.
    table = res.table.rename(columns={"spectrum": "file"})
    done = [fitted(name, r.meta) for name, r in zip(res.names, res.results, strict=True)]
    provenance = record(args, files, priors, done=done)
    write_with_provenance(out, lambda tmp: summary.to_csv(tmp, index=False), args.force, provenance)
    write_with_provenance(
        second, lambda tmp: table.to_csv(tmp, index=False), args.force, provenance
    )
    if page is not None:
        text = joint_page(res, title=out.stem)
        write_output(page, lambda tmp: tmp.write_text(text, encoding="utf-8"), args.force)
    if not getattr(args, "quiet", False):
        st = res.stats
        also = f", {page}" if page is not None else ""
        say(f"wrote {out} (summary of {len(files)} spectra, share={st['share']}), {second}{also}")
        if st.get("sharing_consistent") is False:
            say(
                f"warning: the shared shapes do not fit every spectrum within its noise"
                f" (p = {st['lr_pvalue']:.2g}); consider --share partial"
            )
    return 0
