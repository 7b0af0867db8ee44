"""The model folder as a Hub repository: its model card, and `credtune push`.

The card is made during training (README.md in `model/`, from `card_template.md`), with
model-index metrics so the Hub shows test AUC, KS and Brier. `push` uploads a folder as it is,
after checking that it is a credtune model and holds no path of the training machine; a scorer
in memory uploads itself with `CreditScorer.push_to_hub`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .contract import ModelSpec, load_spec
from .errors import ModelError
from .model_folder import check_labels, check_links

log = logging.getLogger(__name__)
REPO_PLACEHOLDER = "<user>/"

CARD_TEMPLATE = Path(__file__).with_name("card_template.md")
TASK_TAG = {"binary": "probability-of-default", "multiclass": "multiclass", "regression": "regression"}
CARD_METRICS = {  # model-index entries and the card's table columns, per task
    "binary": (("auc", "ROC AUC"), ("ks", "KS"), ("brier", "Brier score"), ("gini", "Gini")),
    "multiclass": (("accuracy", "Accuracy"), ("macro_f1", "Macro F1"), ("auc", "ROC AUC (one-vs-rest)"),
                   ("log_loss", "Log loss"), ("qwk", "Quadratic weighted kappa")),
    "regression": (("rmse", "RMSE"), ("mae", "MAE"), ("r2", "R squared"), ("spearman", "Spearman")),
}  # fmt: skip


def model_card(spec: ModelSpec, metrics: dict[str, Any], recipe: Any = None) -> ModelCard:
    """The model card (README.md) with model-index metrics, so the Hub shows test AUC, KS and Brier;
    the text is `card_template.md` beside this module."""
    name = getattr(recipe, "name", None) or "credtune-model"
    dataset = Path(getattr(getattr(recipe, "data", None), "path", "") or "credit data").stem
    rows = spec.training.get("rows", {})
    return ModelCard.from_template(
        card_data(spec, metrics, name, dataset),
        template_str=CARD_TEMPLATE.read_text(encoding="utf-8"),
        title=name,
        base_model=spec.base_model,
        target=spec.schema.get("target"),
        mask_pii="on" if spec.serializer.get("mask_pii") else "off",
        data_description=f"`{dataset}`",
        rows=", ".join(f"{k}: {v} rows" for k, v in rows.items()) or "size not recorded",
        repo_id=f"{REPO_PLACEHOLDER}{name}",
        max_length=spec.max_length,
        **card_sections(spec, metrics, getattr(recipe, "baseline_params", None)),
        **kind_sections(spec, metrics.get("fitted_on", "validation split")),
    )


def kind_sections(spec: ModelSpec, held: str = "validation split") -> dict[str, str]:
    """What the model outputs, its decision section and how to call it: these follow the task.
    `held`: the rows the threshold and calibration learnt from (metrics.json's `fitted_on`)."""
    calibration = spec.calibration.get("method", "none")
    calibrated = "as its head outputs it" if calibration == "none" else f"calibrated with {calibration}"
    head = f"fine-tuned with credtune from `{spec.base_model}`. It reads one borrower record serialized as text and"
    if spec.task == "binary":
        points = ", ".join(f"{k} {v:g}" for k, v in spec.points.items())
        threshold = _fmt(spec.threshold) if spec.threshold is not None else "n/a (no threshold recorded)"
        return {
            "intro": f"A credit-default model {head} outputs the\nprobability that the loan defaults "
            f"(class `{spec.label_names[1]}`), {calibrated}.",
            "decision": "## Decision rule and scorecard\nApprove when the calibrated PD is below "
            f"{threshold} (chosen on the {held}).\nPoints: {points} (higher = safer).",
            "usage": "pd_ = scorer.predict_proba(df)  # calibrated probability of default\n"
            f"points = scorer.score(df)  # scorecard points ({points})",
        }
    if spec.task == "multiclass":
        order = " < ".join if spec.schema.get("ordered") else ", ".join
        return {
            "intro": f"A {len(spec.label_names)}-class model of `{spec.schema.get('target')}` {head} outputs "
            f"the probability of each class ({order(spec.label_names)}), {calibrated}.",
            "decision": "## Decisions\nNo approve/decline rule or scorecard points: those are for default models.",
            "usage": "proba = scorer.predict_proba(df)  # (rows, classes), calibrated\n"
            "labels = scorer.predict(df)  # the most likely class",
        }
    return {
        "intro": f"A regression model of `{spec.schema.get('target')}` {head} outputs its predicted "
        + (
            "value as its head outputs it."
            if calibration == "none"
            else f"value, mapped by a {calibration} calibration fitted on the {held}."
        ),
        "decision": "## Decisions\nNo approve/decline rule or scorecard points: those are for default models.",
        "usage": "values = scorer.predict(df)  # predicted value per applicant",
    }


def card_data(spec: ModelSpec, metrics: dict[str, Any], name: str, dataset: str) -> ModelCardData:
    """The card's YAML header: Hub tags and model-index results (test AUC, KS, Brier, Gini)."""
    results = [
        EvalResult(
            task_type="text-classification",
            dataset_type="tabular",
            dataset_name=dataset,
            metric_type=key,
            metric_name=label,
            metric_value=float(metrics[key]),
            dataset_split="test",
        )
        for key, label in CARD_METRICS[spec.task]
        if metrics.get(key) is not None
    ]
    return ModelCardData(
        library_name="transformers",
        pipeline_tag="text-classification",
        base_model=spec.base_model,
        tags=["credtune", "credit-risk", "tabular-to-text", TASK_TAG[spec.task]],
        license="apache-2.0",
        model_name=name,
        eval_results=results or None,
    )


def card_sections(
    spec: ModelSpec, metrics: dict[str, Any], baseline_params: dict[str, Any] | None = None
) -> dict[str, str]:
    """The card's generated paragraphs: fields read, columns never read, metrics table, fairness."""
    labels = {f["name"]: f["label"] for f in spec.serializer.get("fields", [])}
    fields = "\n".join(
        f'- `{c["name"]}` ({c["kind"]}), read as "{labels.get(c["name"], c["name"])}"'
        for c in spec.schema["columns"]
    )
    hidden = "".join(f", id `{c}`" for c in [spec.schema.get("id")] if c)
    hidden += "".join(f", excluded `{c}`" for c in spec.schema.get("excluded", []))
    hidden += "".join(f", protected `{c}`" for c in spec.schema.get("protected", []))
    models = metrics.get("models", {})
    columns = CARD_METRICS[spec.task][:3] if spec.task == "binary" else CARD_METRICS[spec.task]
    columns = tuple((k, "AUC" if k == "auc" else "Brier" if k == "brier" else label) for k, label in columns)
    table = [
        "| model | " + " | ".join(label for _, label in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for model_name, m in models.items():
        table.append(f"| {model_name} | " + " | ".join(_fmt(m.get(k)) for k, _ in columns) + " |")
    fairness = "\n## Fairness\nNo protected columns were named in the recipe, so fairness was not assessed.\n"
    if metrics.get("fairness"):
        lines = [_fairness_line(f) for f in metrics["fairness"]]
        fairness = "\n## Fairness (test split)\n" + "\n".join(lines) + "\n"
    return {
        "shipped": shipped_paragraph(metrics, baseline_params),
        "fields": fields,
        "hidden": hidden,
        "metrics_table": "\n".join(table) if models else "not recorded",
        "fairness": fairness,
    }


def _fairness_line(table: dict[str, Any]) -> str:
    """One protected column's summary: approvals (binary) or the gap between groups' errors."""
    if "measure" not in table:
        flag = " (below 0.8: review)" if table.get("flagged") else ""
        return f"- `{table['column']}`: lowest disparate-impact ratio {_fmt(table.get('min_disparate_impact'))}{flag}"
    flag = " (a group's differs from the other rows' by 3 standard errors or more: review)"
    measure = table["measure"].replace("_", " ")
    return f"- `{table['column']}`: largest gap between groups' {measure} {_fmt(table.get('max_gap'))}" + (
        flag if table.get("flagged") else ""
    )


def shipped_paragraph(metrics: dict[str, Any], baseline_params: dict[str, Any] | None = None) -> str:
    """What `CreditScorer` scores with: the transformer alone, or the hybrid and its parts (with
    the library arguments a recipe gave them)."""
    hybrid = metrics.get("hybrid")
    if not hybrid:
        method = (metrics.get("calibration") or {}).get("method")
        if method == "none":
            return "The fine-tuned transformer alone; its PD is the head's own output, not recalibrated."
        held = metrics.get("fitted_on", "validation split")
        return f"The fine-tuned transformer alone, its logit margin calibrated on the {held}."
    weights = ", ".join(f"{name} {coef:+.3f}" for name, coef in hybrid["weights"].items())
    settings = "".join(
        f" `{name}` was fitted with {', '.join(f'{k}={v}' for k, v in params.items())}."
        for name, params in (baseline_params or {}).items()
        if name in hybrid["components"] and params
    )
    return (
        f"A hybrid: the transformer's logit margin stacked with {', '.join(hybrid['components'])} "
        "(files in `hybrid/`: JSON and LightGBM/CatBoost text models, no pickle) by a logistic "
        f"regression fitted on the {hybrid['fitted_on']} (weights: {weights}).{settings} `CreditScorer` "
        'scores with the hybrid; `predict_proba(df, component="transformer")` gives the transformer '
        "alone. The table below shows every part on the same test rows."
    )


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def load_card(folder: str | Path) -> ModelCard:
    """The model card of a model folder (or of a README.md path), read back with its metadata."""
    path = Path(folder)
    card = path / "README.md" if path.is_dir() else path
    if not card.is_file():
        raise ModelError(f"{path} has no README.md model card")
    return ModelCard.load(card)


@dataclass
class PushResult:
    repo_id: str
    files: list[tuple[str, int]]  # (path in repo, bytes)
    url: str | None = None  # commit URL; None for a dry run

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)


_LOCAL_PATH = re.compile(r"(?<![\w.:/])(?:/(?:tmp|home|Users|root|work|mnt|scratch)/|[A-Z]:\\\\)")


def upload_plan(folder: str | Path) -> list[tuple[str, int]]:
    """Every file `upload_folder` would send, with its size (hidden folders such as .git excluded).
    A symlink leading outside the folder is refused, not listed: `upload_folder` would follow it
    and publish a file of this machine that is no part of the model."""
    folder = Path(folder)
    check_links(folder, "upload")
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            files.append((rel.as_posix(), path.stat().st_size))
    return files


def check_publishable(folder: str | Path) -> list[tuple[str, int]]:
    """Refuse a folder that is not a complete credtune model; warn about local paths in its text files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"no model folder at {folder}")
    check_links(folder, "upload")
    spec = load_spec(folder)  # ModelError when credtune.json is missing or invalid
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise ModelError(
            f"{folder} lacks config.json or safetensors weights; push the `model/` folder of a run"
        )
    check_labels(folder, spec.label_names)
    plan = upload_plan(folder)
    for name, size in plan:
        if name.endswith((".json", ".md", ".txt", ".yaml")) and size < 5_000_000:
            hit = _LOCAL_PATH.search((folder / name).read_text(encoding="utf-8", errors="replace"))
            if hit:
                log.warning(
                    "%s mentions a local path (%s...); check it before publishing", name, hit.group(0)
                )
    return plan


def push(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    dry_run: bool = False,
    commit_message: str | None = None,
    api: Any = None,
) -> PushResult:
    """Upload a model folder to the Hub (token from the usual places: HF_TOKEN, `hf auth login`)."""
    from huggingface_hub import HfApi
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ModelError(f"invalid repo id '{repo_id}': {exc}") from None
    folder = Path(folder)
    plan = check_publishable(folder)
    if dry_run:
        return PushResult(repo_id, plan)
    _fill_repo_id(folder / "README.md", repo_id)
    plan = upload_plan(folder)
    api = api or HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    if revision and revision != "main":
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    info = api.upload_folder(
        folder_path=str(folder),
        repo_id=repo_id,
        revision=revision,
        commit_message=commit_message or f"credtune model ({len(plan)} files)",
        ignore_patterns=[".*", ".*/**"],
    )
    return PushResult(repo_id, plan, str(getattr(info, "commit_url", info)))


def _fill_repo_id(card: Path, repo_id: str) -> None:
    """The card's how-to-score snippet names the repository it will live in."""
    if card.is_file():
        text = card.read_text(encoding="utf-8")
        filled = re.sub(re.escape(REPO_PLACEHOLDER) + r"[\w.-]+", repo_id, text)
        if filled != text:
            card.write_text(filled, encoding="utf-8")
