"""Input files in, artifacts out: the one place that touches the file system's formats.

`reading` reads whole tables for training (through `datasets`) and streams chunks of records for
scoring, with the same checks for both; `writing` writes JSON, folders and part files atomically,
and guards output paths. Steps and orchestrators import from here, never from each other.
"""

from .reading import (
    FORMATS,
    NA_VALUES,
    Source,
    check_file,
    decode_cell,
    delimiter,
    open_table,
    read_table,
    rechunk,
)
from .writing import (
    assemble_parts,
    check_output_file,
    json_default,
    prepare_parts,
    replace_folder,
    write_json_atomic,
    write_part,
)

__all__ = [
    "FORMATS",
    "NA_VALUES",
    "Source",
    "assemble_parts",
    "check_file",
    "check_output_file",
    "decode_cell",
    "delimiter",
    "json_default",
    "open_table",
    "prepare_parts",
    "read_table",
    "rechunk",
    "replace_folder",
    "write_json_atomic",
    "write_part",
]
