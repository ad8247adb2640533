"""Benchmark: cost of progress reporting, and training throughput.

Run: ``python bench/bench_training.py [--reps 5] [--epochs 4] [--threads 1]``

1. Listener overhead (DESIGN.md section 6: progress reporting adds at most 5%): the same
   training (privacy MLP on the shipped 40k-row sample, fixed epochs, no early stop)
   with no listener and with a listener receiving every event the trainer emits
   (throttled batch progress at ~10/s, every epoch end), alternated ``--reps`` times;
   medians and their ratio are printed (target <= 1.05). An unthrottled run (an event
   after every batch) is shown for comparison.
2. Throughput (samples/s of the training phase, median over epochs) at batch sizes 256
   and 4096 for each model kind.

All figures come from this one run on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stratsim.engine.data import load_training_data, sample_data_path  # noqa: E402
from stratsim.engine.training import TrainConfig, train_model  # noqa: E402


def timed(data, cfg, listener=None) -> tuple[float, int]:
    count = 0

    def counting(ev) -> None:
        nonlocal count
        count += 1

    t = time.perf_counter()
    train_model(data, cfg, listener=counting if listener else None)
    return time.perf_counter() - t, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch default)")
    args = ap.parse_args()
    threads = args.threads or None

    import torch

    print(f"torch {torch.__version__}, threads {threads or torch.get_num_threads()}")
    inc = load_training_data(sample_data_path("privacy"), "privacy")
    sat = load_training_data(sample_data_path("satisfaction"), "satisfaction")
    base = dict(epochs=args.epochs, patience=10**6, device="cpu", num_threads=threads)
    cfg = TrainConfig(role="privacy", kind="mlp", **base)
    train_model(inc.subset(slice(0, 3000)), TrainConfig(role="privacy", epochs=1))  # warm-up

    plain, listened, events = [], [], 0
    for _ in range(args.reps):
        plain.append(timed(inc, cfg)[0])
        t, events = timed(inc, cfg, listener=True)
        listened.append(t)
    mp, ml = statistics.median(plain), statistics.median(listened)
    print(f"\n1. listener overhead: privacy mlp, {inc.n} rows, {args.epochs} epochs, batch 256")
    print(f"   no listener     median {mp:.3f} s  ({', '.join(f'{t:.3f}' for t in plain)})")
    print(f"   with listener   median {ml:.3f} s  ({', '.join(f'{t:.3f}' for t in listened)})")
    print(f"   events per run  {events}")
    print(f"   ratio           {ml / mp:.3f}  (target <= 1.05)")
    every = TrainConfig(role="privacy", kind="mlp", progress_interval_s=0.0, **base)
    t_every, n_every = timed(inc, every, listener=True)
    print(
        f"   unthrottled (event per batch): {t_every:.3f} s, {n_every} events, ratio {t_every / mp:.3f}"
    )

    print("\n2. throughput, samples/s (training phase, median over epochs)")
    print(f"   {'model':<22}{'batch 256':>12}{'batch 4096':>12}")
    for role, kind, data in (
        ("satisfaction", "linear", sat),
        ("satisfaction", "mlp", sat),
        ("privacy", "logistic", inc),
        ("privacy", "mlp", inc),
    ):
        row = []
        for bs in (256, 4096):
            r = train_model(data, TrainConfig(role=role, kind=kind, batch_size=bs, **base))
            row.append(statistics.median(h.samples_per_s for h in r.history))
        print(f"   {role + ' ' + kind:<22}{row[0]:>12,.0f}{row[1]:>12,.0f}")


if __name__ == "__main__":
    main()
