"""Input files in, artifacts out: the one place that touches the file system's formats.

`reading` streams chunks of records for scoring and holds the checks every input gets (`sniff`:
the content is the format the name says); `tables` reads whole tables for training through the
same checks; `writing` writes JSON, folders and part files atomically; `guards` says where an
output may go (never over an input or what credtune did not write, never two runs at once).
Steps and orchestrators import from here, never from each other.
"""

from .guards import (
    OUTPUT_MARK,
    check_not_input,
    check_output_file,
    check_own_folder,
    check_report_dir,
    credtune_output,
    foreign_entries,
    output_lock,
)
from .reading import (
    FORMATS,
    NA_VALUES,
    Source,
    big_integer,
    check_file,
    csv_header,
    decode_cell,
    delimiter,
    json_records,
    open_table,
    rechunk,
)
from .tables import read_table
from .writing import (
    assemble_parts,
    json_default,
    prepare_parts,
    replace_folder,
    write_json_atomic,
    write_part,
)

__all__ = [
    "FORMATS",
    "NA_VALUES",
    "OUTPUT_MARK",
    "Source",
    "assemble_parts",
    "big_integer",
    "check_file",
    "check_not_input",
    "check_output_file",
    "check_own_folder",
    "check_report_dir",
    "credtune_output",
    "csv_header",
    "decode_cell",
    "delimiter",
    "foreign_entries",
    "json_default",
    "json_records",
    "open_table",
    "output_lock",
    "prepare_parts",
    "read_table",
    "rechunk",
    "replace_folder",
    "write_json_atomic",
    "write_part",
]
