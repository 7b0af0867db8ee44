"""Recipes: stdlib dataclasses loaded from YAML, with dotted command-line overrides.

A recipe holds only what differs from the defaults below. The `train:` section is handed
verbatim to `transformers.TrainingArguments` (validated against its fields in `train.py`), so
no Trainer option is re-declared here.
"""

from __future__ import annotations

import dataclasses
import itertools
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, did_you_mean
from .recipe_files import apply_overrides, dump_recipe, find_recipe, parse_value, read_yaml, resolve_data_path
from .serialize import NUMBERS, TEMPLATES
from .targets import settle_task

__all__ = [
    "dump_recipe",
    "find_recipe",
    "load_recipe",
    "parse_value",
    "recipe_from_dict",
    "resolve_data_path",
]


@dataclass
class SplitConfig:
    """How rows are divided; `time_column` switches from stratified random to oldest -> train, and
    `column` takes a shipped split (values train / valid / test; valid is carved from train if absent)."""

    valid: float = 0.15
    test: float = 0.2
    time_column: str | None = None
    column: str | None = None


@dataclass
class DataConfig:
    path: str = ""
    target: str = ""
    task: str | None = None  # binary | multiclass | regression; None: inferred from the recipe and target
    positive: Any = None
    negative: Any = None
    classes: list[str] = field(default_factory=list)  # multiclass: the classes in order (grades A..G)
    ordered: bool = False  # multiclass: the classes are ordered grades (adds kappa and grade error)
    id: str | None = None
    text: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)
    parse: dict[str, str] = field(default_factory=dict)  # column -> "money", "percent", "date:%d/%m/%Y", ...
    sample: int | None = None
    split: SplitConfig = field(default_factory=SplitConfig)


@dataclass
class SerializeConfig:
    """Record -> text settings; stored in credtune.json so scoring rebuilds the same text."""

    template: str = "compact"
    descriptions: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    precision: int = 2
    missing: str = "unknown"
    note_label: str = "notes"
    mask_pii: bool = False
    include_protected: bool = False
    numbers: str = "banded"  # "5951 (very high)"; plain; quantiles: TabSTAR's decile text; magnitude: "[m8]"
    notes_cut: str = "head"  # head_tail: a note over the budget keeps its start and its end


@dataclass
class ModelConfig:
    name: str = "minilm"
    max_length: int = 256
    trust_remote_code: bool = False
    allow_pickle: bool = False
    gradient_checkpointing: bool = False
    quantization: str | None = None
    blend: str | None = None
    hybrid: list[str] | None = None  # stacked with the transformer and shipped; null: the baselines (binary)
    hybrid_weights: str = "shrunk"  # weights pulled toward equal ones (or: equal, fitted)
    hybrid_fit: str = "auto"  # weights learnt from: crossfit, validation; auto: crossfit after a fitted head
    train_layers: int | str | None = "auto"  # the top k layers (+ head) train, those below are frozen and
    # run once; null: every layer; auto: 0, or null beside a lora section (LoRA needs layers to adapt)
    pooling: str | None = "auto"  # ffn: a student of each token's feed-forward features (a fitted head's);
    # mean: of the states; auto: ffn where the head is fitted on a BERT, else the mean on a frozen BERT
    head: str = "auto"  # fitted: a linear head fitted in closed form on a frozen encoder (head.py); trained:
    # by the Trainer; auto: fitted for a default target on a frozen BERT-style encoder, trained otherwise

    def trained_layers(self, lora: LoraConfig | None) -> int | None:
        """`train_layers` with `auto` settled: how many top layers train (None: all of them)."""
        if self.train_layers == "auto":
            return None if lora is not None else 0
        return self.train_layers  # type: ignore[return-value]


@dataclass
class LoraConfig:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | None = None


@dataclass
class DistillConfig:
    """Distillation from the baselines: the transformer also learns the teachers' PDs (soft targets),
    cross-fitted on the training rows (in-sample GBDT predictions would only repeat the labels)."""

    teachers: list[str] = field(default_factory=lambda: ["logistic", "scorecard", "lightgbm"])
    weight: float = 0.5  # share of the loss on the teachers' PD; 0 = labels only, 1 = teachers only
    folds: int = 5
    synthetic: int = 0  # extra rows per training row, fields mixed from other rows, targets from the teachers
    swap: float = 0.3  # share of a synthetic row's fields taken from other random training rows


@dataclass
class PointsConfig:
    base: float = 600.0
    odds: float = 50.0
    pdo: float = 20.0


@dataclass
class DecisionConfig:
    """Approve when PD < threshold; the threshold is chosen on the validation split."""

    cost_bad_approved: float = 5.0
    cost_good_rejected: float = 1.0
    approval_rate: float | None = None


@dataclass
class RecipeConfig:
    data: DataConfig = field(default_factory=DataConfig)
    serialize: SerializeConfig = field(default_factory=SerializeConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig | None = None
    distill: DistillConfig | None = None
    train: dict[str, Any] = field(default_factory=dict)
    seed: int = 42
    train_loss: str = "ce"
    calibration: str = "auto"  # auto: none after a fitted head, else temperature; linear for numbers
    points: PointsConfig = field(default_factory=PointsConfig)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    baselines: list[str] = field(default_factory=lambda: ["logistic", "lightgbm"])
    # a baseline's name -> its library estimator's arguments (baselines.registry.check_params)
    baseline_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    name: str = "run"
    source_dir: str = "."

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("source_dir")
        return out

    def fits_head(self, task: str) -> bool:
        """`model.head` as far as the recipe settles it: `fitted`, or `auto` for a default target
        with cross-entropy on a frozen encoder (`head.wants_fit` adds the model's own part)."""
        if self.model.head != "auto":
            return self.model.head == "fitted"
        return self.model.trained_layers(self.lora) == 0 and task == "binary" and self.train_loss == "ce"


CHOICES = {
    "serialize.template": tuple(TEMPLATES),
    "serialize.numbers": NUMBERS,
    "serialize.notes_cut": ("head", "head_tail"),
    "train_loss": ("ce", "weighted"),
    "calibration": ("auto", "temperature", "platt", "isotonic", "linear", "none"),
    "data.task": (None, "binary", "multiclass", "regression"),
    "model.quantization": (None, "4bit"),
    "model.blend": (None, "lightgbm"),
    "model.pooling": ("auto", "mean", "ffn", None),
    "model.head": ("auto", "trained", "fitted"),
    "model.hybrid_weights": ("shrunk", "equal", "fitted"),
    "model.hybrid_fit": ("auto", "validation", "crossfit"),
}


BASELINES = ("logistic", "scorecard", "lightgbm", "catboost", "notes", "kernel")


def load_recipe(path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> RecipeConfig:
    """Load a recipe file, apply `key.sub=value` overrides, validate types and choices.

    `extends: other.yaml` (relative to the recipe) starts from another recipe, so a variant holds
    only what differs from it."""
    path = find_recipe(path)
    raw = read_yaml(path)
    raw.setdefault("name", path.stem)
    raw["source_dir"] = str(path.resolve().parent)
    return recipe_from_dict(raw, overrides)


def recipe_from_dict(
    raw: dict[str, Any], overrides: list[str] | dict[str, Any] | None = None
) -> RecipeConfig:
    if isinstance(overrides, dict):
        overrides = [f"{k}={v}" for k, v in overrides.items()] if overrides else []
    recipe = _build(RecipeConfig, apply_overrides(raw, overrides), "")
    _check(recipe)
    return recipe


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'recipe'}: expected a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"unknown key '{where}{key}'{did_you_mean(key, fields)}")
        kwargs[key] = _coerce(hints[key], value, f"{where}{key}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        if isinstance(value, str) and str in inner:  # a word among numbers: `train_layers: auto`
            return value
        return _coerce(inner[0], value, where)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value if value is not None else {}, f"{where}.")
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if hint is int and float(value) != int(value):
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return hint(value)
    if hint is str:
        if isinstance(value, (dict, list)) or value is None:
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return str(value)
    if origin is list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    return value


def _check(recipe: RecipeConfig) -> None:
    for key, allowed in CHOICES.items():
        node: Any = recipe
        for part in key.split("."):
            node = getattr(node, part)
        if node not in allowed:
            shown = ", ".join("null" if a is None else str(a) for a in allowed)
            raise ConfigError(
                f"{key}: '{node}' is not one of {shown}{did_you_mean(node, [a for a in allowed if a])}"
            )
    split = recipe.data.split
    for name in ("valid", "test"):
        share = getattr(split, name)
        if not 0 < share < 0.9:
            raise ConfigError(f"data.split.{name}: expected a share between 0 and 0.9, got {share}")
    if split.valid + split.test >= 0.9:
        raise ConfigError("data.split: valid + test leave too few rows to train on")
    if split.column and split.time_column:  # a shipped split, or oldest -> train: not both
        raise ConfigError("data.split: give column or time_column, not both")
    if recipe.model.max_length < 16:
        raise ConfigError(f"model.max_length: {recipe.model.max_length} is too short for any record")
    if recipe.data.sample is not None and recipe.data.sample < 20:
        raise ConfigError(f"data.sample: {recipe.data.sample} rows are too few to train on")
    if recipe.points.odds <= 0 or recipe.points.pdo <= 0:
        raise ConfigError("points: odds and pdo must be positive")
    for key, value in recipe.train.items():
        sized = "batch_size" in key or key == "gradient_accumulation_steps"
        if sized and isinstance(value, (int, float)) and value <= 0:
            raise ConfigError(f"train.{key}: must be positive, got {value}")
    check_data_roles(recipe.data)
    for name in recipe.baselines:
        if name not in BASELINES:
            raise ConfigError(f"baselines: unknown baseline '{name}'{did_you_mean(name, BASELINES)}")
    for name in recipe.model.hybrid or []:
        if name not in BASELINES:
            raise ConfigError(f"model.hybrid: unknown component '{name}'{did_you_mean(name, BASELINES)}")
        if name not in recipe.baselines:
            shown = ", ".join(recipe.baselines) or "[] (none)"
            raise ConfigError(
                f"model.hybrid: '{name}' is not among the baselines ({shown}); a hybrid component "
                "also runs as a baseline, so that its own figures are reported beside the hybrid's"
            )
    if recipe.model.hybrid and len(set(recipe.model.hybrid)) != len(recipe.model.hybrid):
        raise ConfigError("model.hybrid: a component is listed twice")
    layers = recipe.model.train_layers
    if (isinstance(layers, str) and layers != "auto") or (isinstance(layers, int) and layers < 0):
        raise ConfigError(f"model.train_layers: must be 0 or more, null or auto, got {layers!r}")
    if recipe.lora is not None and recipe.model.train_layers == 0:
        raise ConfigError(
            "lora: model.train_layers: 0 leaves no layer for LoRA to adapt; set model.train_layers "
            "to 1 or more (null: every layer), or drop the lora section"
        )
    if recipe.model.head == "fitted" and (
        recipe.model.trained_layers(recipe.lora) != 0 or recipe.train_loss != "ce"
    ):
        raise ConfigError(
            "model.head: fitted fits the head of a frozen encoder; it needs model.train_layers: 0, no "
            "lora section and train_loss: ce"
        )
    if recipe.distill is not None:
        _check_distill(recipe)
    if recipe.data.task:
        settle_task(recipe, recipe.data.task)


def _check_distill(recipe: RecipeConfig) -> None:
    distill = recipe.distill
    if not distill.teachers:
        raise ConfigError("distill.teachers: name at least one baseline to learn from")
    for name in distill.teachers:
        if name not in BASELINES:
            raise ConfigError(f"distill.teachers: unknown baseline '{name}'{did_you_mean(name, BASELINES)}")
    if not 0 <= distill.weight <= 1:
        raise ConfigError(f"distill.weight: expected a share between 0 and 1, got {distill.weight}")
    if distill.folds < 2:
        raise ConfigError(f"distill.folds: cross-fitting the teachers needs 2 or more, got {distill.folds}")
    if distill.synthetic < 0 or not 0 < distill.swap <= 1:
        raise ConfigError("distill: synthetic must be 0 or more and swap a share in (0, 1]")
    if recipe.train_loss == "weighted":
        raise ConfigError("distill: cannot be combined with train_loss: weighted; use one or the other")


# role pairs that contradict each other: a column is serialized one way, or not at all
_SERIALIZED = ("text", "categorical", "numeric")
_CLASHES = {frozenset(pair) for pair in itertools.combinations(_SERIALIZED, 2)} | {
    frozenset((role, hidden)) for role in _SERIALIZED for hidden in ("id", "exclude")
}


def check_data_roles(data: DataConfig) -> None:
    """One role per column (protected columns may also be typed; they are hidden unless asked),
    two different classes, and parse formats credtune knows, before any file is read."""
    from .parsing import check_parse

    roles: dict[str, list[str]] = {}
    for role in ("target", "id", "text", "categorical", "numeric", "exclude", "protected", "parse"):
        value = getattr(data, role)
        for name in dict.fromkeys([value] if isinstance(value, str) else (value or [])):
            roles.setdefault(str(name), []).append(role)
    for name, listed in roles.items():
        for a, b in itertools.combinations(listed, 2):
            clash = "target" in (a, b) or frozenset((a, b)) in _CLASHES
            clash |= "parse" in (a, b) and bool({a, b} & {"text", "categorical", "id", "exclude"})
            if clash:
                raise ConfigError(
                    f"column '{name}' is listed as both data.{a} and data.{b}; give each column one role"
                )
    if data.positive is not None and _class_key(data.positive) == _class_key(data.negative):
        raise ConfigError(f"data.positive and data.negative are both '{_class_key(data.positive)}'")
    for name, parse in data.parse.items():
        try:
            check_parse(parse)
        except ValueError as exc:
            raise ConfigError(f"data.parse.{name}: {exc}") from None


def _class_key(value: Any) -> str | None:
    """A target value as compared (as `data.label_key`): 1, 1.0 and '1' are one class."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip() or None


def build_section(cls: type, raw: Any, where: str = "") -> Any:
    """Dataclass `cls` from a mapping, checked as recipes are (unknown keys get a did-you-mean hint,
    values are coerced to the field types): for other recipe kinds (`pretrain_config`)."""
    return _build(cls, raw, where)
