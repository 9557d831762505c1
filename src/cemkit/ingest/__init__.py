"""Client data in: read a messy survey export, map its columns to the pack, clean, quarantine, mask, weight
and join operational (O-data) files, with every input row accounted for.

The modules, in the order the data flows through them (each imports only those above it):

- :mod:`~cemkit.ingest.cells`: cell-level helpers (NFKC, missing tokens, distinct values of a column)
- :mod:`~cemkit.ingest.headers`: understanding a header (normalise, platform columns, time-taken column)
- :mod:`~cemkit.ingest.delimited`: delimited text (encoding from the whole file, true row and line numbers)
- :mod:`~cemkit.ingest.readers`: :func:`read_table` (xlsx, sav, parquet, title rows; the reader per suffix)
- :mod:`~cemkit.ingest.values`: reading scores, dates, durations; label scales (answers in words)
- :mod:`~cemkit.ingest.mapping`: the mapping YAML (:class:`ColumnMapping`, :func:`load_mapping`)
- :mod:`~cemkit.ingest.understand`: a header read as a question (numbering, scale hint, everyday words) and
  what a column's values are
- :mod:`~cemkit.ingest.stages`: stage labels matched to the pack's stages by meaning
  (:func:`propose_stage_values`)
- :mod:`~cemkit.ingest.match`: headers matched to the pack (:func:`propose_mapping`)
- :mod:`~cemkit.ingest.draft`: ``cemkit map`` (:func:`map_draft`, :func:`map_command`, :func:`write_mapping_yaml`)
  and the ``mapping.used.yaml`` of an unattended run
- :mod:`~cemkit.ingest.clean`: resolving the columns and cleaning them into the work state
- :mod:`~cemkit.ingest.gate`: the privacy gate every text column passes (masking, pseudonyms, controls)
- :mod:`~cemkit.ingest.quality`: row checks in order (:data:`REASONS`), speeders, straightliners, dedupe,
  the quarantine table
- :mod:`~cemkit.ingest.odata`: O-data read, aggregated per customer (:data:`AGGREGATES`) and joined
- :mod:`~cemkit.ingest.tables`: the used rows of a file into the response table, weights, contacts, counts
- :mod:`~cemkit.ingest.flow`: :func:`prepare` (every step in order, the accounting, the outputs)
- :mod:`~cemkit.ingest.several`: several files stacked, ids repeated across files kept once, accounts summed
- :mod:`~cemkit.ingest.evaluate`: ``cemkit eval-mapping`` (the draft and the unattended run scored against
  exports with a known mapping)

Each module's docstring describes its part of the contract (formats, mapping keys, quarantine reasons,
accounting keys).
"""

from __future__ import annotations

from .draft import map_cli, map_command, map_draft, write_mapping_yaml
from .flow import Prepared, prepare
from .headers import normalise_header
from .mapping import ColumnMapping, load_mapping
from .match import propose_mapping
from .odata import AGGREGATES
from .quality import REASONS
from .readers import READERS, Reader, data_files, read_table
from .stages import propose_stage_values
from .values import parse_date, parse_duration, parse_score

__all__ = [
    "AGGREGATES",
    "READERS",
    "REASONS",
    "ColumnMapping",
    "Prepared",
    "Reader",
    "data_files",
    "load_mapping",
    "map_cli",
    "map_command",
    "map_draft",
    "normalise_header",
    "parse_date",
    "parse_duration",
    "parse_score",
    "prepare",
    "propose_mapping",
    "propose_stage_values",
    "read_table",
    "write_mapping_yaml",
]
