"""Record -> text. Pure Python (no torch): the same code runs at training and at scoring time.

A `Serializer` is rebuilt from the `serializer` section of `credtune.json`, so a model pulled
from the Hub renders applicants exactly as it saw them in training. Values can never forge a
field boundary: whitespace is collapsed and any value that contains the template's separator
or a quote is quoted with backslash escapes, so `parse` recovers each field (the explainer and
the property tests rely on this).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

# (line prefix, key/value separator, field suffix, field separator) per template
TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    "compact": ("", ": ", "", "; "),
    "list": ("- ", ": ", "", "\n"),
    "text": ("The ", " is ", ".", " "),
}
BAND_WORDS = ("very low", "low", "typical", "high", "very high")
# quantiles: TabSTAR's "(between A and B, quantile 30-40%)"; magnitude: the decile as a token of its
# own, "5951 [m8]" (TP-BERTa's magnitude tokens, simplified; their embedding rows: `modeling`)
NUMBERS = ("plain", "banded", "quantiles", "magnitude")
MAGNITUDE_TOKENS = tuple(f"[m{i}]" for i in range(10))
_WS = re.compile(r"\s+")
_WORD = re.compile(r"\S+")
NOTES_CUTS = ("head", "head_tail")
_WORD_START = re.compile(r"\s(?=[^\W\d_])")  # a space before a letter
CHARS_PER_TOKEN = 16  # a note longer than (max_length + 1) * 16 characters is clipped before tokenizing

_PII_PATTERNS = [
    ("[EMAIL]", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    ("[IBAN]", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")),
    ("[CARD]", re.compile(r"\b(?:\d{4}[ -]?){3}\d{1,7}\b")),
    ("[ID]", re.compile(r"\b\d{3}-\d{2}-\d{4}\b|\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")),
    ("[PHONE]", re.compile(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\b\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}\b")),
    ("[ACCOUNT]", re.compile(r"\b\d{8,}\b")),
]


def mask_pii(text: str) -> str:
    """Mask e-mail, IBAN, card, national-ID, phone and long account numbers in free text."""
    for token, pattern in _PII_PATTERNS:
        text = pattern.sub(token, text)
    return text


class Tokenizer(Protocol):
    def __call__(self, text: str, **kwargs: Any) -> Mapping[str, Any]: ...


@dataclass
class FieldSpec:
    """One serialized column: its kind, the label the model reads, and optional number bands."""

    name: str
    kind: str  # "numeric" | "categorical" | "text"
    label: str
    bands: list[float] | None = None


@dataclass
class Serializer:
    fields: list[FieldSpec]
    template: str = "compact"
    precision: int = 2
    missing: str = "unknown"
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    mask_pii: bool = False
    numbers: str = "plain"
    notes_cut: str = "head"  # a note over the token budget keeps its start, or its start and end

    def __post_init__(self) -> None:
        if self.numbers not in NUMBERS:
            raise ValueError(f"unknown numbers '{self.numbers}'; choose one of {', '.join(NUMBERS)}")
        if self.notes_cut not in NOTES_CUTS:
            raise ValueError(f"unknown notes_cut '{self.notes_cut}'; choose one of {', '.join(NOTES_CUTS)}")
        if self.template not in TEMPLATES:
            raise ValueError(f"unknown template '{self.template}'; choose one of {', '.join(TEMPLATES)}")
        self.fields = [f if isinstance(f, FieldSpec) else FieldSpec(**f) for f in self.fields]
        _, kv, suffix, sep = TEMPLATES[self.template]
        for spec in self.fields:  # the field boundary is suffix + sep: "text" labels may hold spaces
            # `label + kv` must hold kv only at its end: "loan is" + " is " would parse as "loan"
            bad_kv = (spec.label + kv).find(kv) != len(spec.label)
            if bad_kv or suffix + sep in spec.label or '"' in spec.label or not spec.label.strip():
                raise ValueError(f"field label {spec.label!r} is empty or contains a separator")
        # The structured fields come first so truncation only ever shortens the notes at the end.
        self.fields.sort(key=lambda f: f.kind == "text")

    # -- contract ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Serializer:
        return cls(**dict(spec))

    @property
    def added_tokens(self) -> tuple[str, ...]:
        """Tokens the text holds that a pretrained tokenizer does not know (magnitude tokens)."""
        return MAGNITUDE_TOKENS if self.numbers == "magnitude" else ()

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    # -- rendering ---------------------------------------------------------------------------
    def format_value(self, spec: FieldSpec, value: Any, limit: int | None = None) -> str:
        """The value as the model reads it; with `limit`, a note keeps at most its first `limit`
        characters, so that a 100 kB note costs no more to render than a short one."""
        return self._format(spec, value, limit)[0]

    def _format(self, spec: FieldSpec, value: Any, limit: int | None) -> tuple[str, bool]:
        """The value, and False when a note was clipped to `limit` characters."""
        if _is_missing(value):
            return self.missing, True
        if spec.kind == "numeric":
            return self._format_number(spec, value), True
        if spec.kind == "text":
            note = str(value)
            if self.notes_cut == "head_tail" and limit is not None and len(note) > limit:
                return _note_text(self.clip_note(note, limit), None, self.mask_pii)[0], False
            return _note_text(note, limit, self.mask_pii)
        text = _collapse(str(value))[0]
        return (self.values.get(spec.name, {}).get(text, text) if spec.kind == "categorical" else text), True

    def clip_note(self, note: str, chars: int | None) -> str:
        """A long note cut to `chars` characters before any tokenizing: its start, or with
        `notes_cut: head_tail` its start and its end (what the token budget can keep of each)."""
        if chars is None or len(note) <= chars:
            return note
        if self.notes_cut == "head":
            return note[:chars]
        head, tail = note[: chars // 2 + 256], note[-(chars // 2) :]  # the head is masked, then cut
        start = _WORD_START.search(tail)  # the tail starts at a word: never inside a card number
        return head + " … " + (tail[start.end() :] if start else "")

    def _format_number(self, spec: FieldSpec, value: Any) -> str:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return _WS.sub(" ", str(value)).strip()  # mixed-type cell: keep what the user wrote
        if not math.isfinite(number):
            return self.missing
        text = self._digits(number)
        if self.numbers == "banded" and spec.bands:
            text += f" ({BAND_WORDS[_band(number, spec.bands)]})"
        elif self.numbers == "quantiles" and spec.bands:
            text += f" ({self._quantile(number, spec.bands)})"
        elif self.numbers == "magnitude" and spec.bands:
            text += f" {MAGNITUDE_TOKENS[_band(number, spec.bands, len(MAGNITUDE_TOKENS))]}"
        return text

    def _digits(self, number: float) -> str:
        if number.is_integer() or abs(number) >= 1000:
            return str(int(round(number)))
        text = f"{number:.{self.precision}f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text

    def _quantile(self, number: float, cuts: Sequence[float]) -> str:
        """Where a number sits among the training rows' deciles, in TabSTAR's words."""
        i, step = sum(number > c for c in cuts), 100 // (len(cuts) + 1)
        share = f"quantile {i * step}-{(i + 1) * step if i < len(cuts) else 100}%"
        if i == 0:
            return f"up to {self._digits(cuts[0])}, {share}"
        if i == len(cuts):
            return f"above {self._digits(cuts[-1])}, {share}"
        return f"between {self._digits(cuts[i - 1])} and {self._digits(cuts[i])}, {share}"

    def parts(self, record: Mapping[str, Any], limit: int | None = None) -> list[tuple[FieldSpec, str]]:
        return [(spec, self.format_value(spec, record.get(spec.name), limit)) for spec in self.fields]

    def render(
        self,
        record: Mapping[str, Any],
        tokenizer: Tokenizer | None = None,
        max_length: int | None = None,
    ) -> tuple[str, bool]:
        """Text for one record, and whether its notes were cut to fit `max_length` tokens.

        Only notes are cut, never a structured field. Escaping a note adds characters (and so
        tokens) that its own token count did not see, so the joined text is measured and the
        notes cut again until it fits."""
        if tokenizer is None or max_length is None or not any(s.kind == "text" for s in self.fields):
            return self._join(self.parts(record)), False
        limit = (max_length + 1) * CHARS_PER_TOKEN
        formatted = [(spec, *self._format(spec, record.get(spec.name), limit)) for spec in self.fields]
        head = [(s, v) for s, v, _ in formatted if s.kind != "text"]
        notes = [(s, v, whole) for s, v, whole in formatted if s.kind == "text"]
        empty = head + [(s, "") for s, _, _ in notes]
        budget = max_length - len(tokenizer(self._join(empty))["input_ids"])
        while True:
            truncated, kept, left = False, [], budget
            for spec, note, whole in notes:
                cut = self._cut(note, max(left, 0), tokenizer, whole)
                truncated |= cut != note or not whole
                left -= len(tokenizer(cut, add_special_tokens=False)["input_ids"]) if cut else 0
                kept.append((spec, cut))
            text = self._join(head + kept)
            over = len(tokenizer(text)["input_ids"]) - max_length
            if over <= 0 or budget <= 0:
                return text, truncated
            budget -= over

    def _cut(self, note: str, budget: int, tokenizer: Tokenizer, whole: bool) -> str:
        cut = _cut_to_tokens(note, budget, tokenizer)
        if self.notes_cut == "head" or (cut == note and whole) or budget < 8:
            return cut
        head = _cut_to_tokens(note, budget - budget // 2 - 1, tokenizer)  # one token for the ellipsis
        return f"{head} … {_last_tokens(note, budget // 2, tokenizer)}"

    def __call__(self, record: Mapping[str, Any]) -> str:
        return self.render(record)[0]

    def _join(self, parts: Sequence[tuple[FieldSpec, str]]) -> str:
        prefix, kv, suffix, sep = TEMPLATES[self.template]
        out = []
        for spec, value in parts:
            quote = spec.kind == "text" or _needs_quotes(value, suffix + sep, suffix)
            out.append(f"{prefix}{spec.label}{kv}{_quote(value) if quote else value}{suffix}")
        return sep.join(out)

    # -- reading back ------------------------------------------------------------------------
    def parse(self, text: str) -> dict[str, str]:
        """Split a rendered text back into {label: value}; inverse of `render` on its output."""
        return {key: value for key, value, _ in self._walk(text)}

    def value_spans(self, text: str) -> list[tuple[int, int]]:
        """The character span [start, end) of each field's value in a rendered text, in field
        order (a quoted value's span includes its quotes): what field masking hides from the
        model in `credtune pretrain`, so that it predicts a whole value from the other fields."""
        return [span for _, _, span in self._walk(text)]

    def _walk(self, text: str) -> list[tuple[str, str, tuple[int, int]]]:
        prefix, kv, suffix, sep = TEMPLATES[self.template]
        out: list[tuple[str, str, tuple[int, int]]] = []
        pos = 0
        while pos < len(text):
            if not text.startswith(prefix, pos):
                raise ValueError(f"unexpected text at {pos}: {text[pos : pos + 20]!r}")
            key_end = text.index(kv, pos + len(prefix))
            key = text[pos + len(prefix) : key_end]
            start = pos = key_end + len(kv)
            if text.startswith('"', pos):
                value, pos = _unquote(text, pos)
                end = pos
                pos += len(suffix)
            else:
                end = text.find(suffix + sep, pos)
                end = len(text) - len(suffix) if end < 0 else end
                value, pos = text[pos:end], end + len(suffix)
            out.append((key, value, (start, end)))
            if text.startswith(sep, pos):
                pos += len(sep)
        return out


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def band_parts(numbers: str) -> int:
    """How many equal-count bands of the training rows a `numbers` mode reads: deciles for the
    quantile text and the magnitude tokens, one band per word otherwise."""
    return {"quantiles": 10, "magnitude": len(MAGNITUDE_TOKENS)}.get(numbers, len(BAND_WORDS))


def _band(number: float, cuts: Sequence[float], levels: int = len(BAND_WORDS)) -> int:
    """Which of `levels` ordered bands the number falls in (cuts from the training rows)."""
    index = sum(number > c for c in cuts)
    return min(round(index * (levels - 1) / max(len(cuts), 1)), levels - 1)


def _needs_quotes(value: str, boundary: str, suffix: str) -> bool:
    return (
        boundary in value
        or '"' in value
        or "\\" in value
        or (suffix and value.endswith(suffix))
        or value != value.strip()
    )


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(text: str, pos: int) -> tuple[str, int]:
    chars, i = [], pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            chars.append(text[i + 1])
            i += 2
        elif ch == '"':
            return "".join(chars), i + 1
        else:
            chars.append(ch)
            i += 1
    raise ValueError("unterminated quoted value")


def _collapse(text: str, limit: int | None = None) -> tuple[str, bool]:
    """Whitespace runs collapsed to one space, and whether all of `text` was used: with `limit`,
    only the first words up to about `limit` characters are read."""
    if limit is None or len(text) <= limit:
        return " ".join(text.split()), True
    words, size = [], 0
    for match in _WORD.finditer(text):
        words.append(match.group())
        size += len(words[-1]) + 1
        if size > limit:
            return " ".join(words), False
    return " ".join(words), True


def _note_text(raw: str, limit: int | None, mask: bool) -> tuple[str, bool]:
    """A note's first words, PII-masked, and whether it is whole. A clipped note is read a little
    beyond `limit` and masked before it is cut to `limit`, so a card number or IBAN cut in half
    at the end of what was read (and so left unmasked) is never kept."""
    if limit is None:
        text = _collapse(raw)[0]
        return (mask_pii(text) if mask else text), True
    window = limit + 256
    while True:
        text, complete = _collapse(raw, window)
        if mask:
            text = mask_pii(text)
        if complete:
            return text, True
        if len(text) >= limit + 128:  # masking shortens text: read on until the cut is clear of the end
            return text[:limit], False
        window *= 2


def _last_tokens(note: str, budget: int, tokenizer: Tokenizer) -> str:
    """Longest suffix of `note` within `budget` tokens (the mirror of `_cut_to_tokens`)."""
    size = (budget + 1) * 6
    while True:
        piece = note[-size:]
        offsets = tokenizer(piece, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        if len(offsets) > budget:
            start = offsets[len(offsets) - budget][0]
            if start and not piece[start - 1].isspace():  # begin at a whole word
                start = next((i for i in range(start, len(piece)) if piece[i].isspace()), len(piece))
            return piece[start:].lstrip()
        if len(piece) == len(note):
            return note
        size *= 4


def _cut_to_tokens(note: str, budget: int, tokenizer: Tokenizer) -> str:
    """Longest prefix of `note` within `budget` tokens. Only a piece of the note that surely
    holds more than `budget` tokens is tokenized (about 6 characters a token in prose; the piece
    grows when the note's tokens are longer), so a 100 kB note costs no more than a short one."""
    if budget <= 0 or not note:
        return ""
    size = (budget + 1) * 6
    while True:
        piece = note[:size]
        offsets = tokenizer(piece, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        if len(offsets) > budget:
            return piece[: offsets[budget - 1][1]].rstrip()
        if len(piece) == len(note):
            return note
        size *= 4
