"""The seeded, optionally stratified train / validation / test split."""

from __future__ import annotations

import torch

from ..errors import TrainingError
from ..seeds import derive_seed


def split_indices(
    n: int,
    seed: int,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded ``(train, val, test)`` row indices (CPU int64), disjoint, covering 0..n-1.

    With ``labels`` ``[n]`` (0/1) the split is stratified: each class is split with the
    same fractions, so every split keeps the class balance, and every split holds at
    least one row of each class (so the test ROC-AUC is defined).

    Raises:
        TrainingError: a split would be empty, or a class has fewer than 3 rows.
    """
    gen = torch.Generator().manual_seed(derive_seed(seed, "train-split"))
    groups = [torch.arange(n)]
    if labels is not None:
        lab = labels.detach().cpu().reshape(-1) > 0.5
        groups = [torch.nonzero(~lab).reshape(-1), torch.nonzero(lab).reshape(-1)]
    parts: list[list[torch.Tensor]] = [[], [], []]
    for g in groups:
        perm = g[torch.randperm(g.numel(), generator=gen)]
        n_test = round(g.numel() * test_fraction)
        n_val = round(g.numel() * val_fraction)
        if labels is not None:
            if g.numel() < 3:
                raise TrainingError(
                    f"only {g.numel()} row(s) of one class: each of the train, validation and "
                    "test splits needs one of each class; at least 3 are needed"
                )
            n_test, n_val = max(1, n_test), max(1, n_val)
        parts[2].append(perm[:n_test])
        parts[1].append(perm[n_test : n_test + n_val])
        parts[0].append(perm[n_test + n_val :])
    train, val, test = (torch.cat(p) for p in parts)
    for name, t in (("train", train), ("validation", val), ("test", test)):
        if t.numel() == 0:
            raise TrainingError(f"{n} rows are too few: the {name} split is empty")
    return train, val, test
