"""Recipe files: YAML 1.2 scalars, shipped recipes by name, and `extends` (a recipe built on another).

Kept apart from `config`, which turns the merged mapping into dataclasses and checks it.
"""

from __future__ import annotations

import copy
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars: `1e-5` is a float, and only true/false are booleans
    (so `eval_strategy: no` stays the string Trainer expects)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$|^[-+]?\d[\d_]*\.\d*$|^[-+]?\.\d+$"),
    list("-+0123456789."),
)


def parse_value(text: str) -> Any:
    """Parse one override value the way the YAML file would."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def find_recipe(name: str | Path) -> Path:
    """A path as given, else a recipe shipped with credtune (`german_credit` or `german_credit.yaml`)."""
    path = Path(name)
    if path.is_file():
        return path
    stem = path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml"
    candidates = [
        resources.files("credtune") / "recipes" / stem,
        Path(__file__).parents[2] / "recipes" / stem,
    ]
    for candidate in candidates:
        if candidate.is_file():
            return Path(str(candidate))
    if path.is_dir():
        raise ConfigError(f"recipe {name} is a directory, not a YAML file")
    raise ConfigError(f"recipe not found: {name}")


def read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of sections (data, serialize, model, train, ...)")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    base_path = path.parent / str(parent)
    base_path = base_path if base_path.is_file() else find_recipe(str(parent))
    if base_path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' loops back to {base_path}")
    base = read_yaml(base_path, (*seen, path.resolve()))
    base_data = base.get("data")
    if (
        isinstance(base_data, dict)
        and base_data.get("path")
        and not Path(str(base_data["path"])).is_absolute()
    ):
        # data paths are relative to the recipe that names them, wherever the child lives
        target = base_path.resolve().parent / str(base_data["path"])
        base_data["path"] = os.path.relpath(target, path.resolve().parent)
    return merge(base, raw)


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        out[key] = (
            merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def apply_overrides(raw: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """A copy of `raw` with dotted `key.sub=value` overrides applied, each value read as YAML."""
    raw = copy.deepcopy(raw)
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override '{item}' is not of the form key.sub=value")
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"override {key.strip()}: '{part}' is not a section")
        node[parts[-1]] = parse_value(value)
    return raw


def resolve_data_path(recipe: Any) -> Path:
    """Data paths in a recipe are relative to the recipe file, so recipes work from any folder."""
    path = Path(recipe.data.path).expanduser()
    return path if path.is_absolute() else Path(recipe.source_dir) / path


def dump_recipe(recipe: Any) -> str:
    """The resolved recipe as YAML, its data path made absolute so the copy in a run folder
    reloads from there (a relative path was relative to the original recipe's folder)."""
    out = recipe.to_dict()
    if recipe.data.path:
        out["data"]["path"] = str(resolve_data_path(recipe).resolve())
    return yaml.safe_dump(out, sort_keys=False)
