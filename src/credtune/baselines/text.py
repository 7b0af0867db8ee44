"""TF-IDF features of free-text note columns, fitted with scikit-learn and applied from plain data.

Fitting uses ``TfidfVectorizer`` (word 1-2 grams, min_df 2, at most 5,000 terms, sublinear tf, l2
rows). What is saved is only the vocabulary (in column order) and the idf weights, plus, for the
tree models, the ``TruncatedSVD`` components that compress a note to 16 numbers; scoring re-does
the tokenizing and weighting with numpy/scipy, so no fitted scikit-learn object is ever stored.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from .common import BaselineFileError, floats, require, strings

log = logging.getLogger(__name__)

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default
MAX_FEATURES = 5000
SVD_COMPONENTS = 16
SETTINGS = {"token_pattern": TOKEN_PATTERN, "lowercase": True, "ngram_range": [1, 2], "sublinear_tf": True}
_TOKEN = re.compile(TOKEN_PATTERN)


@dataclass
class TextFeatures:
    """TF-IDF of one note column; ``components`` (k x vocabulary) is set when an SVD was fitted."""

    column: str
    vocabulary: list[str]
    idf: np.ndarray
    components: np.ndarray | None = None
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {term: i for i, term in enumerate(self.vocabulary)}

    @property
    def n_svd(self) -> int:
        return 0 if self.components is None else self.components.shape[0]

    def tfidf(self, notes: pd.Series | list[str]) -> sparse.csr_matrix:
        """The same matrix ``TfidfVectorizer.transform`` gives: (1 + log count) * idf, rows of unit length."""
        indptr, indices, counts = [0], [], []
        for note in notes:
            tokens = _TOKEN.findall(str(note).lower())
            grams = tokens + [" ".join(pair) for pair in zip(tokens, tokens[1:])]
            found = Counter(self._index[g] for g in grams if g in self._index)
            indices.extend(found.keys())
            counts.extend(found.values())
            indptr.append(len(indices))
        cols = np.asarray(indices, dtype=np.int64)
        data = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self.idf[cols]
        x = sparse.csr_matrix((data, cols, np.asarray(indptr)), shape=(len(indptr) - 1, len(self.vocabulary)))
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).reshape(-1))
        norms[norms == 0.0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ x)

    def svd(self, notes: pd.Series | list[str]) -> np.ndarray:
        """The note as ``n_svd`` numbers (``TruncatedSVD.transform`` of its TF-IDF row)."""
        if self.components is None:
            return np.zeros((len(notes), 0))
        return np.asarray(self.tfidf(notes) @ self.components.T)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "column": self.column,
            **SETTINGS,
            "vocabulary": self.vocabulary,
            "idf": self.idf.tolist(),
        }
        if self.components is not None:
            out["svd_components"] = self.components.tolist()
        return out

    @classmethod
    def from_json(cls, obj: Any, where: str) -> TextFeatures:
        obj = require(obj, dict, where)
        column = require(obj.get("column"), str, f"{where}.column")
        for key, value in SETTINGS.items():
            if obj.get(key) != value:
                raise BaselineFileError(
                    f"{where}.{key}: {obj.get(key)!r} is not supported (expected {value!r})"
                )
        vocabulary = strings(obj.get("vocabulary"), f"{where}.vocabulary")
        if len(set(vocabulary)) != len(vocabulary):
            raise BaselineFileError(f"{where}.vocabulary: repeated terms")
        idf = floats(obj.get("idf"), f"{where}.idf", (len(vocabulary),))
        components = None
        if "svd_components" in obj:
            components = floats(obj["svd_components"], f"{where}.svd_components")
            if components.ndim != 2 or components.shape[1] != len(vocabulary) or not components.shape[0]:
                raise BaselineFileError(
                    f"{where}.svd_components: expected shape (k, {len(vocabulary)}), got {components.shape}"
                )
        return cls(column, vocabulary, idf, components)


def fit_text(txt: pd.DataFrame, *, svd: bool, seed: int) -> list[TextFeatures]:
    """One ``TextFeatures`` per note column that keeps at least one term (the others are left out)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = []
    for column in txt.columns:
        vectorizer = TfidfVectorizer(
            ngram_range=(1, 2),
            min_df=2,
            max_features=MAX_FEATURES,
            sublinear_tf=True,
            token_pattern=TOKEN_PATTERN,
            lowercase=True,
            dtype=np.float64,
        )
        try:
            x = vectorizer.fit_transform(txt[column].tolist())
        except ValueError:  # no term appears in two notes
            log.warning("note column '%s' has no word in two or more rows; left out of the baselines", column)
            continue
        vocabulary = [""] * len(vectorizer.vocabulary_)
        for term, i in vectorizer.vocabulary_.items():
            vocabulary[i] = term
        components = None
        if svd and len(vocabulary) >= 2:
            k = min(SVD_COMPONENTS, len(vocabulary) - 1)
            components = TruncatedSVD(n_components=k, random_state=seed).fit(x).components_.astype(np.float64)
        out.append(TextFeatures(column, vocabulary, vectorizer.idf_.astype(np.float64), components))
    return out


def texts_to_json(features: list[TextFeatures]) -> list[dict[str, Any]]:
    return [f.to_json() for f in features]


def texts_from_json(obj: Any, where: str, columns: tuple[str, ...]) -> list[TextFeatures]:
    items = [TextFeatures.from_json(o, f"{where}[{i}]") for i, o in enumerate(require(obj, list, where))]
    if tuple(f.column for f in items) != columns:
        raise BaselineFileError(
            f"{where}: note columns {[f.column for f in items]} do not match {list(columns)}"
        )
    return items
