"""Noisy images: ResNet vs DRSN-CW on scikit-learn's 8x8 handwritten digits with Gaussian noise.

The 1,797 digits of ``sklearn.datasets.load_digits`` (8x8 pixels, 10 classes, bundled with
scikit-learn: no download) are scaled to [0, 1], split 80/20 (stratified, fixed seed), and
white Gaussian noise is added to every image at a fixed SNR with :func:`deepshrink.noise.add_noise`
(noise drawn once, as in the paper; SNR = 10 log10(P_image / P_noise) per image). Both models are
the CIFAR-style 2-D networks (``resnet20_2d`` / ``drsn_cw20_2d``: 16/32/64 channels), by default
with one unit per stage (``--depth 1``, a ResNet-8; ``--depth 3`` is the full ResNet-20), trained
through :class:`deepshrink.sklearn.DRSNClassifier` with the paper's recipe (SGD, lr 0.1 / 0.01 /
0.001). Each cell is the mean test accuracy over ``--seeds`` training seeds (same split and noise).

    python examples/images_noisy_digits.py              # the table in examples/README.md
    python examples/images_noisy_digits.py --depth 3 --seeds 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from deepshrink.noise import add_noise
from deepshrink.sklearn import DRSNClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snr", nargs="+", default=["clean", "10", "0", "-5"], help="SNRs in dB, or 'clean'")
    parser.add_argument("--depth", type=int, default=1, help="units per stage (3 = ResNet-20)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, default=2, help="training seeds averaged per cell")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    train_idx, test_idx = train_test_split(np.arange(len(images)), test_size=0.2, stratify=digits.target, random_state=0)
    print(f"digits: {len(train_idx)} training and {len(test_idx)} test images, 8x8, 10 classes; "
          f"depth {args.depth} per stage, {args.epochs} epochs, {args.seeds} seed(s)")  # fmt: skip

    models = {"ResNet": "resnet20_2d", "DRSN-CW": "drsn_cw20_2d"}
    rows = []
    for k, snr in enumerate(args.snr):
        x = torch.from_numpy(images)
        if snr != "clean":
            x = add_noise(x, float(snr), "gaussian", generator=1000 + k)  # every image at exactly this SNR
        x = x.numpy()
        row: dict[str, object] = {"snr": snr}
        for label, name in models.items():
            t0 = time.perf_counter()
            scores = []
            for seed in range(args.seeds):
                clf = DRSNClassifier(name, model_args={"depths": (args.depth,) * 3}, epochs=args.epochs, batch_size=64,
                                     recipe="paper", random_state=seed, device="cpu")  # fmt: skip
                clf.fit(x[train_idx], digits.target[train_idx])
                scores.append(clf.score(x[test_idx], digits.target[test_idx]))
            row[label] = scores
            print(f"  {snr:>5s} {'' if snr == 'clean' else 'dB'}  {label:8s} test accuracy "
                  f"{' '.join(f'{s:.3f}' for s in scores)}  ({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
        rows.append(row)

    print(f"\nNoisy 8x8 digits: test accuracy, mean of {args.seeds} seed(s) (min-max), "
          f"{args.depth} unit(s) per stage, {args.epochs} epochs")  # fmt: skip
    print("| SNR (dB) | ResNet | DRSN-CW | DRSN - ResNet |")
    print("|---:|---:|---:|---:|")
    for row in rows:
        r, d = np.array(row["ResNet"]), np.array(row["DRSN-CW"])
        cell = lambda a: f"{a.mean():.3f}" + (f" ({a.min():.3f}-{a.max():.3f})" if a.size > 1 else "")  # noqa: E731
        print(f"| {row['snr']} | {cell(r)} | {cell(d)} | {d.mean() - r.mean():+.3f} |")
    print(f"total time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
