"""Formatted values read as what they are: numbers, money, percentages and dates written as text.

Real exports carry amounts as "$25,000.00", rates as "13.5%" and dates as "31-Mar-97"; read as
text they would be serialized as categories and one-hot encoded by the baselines. A column is
parsed only when every value in it fits one format (`detect`), and the format is recorded per
column in credtune.json (`parse`), so scoring reads a value exactly as training did: the very same
`parse_value` runs on each distinct value at training and on each cell at scoring. Pure Python:
the serializer side of the contract imports no model code.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

INT64_MAX = 2**63 - 1
NUMBER = re.compile(r"^[-+]?(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_SPECIAL = re.compile(r"^[-+]?(?:inf|infinity|nan)$", re.IGNORECASE)  # what pandas reads as numbers too
_MONEY = re.compile(
    r"^(?P<neg>\()?(?P<sign>[-+])?\s*(?P<cur>[$€£¥]|USD|EUR|GBP)?\s*(?P<sign2>[-+])?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*(?P<cur2>[$€£¥]|USD|EUR|GBP)?(?P<close>\))?$"
)
_PERCENT = re.compile(r"^(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*%?$")
_INTEGER = re.compile(r"^[-+]?\d+$")
# One format per column; day-first before month-first, as most of the world writes dates.
DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d-%b-%y",
    "%d-%b-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%b-%Y",
    "%b-%y",
    "%b %Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%Y-%m",
)
DATE_ISO = "date"  # a column already typed as dates (Parquet date/timestamp), or ISO text
PARSES = ("number", "money", "percent", DATE_ISO)


class NotParsed(ValueError):
    """A value that does not fit its column's format (a word in a number column, say)."""


class TooBig(ValueError):
    """An integer beyond 64 bits: an identifier, not an amount; no number type holds it exactly."""


def check_parse(parse: Any) -> str | None:
    """The parse name if credtune knows it ("number", "money", "percent", "date", "date:<strftime>")."""
    if parse is None:
        return None
    if not isinstance(parse, str):
        raise ValueError(f"parse must be a string, got {parse!r}")
    if parse in PARSES:
        return parse
    if parse.startswith("date:") and "%" in parse:
        try:
            dt.datetime(2001, 2, 3, 4, 5, 6).strftime(parse[5:])
        except ValueError as exc:
            raise ValueError(f"parse '{parse}': {exc}") from None
        return parse
    raise ValueError(f"parse '{parse}' is not one of {', '.join(PARSES)} or date:<format>")


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def plain_number(value: Any) -> int | float:
    """A number as training read it: native numbers as they are, text only if it is a plain number."""
    if isinstance(value, bool):
        raise NotParsed(str(value))
    if isinstance(value, int):
        if abs(value) > INT64_MAX:
            raise TooBig(str(value))
        return value
    if isinstance(value, float):
        return value
    if hasattr(value, "dtype") and hasattr(value, "item"):  # numpy scalar
        return value.item()
    text = str(value).strip()
    if NUMBER.match(text):
        if _INTEGER.match(text):
            number = int(text)
            if abs(number) > INT64_MAX:
                raise TooBig(text)
            return number
        return float(text)
    if _SPECIAL.match(text):
        return float(text)
    raise NotParsed(text)


def parse_value(value: Any, parse: str | None) -> Any:
    """`value` read by its column's `parse` (None: a plain number); None when missing.
    Raises NotParsed when the value does not fit, TooBig for an integer beyond 64 bits."""
    if is_missing(value):
        return None
    if parse is None or parse == "number":
        return plain_number(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not parse.startswith(DATE_ISO):
        return plain_number(value)
    if parse == "money":
        return _money(str(value).strip())
    if parse == "percent":
        match = _PERCENT.match(str(value).strip())
        if not match:
            raise NotParsed(str(value))
        return float(match.group("num"))
    return _date(value, parse)


def _money(text: str) -> float:
    match = _MONEY.match(text)
    if not match or (match.group("neg") is None) != (match.group("close") is None):
        raise NotParsed(text)
    if match.group("cur") and match.group("cur2"):
        raise NotParsed(text)
    number = float(match.group("num").replace(",", ""))
    negative = bool(match.group("neg")) or "-" in (match.group("sign") or "", match.group("sign2") or "")
    return -number if negative else number


def _date(value: Any, parse: str) -> int:
    """A date as the sortable integer YYYYMMDD (20110331), readable in the text and ordered as time."""
    if isinstance(value, (dt.date, dt.datetime)):
        day = value
    elif hasattr(value, "to_pydatetime"):  # pandas Timestamp
        day = value.to_pydatetime()
    else:
        text = str(value).strip()
        if "%Y" in parse and not re.search(r"\d{4}", text):
            raise NotParsed(text)  # "%Y" alone would read "5-3" as the year 5
        try:
            day = (
                dt.date.fromisoformat(text[:10])
                if parse == DATE_ISO
                else dt.datetime.strptime(text, parse[5:])
            )
        except ValueError:
            raise NotParsed(text) from None
    return day.year * 10_000 + day.month * 100 + day.day


def detect(values: Sequence[str]) -> str | None:
    """The one format every value of a text column fits, or None (keep the column as text).

    Plain numbers must not start with a zero ("02134" is a code, not a number); money needs a
    currency sign or thousands separators somewhere in the column, a rate a "%"."""
    texts = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if not texts:
        return None
    if all(NUMBER.match(t) for t in texts) and not any(_leading_zero(t) for t in texts):
        return "number"
    marked = any(re.search(r"[$€£¥,]|USD|EUR|GBP", t) for t in texts)
    if marked and all(_MONEY.match(t) for t in texts) and all(_fits(t, "money") for t in texts):
        return "money"
    if all(_PERCENT.match(t) for t in texts) and any(t.endswith("%") for t in texts):
        return "percent"
    return detect_date(texts)


def detect_date(texts: Sequence[str]) -> str | None:
    """The first date format that reads every value (tried on a few values first, so a column of
    words costs a few attempts, not one per row and format)."""
    sample = texts[:50]
    if not any(ch.isdigit() for ch in sample[0]):
        return None
    for fmt in DATE_FORMATS:
        parse = f"date:{fmt}"
        if all(_fits(t, parse) for t in sample) and all(_fits(t, parse) for t in texts):
            return parse
    return None


def ambiguous_day_month(texts: Iterable[str], parse: str) -> bool:
    """True when a day-first column reads just as well month-first (every day is 12 or less)."""
    swapped = {"date:%d/%m/%Y": "date:%m/%d/%Y", "date:%d/%m/%y": "date:%m/%d/%y"}.get(parse)
    return swapped is not None and all(_fits(t, swapped) for t in texts)


def _fits(text: str, parse: str) -> bool:
    try:
        parse_value(text, parse)
    except ValueError:
        return False
    return True


def _leading_zero(text: str) -> bool:
    digits = text.lstrip("+-")
    return len(digits) > 1 and digits[0] == "0" and digits[1].isdigit()


_ID_WORD = re.compile(r"(?:^|[_\s.-])(?:id|no|nr|num|number|key|ref)$|^id(?:$|[_\s.-])", re.IGNORECASE)
_ID_CAMEL = re.compile(r"[a-z]I[Dd]$")


def looks_like_id_name(name: str) -> bool:
    """'member_id', 'LoanID', 'account no': a name that says the column identifies a row."""
    return bool(_ID_WORD.search(name) or _ID_CAMEL.search(name))
