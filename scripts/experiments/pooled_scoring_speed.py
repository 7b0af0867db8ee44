"""How much scoring saves by running the pooling layer at the first position only.

A pooled model's last encoder layer computes the mean of the states below it (`pooling.py`); its
pooler and head read the first position alone, so `inference.head_outputs` runs that layer there
only (`pooling.first_position_only`). Here a trained model folder scores a table's rows with the
shortcut and with the full layer, alternating, and prints each repeat's wall time and the largest
margin difference.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/pooled_scoring_speed.py runs/german_credit/model \
        data/german_credit.csv
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import pandas as pd
import torch

import credtune.pooling as pooling
from credtune import CreditScorer
from credtune.inference import set_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("data", help="a CSV file of applicants")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    set_threads(torch)
    scorer = CreditScorer.from_pretrained(args.model)
    texts = scorer.texts(scorer.records(pd.read_csv(args.data)))
    variants = {
        "first position": pooling.first_position_only,
        "full layer": lambda model, mask: contextlib.nullcontext(),
    }
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    margins = {}
    for _ in range(args.repeats):
        for name, shortcut in variants.items():
            pooling.first_position_only = shortcut  # looked up at each call by inference._window
            started = time.perf_counter()
            margins[name] = scorer.margins_for_texts(texts)
            seconds[name].append(time.perf_counter() - started)
    for name, times in seconds.items():
        print(f"{name:15s} {len(texts)} rows: " + ", ".join(f"{t:.2f} s" for t in times))
    print(f"largest margin difference: {np.abs(margins['first position'] - margins['full layer']).max():.2e}")


if __name__ == "__main__":
    main()
