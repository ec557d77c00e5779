"""Make the synthetic example spectra shipped in spectra/ (run from the repo root).

    python spectra/make_spectra.py

Writes core_75.txt and cs_75.txt (two-column text: Raman shift in cm-1, counts) and
truth.csv (the band parameters each spectrum was made from). The bands follow
Table S3 of García-Alonso et al. (Core_75: six bands; CS_75: seven, with the
rock-salt LO band), Lorentzian, on a smooth random fluorescence background, with
Gaussian noise at SNR 150 (highest band point over the noise standard deviation).
They are synthetic: no openly licensed NMC Raman spectrum exists.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from nmcraman.synthetic import simulate

HERE = Path(__file__).resolve().parent
SEED = 20261125
SNR = 150.0


def main() -> None:
    rng = np.random.default_rng(SEED)
    truths = []
    for sample in ("Core_75", "CS_75"):
        s = simulate(sample, snr=SNR, rng=rng)
        header = (
            f"# nmcraman synthetic example: {sample}-like NMC Raman spectrum (not measured).\n"
            f"# Made by spectra/make_spectra.py (seed {SEED}): Lorentzian bands from Table S3,\n"
            f"# fluorescence background, Gaussian noise sigma {s.noise_sigma:.3f} (SNR {SNR:g}).\n"
            "# Truth in spectra/truth.csv. Columns: Raman shift (cm-1), intensity (counts)\n"
        )
        body = "".join(f"{x:.1f}\t{y:.3f}\n" for x, y in zip(s.x, s.y, strict=True))
        (HERE / f"{sample.lower()}.txt").write_text(header + body, encoding="utf-8")
        truths.append(s.truth.assign(sample=sample))
    truth = pd.concat(truths)[["sample", "band", "position", "fwhm", "area", "area_pct", "height"]]
    truth.to_csv(HERE / "truth.csv", index=False, float_format="%.6g")


if __name__ == "__main__":
    main()
