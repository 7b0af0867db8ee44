"""The ``Component`` base class: a fitted baseline that predicts P(bad), saves itself as plain files
and is rebuilt from them with identical predictions.

Subclasses only say how to predict from their parameters and how to write and read their files;
the file names, hashes and the ``meta`` dict (what a model folder records about the component) are
handled here once, so every component is checked the same way on load.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .common import BaselineFileError, Columns, load_json, require, safe_name, sha256

FORMAT_VERSION = 1


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


class Component(ABC):
    """A fitted baseline. ``predict_proba(df)`` is P(y=1) per row; columns absent from ``df`` are missing."""

    kind: ClassVar[str]
    #: role -> file name suffix; the file name is ``prefix + suffix``
    files: ClassVar[dict[str, str]] = {"params": ".json"}
    #: distributions whose versions are recorded in ``meta["versions"]``
    libraries: ClassVar[tuple[str, ...]] = ()

    def __init__(self, columns: Columns, n_jobs: int = 1) -> None:
        self.columns = columns
        self.n_jobs = n_jobs

    @property
    def name(self) -> str:
        return self.kind

    def __repr__(self) -> str:
        c = self.columns
        counts = f"{len(c.numeric)} numeric, {len(c.categorical)} categorical, {len(c.text)} text"
        return f"<{type(self).__name__} {counts}>"

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(y=1) for every row of ``df`` as a float64 array of shape (len(df),)."""
        num, cat, txt = self.columns.frames(df)
        return np.asarray(self._predict(num, cat, txt), dtype=np.float64).reshape(-1)

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """The same as ``predict_proba``: one call for every target kind (see ``tasks.TaskModel``)."""
        return self.predict_proba(df)

    @abstractmethod
    def _predict(self, num: pd.DataFrame, cat: pd.DataFrame, txt: pd.DataFrame) -> np.ndarray: ...

    @abstractmethod
    def _write(self, paths: dict[str, Path]) -> None:
        """Write one file per role in ``files``."""

    @classmethod
    @abstractmethod
    def _read(cls, paths: dict[str, Path], n_jobs: int) -> Component:
        """Rebuild from files whose hashes have been checked; raise BaselineFileError on bad content."""

    def save(self, folder: Path, prefix: str | None = None) -> dict[str, Any]:
        """Write this component's files into ``folder`` (named ``prefix`` + suffix, default prefix the
        kind) and return its JSON-able ``meta``: kind, format, file names, their SHA-256 and versions."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        prefix = safe_name(prefix or self.kind, "prefix")
        names = {role: prefix + suffix for role, suffix in self.files.items()}
        self._write({role: folder / n for role, n in names.items()})
        versions = {lib: package_version(lib) for lib in ("credtune", "numpy", *self.libraries)}
        return {
            "kind": self.kind,
            "format": FORMAT_VERSION,
            "files": names,
            "sha256": {n: sha256(folder / n) for n in names.values()},
            "versions": versions,
        }

    @classmethod
    def load(cls, folder: Path, meta: dict[str, Any], n_jobs: int = 1) -> Component:
        return cls._read(checked_paths(cls, Path(folder), meta), n_jobs)


def checked_paths(cls: type[Component], folder: Path, meta: Any) -> dict[str, Path]:
    """The component's files named in ``meta``, after checking that each exists and is unchanged."""
    meta = require(meta, dict, f"{cls.kind} meta")
    fmt = meta.get("format")
    if not isinstance(fmt, int) or isinstance(fmt, bool) or not 1 <= fmt <= FORMAT_VERSION:
        raise BaselineFileError(
            f"{cls.kind} meta: format {fmt!r} is not supported (this credtune reads format {FORMAT_VERSION})"
        )
    files = require(meta.get("files"), dict, f"{cls.kind} meta.files")
    if set(files) != set(cls.files):
        raise BaselineFileError(
            f"{cls.kind} meta.files: expected roles {sorted(cls.files)}, got {sorted(files)}"
        )
    hashes = require(meta.get("sha256"), dict, f"{cls.kind} meta.sha256")
    paths = {}
    for role in cls.files:
        name = safe_name(files[role], f"{cls.kind} meta.files.{role}")
        path = folder / name
        if not path.is_file():
            raise BaselineFileError(f"{cls.kind}: file {name} is missing from {folder}")
        if hashes.get(name) != sha256(path):
            raise BaselineFileError(
                f"{cls.kind}: file {name} does not match the hash recorded when it was saved "
                "(truncated or edited); refit or restore the model folder"
            )
        paths[role] = path
    return paths


def read_params(cls: type[Component], path: Path) -> tuple[dict[str, Any], Columns]:
    """The component's JSON parameters, checked to be of this kind, and its input columns."""
    params = require(load_json(path), dict, path.name)
    if params.get("kind") != cls.kind:
        raise BaselineFileError(f"{path.name}: kind is {params.get('kind')!r}, expected '{cls.kind}'")
    return params, Columns.from_json(params.get("columns"), f"{path.name}: columns")
