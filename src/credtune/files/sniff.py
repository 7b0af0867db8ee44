"""What a file really holds, whatever its name says: checked before any reader touches it.

A Parquet file named `.csv`, an Excel workbook saved as `.csv`, a gzip archive or a UTF-16
"Unicode Text" export would otherwise be read as garbage text (or fail deep inside a parser with a
message about bytes); each is named here in one line, for training and scoring alike.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataError

MAGIC = {  # leading bytes -> what the file is, and what to do about it
    b"PAR1": "a Parquet file",
    b"PK\x03\x04": "an Excel workbook (.xlsx) or a zip archive; export it from Excel as 'CSV UTF-8'",
    b"\xd0\xcf\x11\xe0": "an Excel 97-2003 workbook (.xls); export it from Excel as 'CSV UTF-8'",
    b"\x1f\x8b": "gzip-compressed; decompress it first (gunzip)",
    b"\xff\xfe": "UTF-16 text (Excel's 'Unicode Text'); save it as 'CSV UTF-8'",
    b"\xfe\xff": "UTF-16 text (Excel's 'Unicode Text'); save it as 'CSV UTF-8'",
}
NAMES = {"csv": "CSV text", "parquet": "Parquet", "json": "JSON Lines"}
SUFFIX = {"csv": ".csv", "parquet": ".parquet", "json": ".jsonl"}


def sniff(path: Path, kind: str) -> None:
    """Refuse a file whose first bytes are not the format `kind` that its suffix names."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    found = next((what for magic, what in MAGIC.items() if head.startswith(magic)), None)
    if found is None and _utf16_without_bom(head):
        found = MAGIC[b"\xff\xfe"]
    if found == "a Parquet file":
        if kind != "parquet":
            raise DataError(f"{path.name} is a Parquet file, not {NAMES[kind]}; name it .parquet")
        return
    if found is not None:
        raise DataError(f"{path.name} is {found}")
    text = head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n")
    if kind == "parquet":
        shown = text[:24].splitlines()[0] if text else ""
        other = "json" if text.startswith(("{", "[")) else "csv"
        raise DataError(
            f"{path.name} is not a Parquet file (it starts with text: {shown!r}); "
            f"name it {SUFFIX[other]} if it is {NAMES[other]}"
        )
    if kind == "csv" and text.startswith("{") and _first_line_is_json(path):
        raise DataError(f"{path.name} holds JSON Lines, not CSV text; name it .jsonl")


def _utf16_without_bom(head: bytes) -> bool:
    """ASCII text in UTF-16 has a NUL byte after (or before) every character."""
    sample = head[:512]
    return len(sample) >= 8 and sample.count(0) > len(sample) // 3


def _first_line_is_json(path: Path) -> bool:
    with path.open(encoding="utf-8", errors="replace") as handle:
        first = handle.readline()
    try:
        return isinstance(json.loads(first), dict)
    except json.JSONDecodeError:
        return False
