"""A model folder as something read from the internet: found, then checked before anything is loaded.

`resolve_model_folder` finds a local folder or fetches a Hub repo (no pickle files unless asked).
`check_links` refuses a folder in which a symlink leads outside it: loading, scoring or pushing it
would read (or upload) a file of this machine that is no part of the model. `check_labels` refuses
a config.json whose id2label contradicts credtune.json: the positive class would be read from the
wrong logit, and every PD would be 1 - PD.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .contract import FILENAME
from .errors import ModelError


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


def link_root(folder: Path) -> Path:
    """Where the folder's symlinks may lead: the folder itself, or for a Hub cache snapshot
    (whose files are links into the repo's `blobs/`) the repo's cache folder."""
    real = folder.resolve()
    if real.parent.name == "snapshots" and real.parents[1].name.startswith("models--"):
        return real.parents[1]
    return real


def check_links(folder: str | Path, action: str = "load") -> None:
    """Refuse a folder holding a symlink (file or folder) that leads outside it."""
    folder = Path(folder)
    root = link_root(folder)
    for here, dirs, files in os.walk(folder, followlinks=False):
        for name in [*dirs, *files]:
            path = Path(here) / name
            if not path.is_symlink():
                continue
            target = path.resolve()
            if target != root and root not in target.parents:
                rel = path.relative_to(folder).as_posix()
                raise ModelError(
                    f"{folder}: {rel} is a symlink to {target}, outside the model folder; "
                    f"refusing to {action} it (copy the file into the folder if it belongs to the model)"
                )


def check_labels(folder: Path, label_names: list[str]) -> None:
    """config.json's id2label must be credtune.json's label_names (negative, positive) in order,
    or the generic LABEL_0/LABEL_1 of a folder saved without names."""
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{folder}/config.json: not valid JSON ({exc})") from None
    id2label = config.get("id2label") if isinstance(config, dict) else None
    if id2label is None:
        return
    if not isinstance(id2label, dict):
        raise ModelError(f"{folder}/config.json: id2label must be a mapping, got {id2label!r}")
    try:
        labels = [str(id2label[k]) for k in sorted(id2label, key=int)]
    except (TypeError, ValueError):
        raise ModelError(
            f"{folder}/config.json: id2label keys must be class indices, got {id2label!r}"
        ) from None
    generic = [f"LABEL_{i}" for i in range(len(labels))]
    if labels not in (generic, [str(n) for n in label_names]):
        raise ModelError(
            f"{folder}: config.json's id2label {labels} does not match credtune.json's label_names "
            f"{list(label_names)}"
            + (" (negative, positive); the positive class" if len(labels) == 2 else "; a class")
            + " would be read from the wrong logit"
        )
