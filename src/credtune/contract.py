"""`credtune.json`: the one contract between training and scoring.

It sits beside the weights in `model/` and holds everything needed to rebuild an applicant's
text and turn logits into a calibrated PD, points and a decision. Plain JSON, read as data
(no pickle, no eval) and validated, so a model folder from the internet cannot run code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import ModelError
from .serialize import Serializer

FILENAME = "credtune.json"
FORMAT_VERSION = 1


@dataclass
class ModelSpec:
    schema: dict[str, Any]
    serializer: dict[str, Any]
    max_length: int
    base_model: str
    calibration: dict[str, Any] = field(default_factory=lambda: {"method": "none"})
    points: dict[str, float] = field(default_factory=lambda: {"base": 600.0, "odds": 50.0, "pdo": 20.0})
    threshold: float | None = None
    blend: dict[str, Any] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def label_names(self) -> list[str]:
        return list(self.schema["label_names"])

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
        raise ModelError(f"{where}: unknown keys {sorted(unknown)}")
    missing = {"schema", "serializer", "max_length", "base_model"} - set(raw)
    if missing:
        raise ModelError(f"{where}: missing keys {sorted(missing)}")
    schema = raw["schema"]
    if not isinstance(schema, dict) or not isinstance(schema.get("columns"), list):
        raise ModelError(f"{where}: schema.columns must be a list")
    if not isinstance(schema.get("label_names"), list) or len(schema["label_names"]) != 2:
        raise ModelError(f"{where}: schema.label_names must list the negative and positive class")
    if not isinstance(raw["max_length"], int) or raw["max_length"] <= 0:
        raise ModelError(f"{where}: max_length must be a positive integer")
    try:
        Serializer.from_dict(raw["serializer"])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{where}: invalid serializer settings ({exc})") from None
    from .metrics.calibration import validate_calibrator

    try:
        validate_calibrator(raw.get("calibration", {"method": "none"}))
    except ValueError as exc:
        raise ModelError(f"{where}: invalid calibration ({exc})") from None
    return ModelSpec(**raw)
