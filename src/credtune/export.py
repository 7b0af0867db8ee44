"""The model folder as a Hub repository: model card, and `credtune push`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .contract import ModelSpec

CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

A credit-default model fine-tuned with [credtune](https://github.com/credtune/credtune) from
`{{ base_model }}`. It reads one borrower record serialized as text and outputs the
probability that the loan defaults (class `{{ positive }}`), calibrated with {{ calibration }}.

## Fields the model reads
{{ fields }}

Never serialized: target `{{ target }}`{{ hidden }}. PII masking of notes: {{ mask_pii }}.

## Training data
{{ data_description }} ({{ rows }}).

## Test metrics (held-out split)
{{ metrics_table }}
{{ fairness }}
## How to score
```python
from credtune import CreditScorer
scorer = CreditScorer.from_pretrained("{{ repo_id }}")
pd_ = scorer.predict_proba(df)        # calibrated probability of default
points = scorer.score(df)             # scorecard points ({{ points }})
reasons = scorer.explain(df, k=4)     # top reasons per applicant
```
`AutoModelForSequenceClassification.from_pretrained` works too; it gives uncalibrated
probabilities for text built by `credtune.json`'s serializer.

## Intended use and limitations
Decision support for credit risk assessment, reviewed by people, on applicants like those in
the training data. Not validated for other populations, products or time periods; check
stability (PSI) before use on new data and review fairness per protected group. The scores
are statistical estimates, not reasons on their own; use the reason codes with care.
"""


def write_model_card(folder: str | Path, spec: ModelSpec, metrics: dict[str, Any], recipe: Any = None) -> ModelCard:
    """README.md with model-index metrics, so the Hub shows test AUC, KS and Brier."""
    folder = Path(folder)
    name = getattr(recipe, "name", folder.parent.name) or "credtune-model"
    dataset = Path(getattr(getattr(recipe, "data", None), "path", "") or "credit data").stem
    results = [
        EvalResult(
            task_type="text-classification",
            dataset_type="tabular",
            dataset_name=dataset,
            metric_type=key,
            metric_name=label,
            metric_value=float(metrics[key]),
        )
        for key, label in (("auc", "ROC AUC"), ("ks", "KS"), ("brier", "Brier score"), ("gini", "Gini"))
        if metrics.get(key) is not None
    ]
    data = ModelCardData(
        library_name="transformers",
        pipeline_tag="text-classification",
        base_model=spec.base_model,
        tags=["credtune", "credit-risk", "tabular-to-text", "probability-of-default"],
        license="apache-2.0",
        model_name=name,
        eval_results=results or None,
    )
    fields = "\n".join(
        f"- `{c['name']}` ({c['kind']})" for c in spec.schema["columns"]
    )
    hidden = "".join(f", {role} `{c}`" for role in ("id",) for c in [spec.schema.get("id")] if c)
    hidden += "".join(f", excluded `{c}`" for c in spec.schema.get("excluded", []))
    hidden += "".join(f", protected `{c}`" for c in spec.schema.get("protected", []))
    rows = spec.training.get("rows", {})
    models = metrics.get("models", {})
    table = ["| model | AUC | KS | Brier |", "|---|---|---|---|"]
    for model_name, m in models.items():
        table.append(f"| {model_name} | {_fmt(m.get('auc'))} | {_fmt(m.get('ks'))} | {_fmt(m.get('brier'))} |")
    fairness = ""
    if metrics.get("fairness"):
        fairness = "\n## Fairness (test split)\n" + "\n".join(
            f"- `{f['column']}`: lowest disparate-impact ratio {_fmt(f.get('min_disparate_impact'))}"
            + (" (below 0.8: review)" if f.get("flagged") else "")
            for f in metrics["fairness"]
        )
    card = ModelCard.from_template(
        data,
        template_str=CARD_TEMPLATE,
        title=name,
        base_model=spec.base_model,
        positive=spec.label_names[1],
        calibration=spec.calibration.get("method", "none"),
        fields=fields,
        target=spec.schema.get("target"),
        hidden=hidden,
        mask_pii="on" if spec.serializer.get("mask_pii") else "off",
        data_description=f"`{dataset}`",
        rows=", ".join(f"{k}: {v} rows" for k, v in rows.items()) or "size not recorded",
        metrics_table="\n".join(table) if models else "not recorded",
        fairness=fairness,
        repo_id=f"<user>/{name}",
        points=", ".join(f"{k} {v:g}" for k, v in spec.points.items()),
    )
    card.save(folder / "README.md")
    return card


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"
