"""Pretraining recipes (`credtune pretrain`): stdlib dataclasses checked as fine-tuning recipes are.

A pretraining recipe names the tables to pretrain on (`tables:`), each through a fine-tuning
recipe that says how its rows are serialized (its target, id, excluded and protected columns are
never serialized), or inline (`data:` and `serialize:` sections, the keys of a fine-tuning
recipe). Paths are relative to the pretraining recipe. The `train:` section goes verbatim into
`transformers.TrainingArguments`, as in fine-tuning.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config import RecipeConfig, build_section, load_recipe, recipe_from_dict
from .errors import ConfigError, did_you_mean
from .recipe_files import apply_overrides, find_recipe, merge, read_yaml

MASKING = ("field", "token")
DEFAULT_PROBABILITY = {"field": 0.2, "token": 0.15}  # share of fields / of tokens masked per record


@dataclass
class PretrainModelConfig:
    name: str = "minilm"
    max_length: int = 256
    trust_remote_code: bool = False
    allow_pickle: bool = False
    gradient_checkpointing: bool = False


@dataclass
class TableEntry:
    """One table of the corpus: a fine-tuning recipe (`recipe`), inline sections, or both (the
    inline `data:`/`serialize:` keys then replace the recipe's)."""

    recipe: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    serialize: dict[str, Any] = field(default_factory=dict)
    rows: int | None = None  # at most this many rows of this table (default: rows_per_table)
    name: str | None = None


@dataclass
class PretrainConfig:
    tables: list[TableEntry] = field(default_factory=list)
    model: PretrainModelConfig = field(default_factory=PretrainModelConfig)
    masking: str = "field"  # field: whole field values masked; token: BERT token masking
    mlm_probability: float | None = (
        None  # field: share of fields masked; token: of tokens (default 0.2 / 0.15)
    )
    rows_per_table: int | None = 2000
    eval_share: float = 0.05  # records held out for the final eval loss and masked-token accuracy
    exclude_rows_of: list[str] = field(default_factory=list)  # fine-tuning recipes: their valid + test rows
    train: dict[str, Any] = field(default_factory=dict)
    seed: int = 42
    name: str = "pretrain"
    source_dir: str = "."

    @property
    def probability(self) -> float:
        return DEFAULT_PROBABILITY[self.masking] if self.mlm_probability is None else self.mlm_probability

    def to_dict(self) -> dict[str, Any]:
        """The recipe as YAML data, its paths made absolute so a copy in a run folder reloads."""
        out = dataclasses.asdict(self)
        out.pop("source_dir")
        out["mlm_probability"] = self.probability
        for entry in out["tables"]:
            if entry["recipe"]:
                entry["recipe"] = str(self.resolve(entry["recipe"]))
            if entry["data"].get("path"):
                entry["data"]["path"] = str(self.resolve(entry["data"]["path"], recipe=False))
            for key in [k for k, v in entry.items() if v in (None, {})]:
                del entry[key]
        out["exclude_rows_of"] = [str(self.resolve(r)) for r in self.exclude_rows_of]
        return out

    def resolve(self, name: str, recipe: bool = True) -> Path:
        """A recipe (else a shipped one of that name) or a data path, relative to this recipe."""
        path = Path(name).expanduser()
        path = path if path.is_absolute() else Path(self.source_dir) / path
        if path.exists() or not recipe:
            return path.resolve()
        try:
            return find_recipe(name).resolve()
        except ConfigError:
            raise ConfigError(
                f"recipe not found: {name} (looked in {self.source_dir} and the shipped recipes)"
            ) from None


def is_pretraining_recipe(path: str | Path) -> bool:
    """A recipe file with a `tables:` section (a fine-tuning recipe has `data:` instead)."""
    try:
        return "tables" in read_yaml(find_recipe(path))
    except ConfigError:
        return False


def load_pretrain(
    recipes: list[str | Path] | str | Path, overrides: list[str] | None = None
) -> PretrainConfig:
    """A pretraining recipe, with any fine-tuning recipes named beside it added as tables.

    Fine-tuning recipes alone make a corpus of their tables; their own valid and test rows are
    left out (`exclude_rows_of`), so `credtune train RECIPE model.name=<backbone>` evaluates on
    rows the pretraining never saw. Settings a fine-tuning recipe shares (model name and token
    budget, seed) come from the first one."""
    names = [recipes] if isinstance(recipes, (str, Path)) else list(recipes)
    if not names:
        raise ConfigError("credtune pretrain: name a pretraining recipe or fine-tuning recipes")
    paths = [find_recipe(n) for n in names]
    pretraining = [p for p in paths if is_pretraining_recipe(p)]
    if len(pretraining) > 1:
        raise ConfigError(f"credtune pretrain: one pretraining recipe at a time, got {len(pretraining)}")
    extra = [{"recipe": str(p.resolve())} for p in paths if p not in pretraining]
    if pretraining:
        raw = read_yaml(pretraining[0])
        raw.setdefault("name", pretraining[0].stem)
        raw["source_dir"] = str(pretraining[0].resolve().parent)
        raw["tables"] = _entries(raw.get("tables")) + extra
    else:
        first = load_recipe(paths[0])
        model = {
            k: getattr(first.model, k) for k in ("name", "max_length", "trust_remote_code", "allow_pickle")
        }
        raw = {
            "tables": extra,
            "exclude_rows_of": [e["recipe"] for e in extra],
            "model": model,
            "seed": first.seed,
            "name": "pretrain-" + "-".join(p.stem for p in paths),
            "source_dir": os.getcwd(),
        }
    return pretrain_from_dict(raw, overrides)


def pretrain_from_dict(raw: dict[str, Any], overrides: list[str] | None = None) -> PretrainConfig:
    raw = apply_overrides(raw, overrides)
    raw["tables"] = _entries(raw.get("tables"))
    cfg = build_section(PretrainConfig, raw)
    check_pretrain(cfg)
    return cfg


def _entries(tables: Any) -> list[Any]:
    """`tables:` items may be a recipe name (a string) or a mapping (see `TableEntry`)."""
    if tables is None:
        return []
    if not isinstance(tables, list):
        raise ConfigError(f"tables: expected a list of recipes or table entries, got {tables!r}")
    return [{"recipe": t} if isinstance(t, (str, Path)) else t for t in tables]


def check_pretrain(cfg: PretrainConfig) -> None:
    if not cfg.tables:
        raise ConfigError("tables: name at least one table (a fine-tuning recipe, or data: {path: ...})")
    if cfg.masking not in MASKING:
        raise ConfigError(
            f"masking: '{cfg.masking}' is not one of field, token{did_you_mean(cfg.masking, MASKING)}"
        )
    if not 0 < cfg.probability < 1:
        raise ConfigError(f"mlm_probability: expected a share between 0 and 1, got {cfg.probability}")
    if not 0 <= cfg.eval_share <= 0.5:
        raise ConfigError(f"eval_share: expected a share between 0 and 0.5, got {cfg.eval_share}")
    if cfg.model.max_length < 16:
        raise ConfigError(f"model.max_length: {cfg.model.max_length} is too short for any record")
    for i, entry in enumerate(cfg.tables):
        rows = entry.rows if entry.rows is not None else cfg.rows_per_table
        where = f"tables[{i}].rows" if entry.rows is not None else "rows_per_table"
        if rows is not None and rows < 20:
            raise ConfigError(f"{where}: {rows} rows are too few to pretrain on")
        if not entry.recipe and not entry.data.get("path"):
            raise ConfigError(f"tables[{i}]: give a fine-tuning recipe (recipe: ...) or data: {{path: ...}}")
    for key, value in cfg.train.items():
        sized = "batch_size" in key or key == "gradient_accumulation_steps"
        if sized and isinstance(value, (int, float)) and value <= 0:
            raise ConfigError(f"train.{key}: must be positive, got {value}")


def table_recipe(cfg: PretrainConfig, index: int) -> RecipeConfig:
    """Table `index` as the fine-tuning recipe that serializes it (checked as one)."""
    entry = cfg.tables[index]
    inline: dict[str, Any] = {"data": dict(entry.data), "serialize": dict(entry.serialize)}
    if inline["data"].get("path"):  # inline paths are relative to the pretraining recipe
        inline["data"]["path"] = str(cfg.resolve(inline["data"]["path"], recipe=False))
    if entry.recipe:
        path = cfg.resolve(entry.recipe)
        raw = read_yaml(path)
        raw.setdefault("name", path.stem)
        raw["source_dir"] = str(path.parent)
    else:
        raw = {"name": Path(inline["data"]["path"]).stem, "source_dir": cfg.source_dir}
    raw = merge(raw, {k: v for k, v in inline.items() if v})
    if entry.name:
        raw["name"] = entry.name
    try:
        return recipe_from_dict(raw)
    except ConfigError as exc:
        raise ConfigError(f"tables[{index}] ({raw['name']}): {exc}") from None


def dump_pretrain(cfg: PretrainConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
