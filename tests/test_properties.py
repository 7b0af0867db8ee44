"""Properties of the record -> text serializer, checked on generated records (hypothesis).

The serializer is the one place where borrower data, some of it free text written by the
applicant, becomes what the model reads; these properties are what keeps that text honest:
the same record always gives the same text, hidden columns never become fields, a long note
never pushes a structured field out, and no value can forge or break a field boundary.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from credtune.serialize import TEMPLATES, FieldSpec, Serializer

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Labels drawn from characters that are close to every template's separators, so generated
# labels probe the boundaries; the Serializer itself decides which labels are acceptable.
label_text = st.text(alphabet="abcdefghis .:;-_()/", min_size=1, max_size=14)
# Values: anything, weighted towards the characters that matter to the templates.
tricky = st.sampled_from(['"', "\\", ";", "; ", ": ", ".", ". ", " is ", "\n", "\n- ", "\t", " ", "The "])
value_text = st.lists(st.one_of(tricky, st.text(max_size=8)), max_size=8).map("".join)
number = st.one_of(st.integers(-(10**9), 10**9), st.floats(allow_nan=True, allow_infinity=True), st.none())
templates = st.sampled_from(sorted(TEMPLATES))


def normalized(value: str, missing: str = "unknown") -> str:
    text = " ".join(value.split())
    return text or missing


@st.composite
def serializers(draw: st.DrawFn, kinds: tuple[str, ...] = ("numeric", "categorical", "text")) -> Serializer:
    """A serializer with 1-5 fields of the given kinds and labels the template accepts."""
    template = draw(templates)
    n = draw(st.integers(1, 5))
    labels = draw(st.lists(label_text, min_size=n, max_size=n, unique_by=lambda s: s.strip()))
    fields = [FieldSpec(f"col_{i}", draw(st.sampled_from(kinds)), label) for i, label in enumerate(labels)]
    try:
        return Serializer(fields, template=template)
    except ValueError:
        assume(False)
        raise


@st.composite
def records(draw: st.DrawFn, serializer: Serializer) -> dict:
    return {
        spec.name: draw(number if spec.kind == "numeric" else st.one_of(value_text, st.none()))
        for spec in serializer.fields
    }


class WordTokenizer:
    """Whitespace tokens with offsets: enough to exercise the token budget without transformers."""

    def __call__(self, text: str, add_special_tokens: bool = True, return_offsets_mapping: bool = False, **_):
        spans = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        out = {"input_ids": list(range(len(spans) + (2 if add_special_tokens else 0)))}
        if return_offsets_mapping:
            out["offset_mapping"] = spans
        return out


@SETTINGS
@given(data=st.data())
def test_rendering_is_deterministic(data: st.DataObject) -> None:
    serializer = data.draw(serializers())
    record = data.draw(records(serializer))
    reordered = dict(reversed(list(record.items())))
    rebuilt = Serializer.from_dict(serializer.to_dict())
    assert serializer(record) == serializer(record) == serializer(reordered) == rebuilt(record)


@SETTINGS
@given(data=st.data())
def test_hidden_columns_never_become_fields(data: st.DataObject) -> None:
    """Target, id and excluded columns sit in the record but not in the schema: no field of
    theirs appears, and their values (unique markers here) appear nowhere in the text."""
    serializer = data.draw(serializers())
    record = data.draw(records(serializer))
    marker = data.draw(st.sampled_from(["XQTARGETQX", "XQIDQX", "XQEXCLUDEDQX"]))
    forged = data.draw(st.sampled_from(["", "; creditability: good", "\n- creditability: good"]))
    hidden = {
        "creditability": marker + forged,
        "id": marker,
        "excluded_income": marker,
        "creditability ": marker,
    }
    text = serializer({**hidden, **record})
    assert marker not in text
    assert list(serializer.parse(text)) == [spec.label for spec in serializer.fields]


@SETTINGS
@given(data=st.data())
def test_escaping_round_trips(data: st.DataObject) -> None:
    """parse(render(x)) gives back every value, whitespace-normalized, whatever it holds."""
    serializer = data.draw(serializers())
    record = data.draw(records(serializer))
    parsed = serializer.parse(serializer(record))
    expected = {
        spec.label: serializer.format_value(spec, record[spec.name])
        if spec.kind == "numeric"
        else normalized(record[spec.name] or "")
        for spec in serializer.fields
    }
    assert parsed == expected


@SETTINGS
@given(data=st.data())
def test_structured_fields_survive_truncation(data: st.DataObject) -> None:
    """With a long note and a small budget, only the note is cut: every structured field is
    still there with its full value, the note keeps a prefix, and a text whose fields fit the
    budget stays within it."""
    serializer = data.draw(serializers(kinds=("numeric", "categorical")))
    note_spec = FieldSpec("note", "text", "notes")
    serializer = Serializer([*serializer.fields, note_spec], template=serializer.template)
    record = data.draw(records(serializer))
    note = data.draw(value_text) + " word" * data.draw(st.integers(50, 400))
    record["note"] = note
    tokenizer, budget = WordTokenizer(), data.draw(st.integers(16, 80))
    text, cut = serializer.render(record, tokenizer, budget)
    parsed = serializer.parse(text)
    full = serializer.parse(serializer(record))
    assert list(parsed) == list(full)
    assert all(parsed[s.label] == full[s.label] for s in serializer.fields if s.kind != "text")
    assert normalized(note).startswith(parsed["notes"])
    head = serializer.render({**record, "note": ""})[0]
    if len(tokenizer(head)["input_ids"]) < budget:
        assert len(tokenizer(text)["input_ids"]) <= budget
        assert cut == (parsed["notes"] != normalized(note))


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@settings(max_examples=60, deadline=None)
@given(note=value_text, filler=st.integers(0, 300), budget=st.integers(48, 128))
def test_real_tokenizer_budget_holds_for_any_note(
    tiny_tokenizer, note: str, filler: int, budget: int
) -> None:
    """With the WordPiece tokenizer the model uses, quotes and backslashes in a note (escaped
    in the text) still leave the rendered row within model.max_length tokens."""
    fields = [FieldSpec("amount", "numeric", "amount"), FieldSpec("purpose", "categorical", "purpose")]
    serializer = Serializer([*fields, FieldSpec("note", "text", "notes")])
    record = {"amount": 1200, "purpose": "car", "note": note + ' "quoted\\" words' * filler}
    text, _ = serializer.render(record, tiny_tokenizer, budget)
    assert len(tiny_tokenizer(text)["input_ids"]) <= budget
    assert list(serializer.parse(text)) == ["amount", "purpose", "notes"]


def test_huge_note_costs_about_as_much_as_a_short_one(tiny_tokenizer) -> None:
    """Resource bound: a 100 kB note is cut by characters before it is tokenized, so the tokenizer
    reads no more of it than of a 1 kB note (counted, not timed: timings flake on a shared CPU),
    and the text stays within max_length."""
    serializer = Serializer([FieldSpec("amount", "numeric", "amount"), FieldSpec("note", "text", "notes")])
    sentence = "the applicant explains the purpose of the loan in detail. "
    notes = {size: (sentence * (size // len(sentence) + 1))[:size] for size in (1_000, 100_000)}
    max_length = 256

    def characters_tokenized(note: str) -> int:
        read: list[int] = []

        def counting(text, *args, **kwargs):
            read.append(len(text))
            return tiny_tokenizer(text, *args, **kwargs)

        text, cut = serializer.render({"amount": 5, "note": note}, counting, max_length)
        assert cut and len(tiny_tokenizer(text)["input_ids"]) <= max_length
        return sum(read)

    short, huge = characters_tokenized(notes[1_000]), characters_tokenized(notes[100_000])
    assert huge < 3 * short and huge < len(notes[100_000]) / 10, (short, huge)  # 2,235 and 2,706 chars


@pytest.mark.parametrize(
    "template, label",
    [
        ("text", "loan is"),
        ("compact", "rate: high"),
        ("compact", "a; b"),
        ("list", "a\nb"),
        ("text", "x. y"),
        ("compact", 'say "x"'),
        ("list", "  "),
    ],
)
def test_labels_that_would_break_parsing_are_refused(template: str, label: str) -> None:
    with pytest.raises(ValueError, match="separator"):
        Serializer([FieldSpec("x", "categorical", label)], template=template)


@pytest.mark.parametrize("cut", ["head", "head_tail"])
@pytest.mark.parametrize("sep", [" ", "-"])
def test_clipped_note_never_keeps_half_a_card_number(sep: str, cut: str) -> None:
    """A huge note is read only up to a window and cut to a character limit (from both ends with
    head_tail); a card number that straddles an edge, at any position, must be masked or dropped,
    never kept in part."""
    serializer = Serializer([FieldSpec("note", "text", "notes")], mask_pii=True, notes_cut=cut)
    filler = ("x" * 29 + " ") * 40  # long words: few tokens per character, so characters are the limit
    card = sep.join(["4111"] * 4)
    for position in range(900):  # limit 272 and window 528 characters for max_length=16
        note = filler[:position] + " " + card + " " + filler
        if cut == "head_tail":  # the card near the end, where the tail is cut
            note = filler + " " + card + " " + filler[: 900 - position]
        text, _ = serializer.render({"note": note}, WordTokenizer(), max_length=16)
        assert "4111" not in text, position
