"""Learned soft thresholding in your own PyTorch model, in three lines.

``Shrinkage(channels)`` is the DRSN gate (Zhao et al. 2020): for each sample it computes a
threshold tau = alpha * mean|x| per channel (alpha from a small sub-network) and returns
``sign(x) * max(|x| - tau, 0)``. It takes (N, C, L), (N, C, H, W) or (N, C, D, H, W) and
has no other requirements, so it drops into any residual branch (and into timm ResNets as
``attn_layer``: its first argument is the channel count).

    python examples/shrinkage_in_your_model.py      # a few seconds on a CPU
"""

import torch
from torch import nn

from deepshrink import Shrinkage, record_thresholds  # 1. import


class ResidualUnit(nn.Module):
    """A pre-activation residual unit whose branch ends in a shrinkage gate: the paper's RSBU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.BatchNorm1d(channels), nn.ReLU(), nn.Conv1d(channels, channels, 3, padding=1),
            nn.BatchNorm1d(channels), nn.ReLU(), nn.Conv1d(channels, channels, 3, padding=1),
        )  # fmt: skip
        self.shrink = Shrinkage(channels, mode="cw")  # 2. one threshold per sample and channel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shrink(self.branch(x)) + x  # 3. threshold the branch, add; no ReLU after the addition


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = nn.Sequential(
        nn.Conv1d(1, 16, 7, stride=2, padding=3), ResidualUnit(16), ResidualUnit(16),
        nn.BatchNorm1d(16), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(16, 2),
    )  # fmt: skip

    # A toy task: is there a 40-cycle tone buried in white noise (SNR about -10 dB)?
    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.randint(0, 2, (n,))
        t = torch.arange(512) / 512
        tone = torch.sin(2 * torch.pi * 40 * t + 6.3 * torch.rand(n, 1)) * y[:, None]
        return (tone + torch.randn(n, 512) * 2.2).unsqueeze(1), y

    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(150):
        x, y = batch(64)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    x, y = batch(1000)
    with torch.no_grad(), record_thresholds(model) as gates:
        accuracy = (model(x).argmax(1) == y).float().mean().item()
        print(f"test accuracy after 150 steps: {accuracy:.3f} (chance 0.5)")
        for name, gate in gates.items():
            record = gate.last_record  # thresholds of this forward pass
            print(f"gate {name}: tau (N, C) = {tuple(record.tau.shape)}, mean tau {record.tau.mean():.3f}, "
                  f"{record.zero_fraction.mean():.0%} of the branch's values set to zero")  # fmt: skip


if __name__ == "__main__":
    main()
