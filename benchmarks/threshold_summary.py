"""Do the learned thresholds of converged DRSNs track the input SNR? A summary over several runs.

For each run folder (a trained DRSN of a study), :func:`deepshrink.study.analyze_thresholds`
feeds its held-out test signals at each SNR (noise of the run's kind) and records per shrinkage
block τ, α = τ / mean|x| and the share of zeroed features. This script pools runs (seeds):

* per block: Spearman ρ of a sample's SNR with its τ and with its α (negative: more noise,
  higher threshold), mean and 95 % interval over the runs; α on clean signals and at the lowest SNR;
* per class and block: τ and α at the lowest SNR relative to clean, mean over the runs.

τ grows with the input's amplitude even at a fixed α (noise adds power), so α is the test of
"a threshold that fits its own noise"; ρ_α ≈ 0 means the relative threshold does not adapt.

    python benchmarks/threshold_summary.py studies/sim/runs/drsn_cw_paper6-gaussian-0dB-seed{0,1,2} \
        --snrs=-10,-5,0,5,10 --output benchmarks/evidence/thresholds.md
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from deepshrink.errors import DeepshrinkError
from deepshrink.study.stats import ci95
from deepshrink.study.thresholds import analyze_thresholds
from deepshrink.fileio import atomic_write


def summarise(run_dirs: list[Path], snrs: list[float], max_signals: int) -> str:
    analyses = [analyze_thresholds(d, snrs=snrs, max_signals=max_signals) for d in run_dirs]
    low = min(snrs)
    blocks = list(dict.fromkeys(c["block"] for a in analyses for c in a.correlations))
    rho: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    level: dict[tuple[str, str, object], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for a in analyses:
        for c in a.correlations:
            rho[c["block"]]["tau"].append(c["rho_tau"])
            rho[c["block"]]["alpha"].append(c["rho_alpha"])
        clean = {(r["block"], r["class"]): r for r in a.rows if r["snr_db"] is None}
        for r in a.rows:
            if r["snr_db"] == low:
                ref = clean[(r["block"], r["class"])]
                level[(r["block"], r["class"], "tau")]["rel"].append(r["tau_mean"] / ref["tau_mean"])
                level[(r["block"], r["class"], "alpha")]["rel"].append(r["alpha_mean"] / ref["alpha_mean"])
                level[(r["block"], r["class"], "alpha")]["clean"].append(ref["alpha_mean"])
                level[(r["block"], r["class"], "alpha")]["low"].append(r["alpha_mean"])
                level[(r["block"], r["class"], "zero")]["clean"].append(ref["zero_fraction"])
                level[(r["block"], r["class"], "zero")]["low"].append(r["zero_fraction"])

    def mci(values: list[float]) -> str:
        lo, hi = ci95(values)
        text = f"{np.mean(values):+.2f}"
        return text + ("" if np.isnan(lo) else f" [{lo:+.2f}, {hi:+.2f}]")

    lines = [f"Runs ({len(run_dirs)}): " + ", ".join(f"`{d.name}`" for d in run_dirs), "",
             f"SNRs {', '.join(f'{s:g}' for s in snrs)} dB and clean; up to {max_signals} test signals per run, "
             f"noise {analyses[0].noise}. ρ: Spearman correlation of a sample's SNR with its threshold, mean and "
             "95 % interval over the runs.", "",
             "| block | ρ(SNR, τ) | ρ(SNR, α) | α clean | α at " + f"{low:g} dB | zeroed clean | zeroed at {low:g} dB |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for b in blocks:
        a_ = level[(b, "all", "alpha")]
        z = level[(b, "all", "zero")]
        lines.append(f"| {b} | {mci(rho[b]['tau'])} | {mci(rho[b]['alpha'])} | {np.mean(a_['clean']):.3f} | "
                     f"{np.mean(a_['low']):.3f} | {100 * np.mean(z['clean']):.1f} % | {100 * np.mean(z['low']):.1f} % |")  # fmt: skip
    classes = [c for c in dict.fromkeys(r["class"] for r in analyses[0].rows) if c != "all"]
    lines += ["", f"Per class: τ and α at {low:g} dB divided by their clean values (mean over the runs), "
              "first and last shrinkage block.", "",
              f"| class | τ ratio, {blocks[0]} | α ratio, {blocks[0]} | τ ratio, {blocks[-1]} | α ratio, {blocks[-1]} |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    for c in classes:
        cells = [np.mean(level[(b, c, k)]["rel"]) for b in (blocks[0], blocks[-1]) for k in ("tau", "alpha")]
        lines.append(f"| {c} | " + " | ".join(f"{v:.2f}" for v in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders of trained DRSNs")
    p.add_argument("--snrs", default="-10,-5,0,5,10", help="input SNRs in dB, comma-separated")
    p.add_argument("--max-signals", type=int, default=512)
    p.add_argument("--output", type=Path, help="write the Markdown here (default: print)")
    args = p.parse_args(argv)
    try:
        snrs = [float(s) for s in args.snrs.split(",")]
    except ValueError:
        p.error(f"--snrs: expected comma-separated numbers in dB, got {args.snrs!r}")
    try:
        text = summarise(args.runs, snrs, args.max_signals)
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(args.output, text.encode())
    except (DeepshrinkError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
