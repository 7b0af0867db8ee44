"""`CreditScorer`: a trained credtune model in memory, loaded, saved and pushed as one object.

Text is rebuilt only from `credtune.json` (the same serializer as in training), so a model
pulled from the Hub scores exactly as it did on the training machine. Like setfit's model, the
scorer is a `huggingface_hub.ModelHubMixin`: `from_pretrained`, `save_pretrained` and
`push_to_hub` move the whole folder (weights, tokenizer, credtune.json, card). Files of any size
are scored by `runs.batch.score_file`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from huggingface_hub import ModelHubMixin

from .contract import ModelSpec, load_spec
from .errors import DataError, ModelError
from .inference import binary_margin, default_batch, set_threads
from .model_folder import check_labels, check_links, resolve_model_folder
from .parsing import NotParsed, TooBig, parse_value

log = logging.getLogger(__name__)
__all__ = ["CreditScorer", "as_scorer", "resolve_model_folder"]
INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_TYPES = ("float", "double", "halffloat", "float16", "float32", "float64")


class CreditScorer(
    ModelHubMixin,
    library_name="transformers",
    tags=["credtune", "credit-risk", "tabular-to-text", "probability-of-default"],
):
    """A trained credtune model: calibrated PD, scorecard points, decisions and reason codes."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        spec: ModelSpec,
        device: Any = None,
        batch_size: int | None = None,
        card: Any = None,
        hybrid: Any = None,
    ):
        import torch

        self.model, self.tokenizer, self.spec, self.card = model, tokenizer, spec, card
        self.hybrid = hybrid  # credtune.hybrid.Hybrid: the transformer stacked with baselines
        self.shipped = "hybrid" if hybrid is not None else "transformer"
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()
        # None: `inference.default_batch` of the device the scorer runs on when it scores
        self.batch_size = None if batch_size is None else check_batch_size(batch_size)
        self.serializer = spec.make_serializer()
        self.id_column: str | None = spec.schema.get("id")
        dtypes = {c["name"]: c.get("dtype", "") for c in spec.schema["columns"]}
        self._fields = [(f.name, f.kind, dtypes.get(f.name, "")) for f in self.serializer.fields]
        self._parses = {c["name"]: c.get("parse") for c in spec.schema["columns"]}
        # column -> the values of a number column that were not numbers (read as missing, counted)
        self.not_numbers: dict[str, list[Any]] = {}
        self._has_text = any(kind == "text" for _, kind, _ in self._fields)
        self._note_chars = (spec.max_length + 1) * 64  # far beyond what the token budget keeps
        self._reported_extra = False
        set_threads(torch)

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        allow_pickle: bool = False,
        trust_remote_code: bool = False,
        device: Any = None,
        batch_size: int | None = None,
        **hub_kwargs: Any,
    ) -> CreditScorer:
        """Load a model folder (or Hub repo id) written by `credtune train`; refuses pickle weights
        unless `allow_pickle`, since unpickling a downloaded file can run code."""
        folder = resolve_model_folder(pretrained_model_name_or_path, allow_pickle)
        options = {"allow_pickle": allow_pickle, "trust_remote_code": trust_remote_code}
        return super().from_pretrained(folder, device=device, batch_size=batch_size, **options, **hub_kwargs)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        allow_pickle: bool = False,
        trust_remote_code: bool = False,
        device: Any = None,
        batch_size: int | None = None,
        **_: Any,
    ) -> CreditScorer:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from .hub import load_card
        from .hybrid import load_hybrid
        from .modeling import check_model_folder, ensure_pad_token

        folder = Path(model_id)
        check_links(folder)
        spec = load_spec(folder)
        check_model_folder(folder, allow_pickle)
        check_labels(folder, spec.label_names)
        # a damaged hybrid fails here, before the weights load
        hybrid = load_hybrid(folder, spec.hybrid) if spec.hybrid else None
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
            model = AutoModelForSequenceClassification.from_pretrained(
                folder, use_safetensors=None if allow_pickle else True, trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the model in {folder}: {str(exc).splitlines()[0]}") from None
        if model.config.num_labels != len(spec.label_names):
            want = len(spec.label_names)
            raise ModelError(
                f"{folder}: expected {want} output(s) ({spec.task}), found {model.config.num_labels}"
            )
        card = load_card(folder) if (folder / "README.md").is_file() else None
        tokenizer = ensure_pad_token(tokenizer)
        return cls(model, tokenizer, spec, device=device, batch_size=batch_size, card=card, hybrid=hybrid)

    def _save_pretrained(self, save_directory: Path) -> None:
        """Weights (safetensors), tokenizer, credtune.json and the model card: a folder that
        `from_pretrained` here and plain `AutoModelForSequenceClassification` both load."""
        from .hub import model_card
        from .modeling import merged

        merged(self.model).save_pretrained(save_directory, safe_serialization=True)
        self.tokenizer.save_pretrained(save_directory)
        if self.hybrid is not None:  # component files first: credtune.json records their hashes
            self.spec.hybrid = self.hybrid.save(Path(save_directory))
        self.spec.save(save_directory)
        (self.card or model_card(self.spec, {})).save(Path(save_directory) / "README.md")

    # -- input -------------------------------------------------------------------------------
    def records(self, data: Any) -> list[Mapping[str, Any]]:
        """Rows of a DataFrame, list of dicts, datasets.Dataset or Arrow table, checked against
        the columns the model reads (missing ones are an error, extra ones are ignored)."""
        if isinstance(data, pd.DataFrame):
            columns = [str(c) for c in data.columns]
            twice = next((c for c, n in Counter(columns).items() if n > 1), None)
            if twice is not None:
                raise DataError(f"column '{twice}' appears twice in the input")
            rows = data[[c for c in self.spec.required_columns if c in columns]].to_dict("records")
        elif isinstance(data, (pa.Table, pa.RecordBatch)):
            columns, rows = list(data.column_names), data.to_pylist()
        elif hasattr(data, "column_names") and hasattr(data, "select_columns"):  # datasets.Dataset
            columns = list(data.column_names)
            keep = [c for c in self.spec.required_columns if c in columns]
            rows = data.select_columns(keep).to_list()
        elif isinstance(data, Iterable) and not isinstance(data, (str, bytes, Mapping)):
            rows = list(data)
            if not all(isinstance(r, Mapping) for r in rows):
                raise DataError(
                    "expected a DataFrame, a datasets.Dataset or a list of dicts (one per applicant)"
                )
            columns = (
                list(dict.fromkeys(k for r in rows for k in r)) if rows else list(self.spec.required_columns)
            )
        else:
            raise DataError(
                f"cannot score a {type(data).__name__}: pass a DataFrame, a Dataset or a list of dicts"
            )
        self.check_columns(columns)
        return rows

    def check_columns(self, columns: Iterable[str]) -> None:
        columns = list(columns)
        missing = [c for c in self.spec.required_columns if c not in columns]
        if missing:
            raise DataError(f"input lacks {len(missing)} column(s) the model reads: {', '.join(missing)}")
        extra = [c for c in columns if c not in self.spec.required_columns and c != self.id_column]
        if extra and not self._reported_extra:
            self._reported_extra = True
            log.info("ignoring %d column(s) the model does not read: %s", len(extra), ", ".join(extra[:20]))

    def texts(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """The model's input text for each record, exactly as the training serializer builds it."""
        return [self.render(self.clean(record)) for record in records]

    def clean(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The serialized fields of one record, with file-format artefacts undone (see `_value`)."""
        return {name: self._value(record.get(name), kind, dtype, name) for name, kind, dtype in self._fields}

    def render(self, clean: Mapping[str, Any]) -> str:
        return self.serializer.render(
            clean, self.tokenizer if self._has_text else None, self.spec.max_length
        )[0]

    def _value(self, value: Any, kind: str, dtype: str, name: str = "") -> Any:
        """Undo what a file format did to a value so it renders as in training (bytes from a CSV
        read as binary, 1.0 for an integer category with gaps, pandas' NA), and read a number
        column as training read it (its `parse`: money, percent, date). A value that is not a
        number there is counted and read as missing, never shown to the model as a word."""
        if value is None or value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, (dict, list, tuple)):
            raise DataError(
                f"column '{name}' holds nested values (an object or a list); flatten it into plain columns"
            )
        if kind == "text":
            return self.serializer.clip_note(value, self._note_chars) if isinstance(value, str) else value
        if kind == "numeric":
            return self._number(value, name)
        if kind != "categorical" or isinstance(value, bool):
            return value
        try:
            if dtype in INT_TYPES and isinstance(value, (float, str, np.floating)):
                number = float(value)
                return int(number) if number.is_integer() else value
            if dtype in FLOAT_TYPES and isinstance(value, (int, str, np.integer)):
                return float(value)
        except (ValueError, OverflowError):
            return value
        if dtype == "bool" and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return value

    def _number(self, value: Any, name: str) -> Any:
        try:
            return parse_value(value, self._parses.get(name))
        except TooBig:
            raise DataError(
                f"column '{name}' holds an integer beyond 64 bits ({str(value)[:24]}); the model reads "
                "it as a number: no number type holds it"
            ) from None
        except NotParsed:
            seen = self.not_numbers.setdefault(name, [])
            if not seen:
                parse = self._parses.get(name)
                log.warning(
                    "column '%s': %r is not %s; read as missing (every such value is counted)",
                    name,
                    value,
                    f"{parse} as in training" if parse else "a number",
                )
            seen.append(value)
            return None

    # -- inference ---------------------------------------------------------------------------
    def logits_for_texts(self, texts: list[str]) -> np.ndarray:
        """The head's raw outputs per text (n, outputs), float32, in the texts' order."""
        from .inference import head_outputs

        batch = self.batch_size or default_batch(self.device)
        return head_outputs(self.model, self.tokenizer, texts, self.spec.max_length, batch, self.device)

    def margins_for_texts(self, texts: list[str]) -> np.ndarray:
        """Logit margin z = logit(default) - logit(no default) per text (binary models)."""
        return binary_margin(self.logits_for_texts(texts))

    def calibrate(self, margin: np.ndarray) -> np.ndarray:
        from .metrics import apply_calibrator

        return np.asarray(
            apply_calibrator(self.spec.calibration, np.asarray(margin, dtype=float)), dtype=float
        )

    def predict_margin(self, data: Any) -> np.ndarray:
        """The transformer's logit margin per applicant (before calibration and stacking)."""
        return self.margins_for_texts(self.texts(self.records(data)))

    def predict_proba(self, data: Any, component: str | None = None) -> np.ndarray:
        """Calibrated probability of default, one per applicant, from the shipped model (the
        hybrid when the folder holds one); `component="transformer"` (or a hybrid component's
        name) asks one part alone. A multiclass model gives (applicants, classes)."""
        if self.spec.task == "regression":
            raise ModelError("a regression model predicts values, not probabilities: use predict")
        return self.outputs_for([self.clean(r) for r in self.records(data)], component)

    def predict(self, data: Any) -> np.ndarray:
        """The predicted class name (binary: positive where PD >= the stored threshold, else 0.5)
        or the predicted value, per applicant."""
        out = self.outputs_for([self.clean(r) for r in self.records(data)])
        return self.predictions_for(out)

    def predictions_for(self, out: np.ndarray) -> np.ndarray:
        """`predict` from what `outputs_for` returned."""
        names = np.asarray(self.spec.label_names, dtype=object)
        if self.spec.task == "regression":
            return out
        if self.spec.task == "multiclass":
            return names[np.argmax(out, axis=1)]
        cut = 0.5 if self.spec.threshold is None else self.spec.threshold
        return names[(out >= cut).astype(int)]

    def outputs_for(self, cleans: list[dict[str, Any]], component: str | None = None) -> np.ndarray:
        """What the model says of records cleaned by `clean`: the PD (binary), class probabilities
        (n, classes) or the predicted value; reason codes occlude fields through this."""
        if self.spec.task == "binary":
            return self.proba_for(cleans, component)
        if (component or "transformer") != "transformer":
            raise ModelError(f"component '{component}' is not in this model; choose from transformer")
        return self.from_logits(self.logits_for_texts([self.render(c) for c in cleans]))

    def from_logits(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (temperature) or values (un-standardized, then mapped
        by the calibrator fitted on validation) from a multiclass or regression head."""
        from .metrics import apply_class_calibrator, apply_value_calibrator

        if self.spec.task == "multiclass":
            return apply_class_calibrator(self.spec.calibration, logits.astype(np.float64))
        scale = self.spec.schema["target_scale"]
        values = logits[:, 0].astype(np.float64) * scale["std"] + scale["mean"]
        return apply_value_calibrator(self.spec.calibration, values)

    def binary_only(self, what: str) -> None:
        if self.spec.task != "binary":
            raise ModelError(f"{what} are for default (binary) models; this model is {self.spec.task}")

    @property
    def components(self) -> list[str]:
        """What `component=` accepts: the shipped model first."""
        parts = ["hybrid", "transformer", *self.hybrid.components] if self.hybrid else ["transformer"]
        return parts

    def frame(self, data: Any) -> pd.DataFrame:
        """The serialized fields of `data`, cleaned as for the text: what stacked baselines read."""
        cleans = [self.clean(r) for r in self.records(data)]
        return pd.DataFrame(cleans, columns=[f for f, _, _ in self._fields])

    def proba_for(self, cleans: list[dict[str, Any]], component: str | None = None) -> np.ndarray:
        """PDs for records already cleaned by `clean` (the occlusion variants of `explain` too):
        the text goes to the transformer, the same values as a frame to the stacked baselines."""
        name = component or self.shipped
        if name not in self.components:
            raise ModelError(
                f"component '{name}' is not in this model; choose from {', '.join(self.components)}"
            )
        frame = pd.DataFrame(list(cleans), columns=[f for f, _, _ in self._fields])
        if self.hybrid is not None and name in self.hybrid.components:
            return self.hybrid.components[name].predict_proba(frame)
        margin = self.margins_for_texts([self.render(c) for c in cleans])
        return self.calibrate(margin) if name == "transformer" else self.hybrid.predict(margin, frame)

    def points_for(self, pd_: np.ndarray) -> np.ndarray:
        from .metrics import pd_to_points

        self.binary_only("scorecard points")
        p = self.spec.points
        return np.asarray(pd_to_points(pd_, p["base"], p["odds"], p["pdo"]), dtype=float)

    def score(self, data: Any, component: str | None = None) -> np.ndarray:
        """Scorecard points (higher = safer), scaled as recorded in credtune.json."""
        self.binary_only("scorecard points")
        return self.points_for(self.predict_proba(data, component))

    def decisions_for(self, pd_: np.ndarray) -> np.ndarray:
        self.binary_only("approve/decline decisions")
        if self.spec.threshold is None:
            raise ModelError(
                "credtune.json records no decision threshold; use predict_proba and your own cut-off"
            )
        return np.where(np.asarray(pd_) < self.spec.threshold, "approve", "decline")

    def decide(self, data: Any) -> np.ndarray:
        """'approve' where the PD is below the threshold chosen on validation, else 'decline'."""
        self.binary_only("approve/decline decisions")
        return self.decisions_for(self.predict_proba(data))

    def explain(self, data: Any, k: int = 4, **kwargs: Any) -> list[list[dict[str, Any]]]:
        """The k fields that raised each applicant's PD the most; see `credtune.explain`."""
        from .explain import explain

        return explain(self, data, k=k, **kwargs)


def check_batch_size(batch_size: Any) -> int:
    """Rows per forward pass: a positive whole number (0 or less would score no row at all)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise DataError(f"--batch-size {batch_size!r}: rows per forward pass must be at least 1")
    return int(batch_size)


def as_scorer(model: CreditScorer | str | Path, allow_pickle: bool = False) -> CreditScorer:
    """A loaded scorer as is, or one loaded from a model folder / Hub repo id."""
    return (
        model
        if isinstance(model, CreditScorer)
        else CreditScorer.from_pretrained(model, allow_pickle=allow_pickle)
    )
