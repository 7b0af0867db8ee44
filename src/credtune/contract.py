"""`credtune.json`: the one contract between training and scoring.

It sits beside the weights in `model/` and holds everything needed to rebuild an applicant's
text and turn logits into a calibrated PD, points and a decision. Plain JSON, read as data
(no pickle, no eval) and validated, so a model folder from the internet cannot run code.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError
from .serialize import Serializer

FILENAME = "credtune.json"
FORMAT_VERSION = 1
KINDS = ("numeric", "categorical", "text")


def _credtune_version() -> str:
    from . import __version__

    return __version__


@dataclass
class ModelSpec:
    schema: dict[str, Any]
    serializer: dict[str, Any]
    max_length: int
    base_model: str
    calibration: dict[str, Any] = field(default_factory=lambda: {"method": "none"})
    points: dict[str, float] = field(default_factory=lambda: {"base": 600.0, "odds": 50.0, "pdo": 20.0})
    threshold: float | None = None
    costs: dict[str, float] | None = None  # the recipe's decision costs, for `evaluate`'s expected cost
    blend: dict[str, Any] | None = None
    hybrid: dict[str, Any] | None = None  # components in hybrid/ and the stacking weights (credtune.hybrid)
    training: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    credtune_version: str = field(default_factory=_credtune_version)  # which credtune wrote the file

    @property
    def label_names(self) -> list[str]:
        return list(self.schema["label_names"])

    @property
    def task(self) -> str:
        """binary (default: PD, points, decision), multiclass (class probabilities) or regression."""
        return self.schema.get("task", "binary")

    @property
    def required_columns(self) -> list[str]:
        return [c["name"] for c in self.schema["columns"]]

    def make_serializer(self) -> Serializer:
        return Serializer.from_dict(self.serializer)

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / FILENAME
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        return path


def load_spec(folder: str | Path) -> ModelSpec:
    """Read and validate `credtune.json` from a model folder."""
    path = Path(folder) / FILENAME
    if not path.is_file():
        raise ModelError(
            f"{folder} has no {FILENAME}: it is not a credtune model (train one with `credtune train`; "
            "a plain Hub classifier lacks the schema and serializer needed to rebuild applicant text)"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    return spec_from_dict(raw, str(path))


def spec_from_dict(raw: Any, where: str = FILENAME) -> ModelSpec:
    if not isinstance(raw, dict):
        raise ModelError(f"{where}: expected a JSON object")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(
            f"{where}: format_version {version!r} is not supported (this credtune reads {FORMAT_VERSION})"
        )
    known = set(ModelSpec.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        # Refused, not ignored (peft ignores unknown config keys): every key of this file changes how
        # an applicant is scored, so skipping one written by a newer credtune would give wrong PDs.
        writer = raw.get("credtune_version", "an unknown version")
        raise ModelError(
            f"{where}: unknown keys {sorted(unknown)}; the file was written by credtune {writer} "
            f"and this is credtune {_credtune_version()}: upgrade credtune to score with it"
        )
    missing = {"schema", "serializer", "max_length", "base_model"} - set(raw)
    if missing:
        raise ModelError(f"{where}: missing keys {sorted(missing)}")
    schema = raw["schema"]
    if not isinstance(schema, dict) or not isinstance(schema.get("columns"), list):
        raise ModelError(f"{where}: schema.columns must be a list")
    check_target_kind(schema, where)
    if not isinstance(raw["max_length"], int) or raw["max_length"] <= 0:
        raise ModelError(f"{where}: max_length must be a positive integer")
    try:
        Serializer.from_dict(raw["serializer"])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{where}: invalid serializer settings ({exc})") from None
    try:
        _validator(schema.get("task", "binary"))(raw.get("calibration", {"method": "none"}))
    except ValueError as exc:
        raise ModelError(f"{where}: invalid calibration ({exc})") from None
    from .hybrid import check_entry

    check_entry(raw.get("hybrid"), where)
    threshold = raw.get("threshold")
    if threshold is not None and (not _is_number(threshold) or not 0 <= threshold <= 1):
        raise ModelError(f"{where}: threshold must be a probability in [0, 1], got {threshold!r}")
    check_points(raw.get("points", {"base": 600.0, "odds": 50.0, "pdo": 20.0}), where)
    check_columns(schema, raw["serializer"], where)
    return ModelSpec(**{"credtune_version": "unrecorded", **raw})


TASKS = ("binary", "multiclass", "regression")


def check_target_kind(schema: dict[str, Any], where: str) -> None:
    """The task and its label names: two classes (negative, positive), three or more classes, or
    the one target of a regression with the finite scale its outputs are mapped back with."""
    task = schema.get("task", "binary")
    if task not in TASKS:
        raise ModelError(f"{where}: schema.task {task!r} is not one of {', '.join(TASKS)}")
    names = schema.get("label_names")
    size = {"binary": (2, 2), "multiclass": (3, 10_000), "regression": (1, 1)}[task]
    ok = isinstance(names, list) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
    if not ok or not size[0] <= len(names) <= size[1]:
        want = {"binary": "the negative and positive class", "multiclass": "three or more distinct classes"}
        raise ModelError(f"{where}: schema.label_names must list {want.get(task, 'the target')}")
    if task == "regression":
        scale = schema.get("target_scale")
        good = (
            isinstance(scale, dict) and set(scale) == {"mean", "std"} and all(map(_is_number, scale.values()))
        )
        if not good or scale["std"] <= 0:
            raise ModelError(f"{where}: schema.target_scale must hold a finite mean and a positive std")


def _validator(task: str) -> Any:
    from .metrics import validate_calibrator, validate_class_calibrator, validate_value_calibrator

    return {"binary": validate_calibrator, "multiclass": validate_class_calibrator}.get(
        task, validate_value_calibrator
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_points(points: Any, where: str) -> None:
    """Scorecard scaling: base points, base odds and points to double the odds, as finite numbers
    (odds and pdo positive), or every applicant's points would be NaN or of the wrong sign."""
    if not isinstance(points, dict) or set(points) != {"base", "odds", "pdo"}:
        raise ModelError(f"{where}: points must hold exactly base, odds and pdo, got {points!r}")
    for key, value in points.items():
        if not _is_number(value) or (key != "base" and value <= 0):
            want = "a number" if key == "base" else "a positive number"
            raise ModelError(f"{where}: points.{key} must be {want}, got {value!r}")


def check_columns(schema: dict[str, Any], serializer: dict[str, Any], where: str) -> None:
    """Every column a known kind with a known parse, named once, and the serializer's fields the
    same columns with the same kinds: a tampered file must not make scoring read a field wrongly."""
    from .parsing import check_parse

    kinds: dict[str, str] = {}
    for i, column in enumerate(schema["columns"]):
        if not isinstance(column, dict) or not isinstance(column.get("name"), str):
            raise ModelError(f"{where}: schema.columns[{i}] must be an object with a name")
        name, kind = column["name"], column.get("kind")
        if kind not in KINDS:
            raise ModelError(
                f"{where}: schema.columns[{i}] ('{name}') has kind {kind!r}, not one of {', '.join(KINDS)}"
            )
        if name in kinds:
            raise ModelError(f"{where}: schema.columns names '{name}' twice")
        try:
            check_parse(column.get("parse"))
        except ValueError as exc:
            raise ModelError(f"{where}: schema.columns[{i}] ('{name}'): {exc}") from None
        if column.get("parse") and kind != "numeric":
            raise ModelError(f"{where}: schema.columns[{i}] ('{name}') is parsed but not numeric")
        kinds[name] = kind
    fields = {f.get("name"): f.get("kind") for f in serializer.get("fields", []) if isinstance(f, dict)}
    if fields != kinds:
        raise ModelError(f"{where}: the serializer's fields do not match schema.columns (names or kinds)")
