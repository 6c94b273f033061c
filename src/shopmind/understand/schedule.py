"""The learning-rate schedule shared by the fitted head and taggers."""

from __future__ import annotations


def one_cycle(optimizer, max_lr: float, steps: int):
    """OneCycle with at least two warm-up steps, or a constant rate for very short runs.

    torch's OneCycleLR divides by zero when its warm-up rounds to under one step, which a tiny
    catalog or a low `--epochs` reaches; such runs gain nothing from a schedule anyway.
    """
    import torch

    steps = max(int(steps), 1)
    if steps < 8:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=steps, pct_start=max(0.1, 2.0 / steps))
