"""Scoring: `CreditScorer` for data in memory, `score_file` for files of any size.

Text is rebuilt only from `credtune.json` (the same serializer as in training), so a model
pulled from the Hub scores exactly as it did on the training machine. `score_file` streams its
input in fixed-size chunks, writes each chunk as a part file into a hidden folder beside the
output and assembles the output only at the end: a crash never leaves a file that looks complete,
`resume=True` skips the parts already written, and under `accelerate launch`/`torchrun` each
rank scores every world-th chunk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .contract import FILENAME, ModelSpec, load_spec
from .errors import CredtuneError, DataError, ModelError
from .streaming import assemble_parts, decode_cell, open_table, prepare_parts, write_part

log = logging.getLogger(__name__)
INT_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_TYPES = ("float", "double", "halffloat", "float16", "float32", "float64")


class CreditScorer:
    """A trained credtune model: calibrated PD, scorecard points, decisions and reason codes."""

    def __init__(self, model: Any, tokenizer: Any, spec: ModelSpec, device: Any = None, batch_size: int = 64):
        import torch

        self.model, self.tokenizer, self.spec = model, tokenizer, spec
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).eval()
        self.batch_size = batch_size
        self.serializer = spec.make_serializer()
        self.id_column: str | None = spec.schema.get("id")
        dtypes = {c["name"]: c.get("dtype", "") for c in spec.schema["columns"]}
        self._fields = [(f.name, f.kind, dtypes.get(f.name, "")) for f in self.serializer.fields]
        self._has_text = any(kind == "text" for _, kind, _ in self._fields)
        self._note_chars = (spec.max_length + 1) * 64  # far beyond what the token budget keeps
        self._reported_extra = False
        _set_threads(torch)

    @classmethod
    def from_pretrained(
        cls,
        path_or_repo_id: str | Path,
        *,
        allow_pickle: bool = False,
        trust_remote_code: bool = False,
        device: Any = None,
        batch_size: int = 64,
    ) -> CreditScorer:
        """Load a model folder (or Hub repo id) written by `credtune train`; refuses pickle weights
        unless `allow_pickle`, since unpickling a downloaded file can run code."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = resolve_model_folder(path_or_repo_id, allow_pickle)
        spec = load_spec(folder)
        check_weights(folder, allow_pickle)
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
            model = AutoModelForSequenceClassification.from_pretrained(
                folder, use_safetensors=None if allow_pickle else True, trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the model in {folder}: {str(exc).splitlines()[0]}") from None
        if model.config.num_labels != 2:
            raise ModelError(
                f"{folder}: expected a 2-class classifier, found {model.config.num_labels} labels"
            )
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return cls(model, tokenizer, spec, device=device, batch_size=batch_size)

    # -- input -------------------------------------------------------------------------------
    def records(self, data: Any) -> list[Mapping[str, Any]]:
        """Rows of a DataFrame, list of dicts, datasets.Dataset or Arrow table, checked against
        the columns the model reads (missing ones are an error, extra ones are ignored)."""
        if isinstance(data, pd.DataFrame):
            columns = [str(c) for c in data.columns]
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
        return {name: self._value(record.get(name), kind, dtype) for name, kind, dtype in self._fields}

    def render(self, clean: Mapping[str, Any]) -> str:
        return self.serializer.render(
            clean, self.tokenizer if self._has_text else None, self.spec.max_length
        )[0]

    def _value(self, value: Any, kind: str, dtype: str) -> Any:
        """Undo what a file format did to a value so it renders as in training (bytes from a CSV
        read as binary, 1.0 for an integer category with gaps, pandas' NA)."""
        if value is None or value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if kind == "text":
            return value[: self._note_chars] if isinstance(value, str) else value
        if kind != "categorical" or isinstance(value, bool):
            return value
        try:
            if dtype in INT_TYPES and isinstance(value, (float, str, np.floating)):
                number = float(value)
                return int(number) if number.is_integer() else value
            if dtype in FLOAT_TYPES and isinstance(value, (int, str, np.integer)):
                return float(value)
        except ValueError:
            return value
        if dtype == "bool" and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return value

    # -- inference ---------------------------------------------------------------------------
    def margins_for_texts(self, texts: list[str]) -> np.ndarray:
        """Logit margin z = logit(default) - logit(no default) per text; texts run in batches of
        similar token length (little padding) and come back in their original order. Tokens are
        made a window at a time: token lists of a whole 10,000-row chunk would cost ~300 MB."""
        margins = np.empty(len(texts))
        window = max(16 * self.batch_size, 1024)
        for start in range(0, len(texts), window):
            margins[start : start + window] = self._window_margins(texts[start : start + window])
        return margins

    def _window_margins(self, texts: list[str]) -> np.ndarray:
        import torch

        enc = self.tokenizer(
            texts, truncation=True, max_length=self.spec.max_length, return_attention_mask=False
        )
        ids, types = enc["input_ids"], enc.get("token_type_ids")
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        margins = np.empty(len(texts))
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                width = int(lengths[idx].max())
                input_ids = np.full((len(idx), width), self.tokenizer.pad_token_id, dtype=np.int64)
                type_ids = np.zeros((len(idx), width), dtype=np.int64)
                for row, i in enumerate(idx):
                    span = slice(width - lengths[i], width) if left else slice(0, lengths[i])
                    input_ids[row, span] = ids[i]
                    if types is not None:
                        type_ids[row, span] = types[i]
                positions = np.arange(width)[None, :]
                real = (
                    positions >= (width - lengths[idx])[:, None]
                    if left
                    else positions < lengths[idx][:, None]
                )
                batch = {"input_ids": input_ids, "attention_mask": real.astype(np.int64)}
                if types is not None:
                    batch["token_type_ids"] = type_ids
                logits = self.model(
                    **{k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
                ).logits
                logits = logits.float()
                margins[idx] = (logits[:, 1] - logits[:, 0]).cpu().numpy()
        return margins

    def calibrate(self, margin: np.ndarray) -> np.ndarray:
        from .metrics import apply_calibrator

        return np.asarray(
            apply_calibrator(self.spec.calibration, np.asarray(margin, dtype=float)), dtype=float
        )

    def predict_margin(self, data: Any) -> np.ndarray:
        return self.margins_for_texts(self.texts(self.records(data)))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Calibrated probability of default, one per applicant."""
        return self.calibrate(self.predict_margin(data))

    def points_for(self, pd_: np.ndarray) -> np.ndarray:
        from .metrics import pd_to_points

        p = self.spec.points
        return np.asarray(pd_to_points(pd_, p["base"], p["odds"], p["pdo"]), dtype=float)

    def score(self, data: Any) -> np.ndarray:
        """Scorecard points (higher = safer), scaled as recorded in credtune.json."""
        return self.points_for(self.predict_proba(data))

    def decisions_for(self, pd_: np.ndarray) -> np.ndarray:
        if self.spec.threshold is None:
            raise ModelError(
                "credtune.json records no decision threshold; use predict_proba and your own cut-off"
            )
        return np.where(np.asarray(pd_) < self.spec.threshold, "approve", "decline")

    def decide(self, data: Any) -> np.ndarray:
        """'approve' where the PD is below the threshold chosen on validation, else 'decline'."""
        return self.decisions_for(self.predict_proba(data))

    def explain(self, data: Any, k: int = 4, **kwargs: Any) -> list[list[dict[str, Any]]]:
        """The k fields that raised each applicant's PD the most; see `credtune.explain`."""
        from .explain import explain

        return explain(self, data, k=k, **kwargs)


def _set_threads(torch: Any) -> None:
    """One thread per core this process may run on, unless the user chose with OMP_NUM_THREADS
    (on a machine shared with other jobs, fewer threads than cores can be much faster)."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))))


def resolve_model_folder(path_or_repo_id: str | Path, allow_pickle: bool = False) -> Path:
    """A local folder as is; a Hub repo id through snapshot_download (cached, offline-aware)."""
    path = Path(path_or_repo_id).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(f"{path} is a file; give the model folder (the one with {FILENAME})")
        return path
    text = str(path_or_repo_id)
    if text.startswith((".", "/", "~")) or text.count("/") != 1:
        raise ModelError(f"no model folder at {text}")
    from huggingface_hub import snapshot_download

    ignore = None if allow_pickle else ["*.bin", "*.pt", "*.pth", "*.pkl"]
    try:
        return Path(snapshot_download(text, ignore_patterns=ignore))
    except Exception as exc:  # noqa: BLE001 - hub errors come in many classes
        raise ModelError(
            f"cannot fetch '{text}' from the Hub: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from None


def check_weights(folder: Path, allow_pickle: bool) -> None:
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder} has no config.json; it is not a Hugging Face model folder")
    if any(folder.glob("*.safetensors")):
        return
    if any(folder.glob("pytorch_model*.bin")):
        if not allow_pickle:
            raise ModelError(
                f"{folder} holds only pickle weights (pytorch_model.bin), which can run code when loaded; "
                "convert them to safetensors or pass allow_pickle=True (--allow-pickle) if you trust the source"
            )
        return
    raise ModelError(f"{folder} has no model weights (model.safetensors)")


# -- files -------------------------------------------------------------------------------------


def as_scorer(model: CreditScorer | str | Path, allow_pickle: bool = False) -> CreditScorer:
    """A loaded scorer as is, or one loaded from a model folder / Hub repo id."""
    return (
        model
        if isinstance(model, CreditScorer)
        else CreditScorer.from_pretrained(model, allow_pickle=allow_pickle)
    )


@dataclass
class ScoreResult:
    output: Path
    rows: int  # rows in the output
    scored: int  # rows this process scored in this run (fewer after --resume or with several ranks)
    seconds: float
    main: bool = True  # False on the other ranks under torchrun/accelerate launch

    @property
    def rows_per_second(self) -> float:
        return self.scored / self.seconds if self.seconds else float("inf")


def score_file(
    model: CreditScorer | str | Path,
    input_path: str | Path,
    output_path: str | Path,
    *,
    batch_size: int | None = None,
    chunk_rows: int = 10_000,
    resume: bool = False,
    overwrite: bool = False,
    id_column: str | None = None,
    progress: bool = True,
    allow_pickle: bool = False,
) -> ScoreResult:
    """Score a CSV/Parquet/JSONL file into Parquet or CSV (by suffix) with columns
    id (or `row`), pd, points, decision; never holds more than one chunk in memory."""
    import torch
    from accelerate import PartialState
    from tqdm.auto import tqdm

    # cpu=True where there is no GPU, or torchrun's CPU ranks each think they are alone
    state = PartialState(cpu=not torch.cuda.is_available())
    output = Path(output_path)
    if output.suffix.lower() not in (".parquet", ".pq", ".csv"):
        raise CredtuneError(f"output {output.name}: use a .parquet or .csv file name")
    if output.exists() and not overwrite:
        raise CredtuneError(f"{output} already exists; pass --overwrite to replace it")
    if output.is_dir():
        raise CredtuneError(f"{output} is a directory")
    source = open_table(input_path)
    scorer = as_scorer(model, allow_pickle)
    scorer.device = state.device if state.num_processes > 1 else scorer.device
    scorer.model.to(scorer.device)
    if batch_size:
        scorer.batch_size = batch_size
    scorer.check_columns(source.columns)
    id_name = id_column or (scorer.id_column if scorer.id_column in source.columns else None)
    if id_name and id_name not in source.columns:
        raise DataError(f"--id-column '{id_name}' is not a column of {Path(input_path).name}")
    parts = output.with_name(f".{output.name}.parts")
    meta = _run_meta(scorer, source.path, chunk_rows, id_name)
    if state.is_main_process:
        prepare_parts(parts, meta, resume)
    state.wait_for_everyone()

    started, done, total, n_chunks = time.perf_counter(), 0, 0, 0
    bar = tqdm(
        total=source.rows,
        unit="rows",
        unit_scale=True,
        desc="scoring",
        disable=not (progress and state.is_main_process),
    )
    columns = scorer.spec.required_columns + (
        [id_name] if id_name and id_name not in scorer.spec.required_columns else []
    )
    for i, rows in enumerate(source.chunks(columns, chunk_rows)):
        n_chunks = i + 1
        part = parts / f"part-{i:06d}.parquet"
        if i % state.num_processes == state.process_index and not part.exists():
            pd_ = scorer.predict_proba(rows)
            table = {"pd": pd_, "points": scorer.points_for(pd_)}
            if scorer.spec.threshold is not None:
                table["decision"] = scorer.decisions_for(pd_)
            ids = (
                [decode_cell(r.get(id_name)) for r in rows]
                if id_name
                else range(i * chunk_rows, i * chunk_rows + len(rows))
            )
            write_part({id_name or "row": list(ids), **table}, part)
            done += len(rows)
        total += len(rows)
        bar.update(len(rows))
    bar.close()
    state.wait_for_everyone()
    if state.is_main_process:
        assemble_parts(parts, n_chunks, output)
    state.wait_for_everyone()
    seconds = time.perf_counter() - started
    result = ScoreResult(output, total, done, seconds, state.is_main_process)
    log.debug("scored %d row(s) in %.1f s (%.0f rows/s) -> %s", done, seconds, result.rows_per_second, output)
    return result


def _run_meta(scorer: CreditScorer, path: Path, chunk_rows: int, id_name: str | None) -> dict[str, Any]:
    stat = path.stat()
    spec = json.dumps(scorer.spec.__dict__, sort_keys=True, default=str).encode()
    return {
        "input": str(path.resolve()),
        "size": stat.st_size,
        "mtime": stat.st_mtime_ns,
        "chunk_rows": chunk_rows,
        "id": id_name,
        "model": hashlib.sha256(spec).hexdigest()[:16],
    }
