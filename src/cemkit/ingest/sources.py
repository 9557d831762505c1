"""Where the streaming ingest's record batches come from when the file is not UTF-8 text: a Parquet file, or
delimited text in GBK/GB18030 (or GBK with UTF-8 records in it), each giving what the whole-file reader gives
(:func:`cemkit.ingest.readers.read_table`), a batch at a time (:mod:`cemkit.ingest.batches` numbers the
records and cuts the batches).

Parquet: read row group by row group (pyarrow's ``ParquetFile.iter_batches``), every column as text by the
same function as the whole-file reader (:func:`parquet_frame`); a record's row is its position + 2, as in
memory (the header is row 1; Parquet has no line breaks to count).

GBK: the bytes are decoded as :func:`cemkit.ingest.delimited._decode_lines` decodes the whole file — line by
line, UTF-8 where a line is valid UTF-8, else GB18030 — a few MiB at a time (cut at a line break), re-encoded
as UTF-8 and handed to pyarrow's streaming CSV parser (:class:`Transcoded`). Line breaks are kept, so every
record keeps its true row and line, and ragged records are found and quarantined as in UTF-8 text. The whole
file's decoder takes one shortcut: when no line holds what looks like UTF-8 Chinese and the whole file
decodes as GB18030, it decodes it all as GB18030 — then a line that is valid UTF-8 too (accented Latin,
say) reads as GB18030. The stream counts such lines; when there are some, the file is scanned for that
pattern at the end and, when the shortcut would have applied, :class:`NotStreamed` (read whole instead).
A line that is neither UTF-8 nor GB18030 stops the stream (the whole-file reader then tries other
encodings, or refuses the file naming that line). UTF-16 is read whole.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InputError
from ..privacy import file_name
from .cells import _clean_names, _to_text
from .delimited import _UTF8_RUN, SAMPLE_BYTES, _decodes, _names, sniff

#: pandas' index columns in a Parquet file written by pandas (not client data)
_INDEX = re.compile(r"__index_level_\d+__")
#: bytes decoded at a time (cut at the last line break)
CHUNK_BYTES = 4 << 20
#: file suffixes read as Parquet
PARQUET_SUFFIXES = (".parquet", ".pq")
#: records read from a Parquet file at a time
PARQUET_BATCH = 65_536


# --- Parquet ---------------------------------------------------------------------------------------
def parquet_columns(schema: pa.Schema) -> tuple[list[int], list[str]]:
    """The data columns of a Parquet file (pandas' index columns left out) and their clean names."""
    keep = [i for i, n in enumerate(schema.names) if not _INDEX.fullmatch(str(n))]
    return keep, _clean_names([schema.names[i] for i in keep])


def parquet_frame(table: pa.Table | pa.RecordBatch, keep: list[int], names: list[str]):
    """A Parquet table (or a batch of it) as a frame of text: the data columns under their clean names, each
    converted to text by :func:`~cemkit.ingest.cells._to_text` value by value — the same text whatever the
    batch (no pandas metadata: the index, if any, is not data)."""
    arrays = [table.column(i) for i in keep]
    t = pa.Table.from_arrays(arrays, names=names) if isinstance(table, pa.Table) else \
        pa.Table.from_batches([pa.RecordBatch.from_arrays(arrays, names=names)])
    df = t.to_pandas(ignore_metadata=True)
    return df.apply(_to_text) if len(df.columns) else df


def open_parquet(path: Path):
    """The :class:`~cemkit.ingest.batches.BatchReader` of a Parquet file (InputError when it is not one)."""
    from .batches import BatchReader

    try:
        schema = pq.ParquetFile(path).schema_arrow
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        why = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise InputError(f"{path.name}: cannot read the file as Parquet ({why}).") from None
    keep, names = parquet_columns(schema)
    attrs = {"source": file_name(path), "format": "Parquet", "encoding": None, "encoding_lines_redecoded": 0,
             "delimiter": None, "sheet": None, "sheets": None, "header_row": 1, "first_data_row": 2,
             "column_labels": {}, "value_codes": {}}
    br = BatchReader(path, attrs, names, "", 1, 2, breaks=False)
    br.source = lambda b: _parquet_batches(b, keep)
    return br


def _parquet_batches(br, keep: list[int]):
    from .batches import NotStreamed

    names = list(br.names)
    try:
        pf = pq.ParquetFile(br.path)
        for rb in pf.iter_batches(batch_size=PARQUET_BATCH, use_threads=False):
            # typed as stored: the batches' frames are made text as the whole file's (parquet_frame)
            yield pa.RecordBatch.from_arrays([rb.column(i) for i in keep], names=names)
    except (pa.ArrowInvalid, OSError, ValueError) as exc:
        raise NotStreamed(f"the Parquet file could not be read in batches ({type(exc).__name__})") from exc


# --- GBK / GB18030 text ----------------------------------------------------------------------------
class _Counts:
    def __init__(self) -> None:
        self.utf8 = 0  # non-ASCII lines decoded as UTF-8
        self.gb = 0  # lines decoded as GB18030
        self.utf8_all_gb = True  # every UTF-8 line decodes as GB18030 too (the whole-file shortcut's test)


def decode_chunk(data: bytes, counts: _Counts, name: str = "") -> str:
    """Whole lines of bytes decoded as :func:`~cemkit.ingest.delimited._decode_lines` decodes them line by
    line (UTF-8 where the line is valid UTF-8, else GB18030); :class:`NotStreamed` for a line that is
    neither."""
    from .batches import NotStreamed

    if data.isascii():
        return data.decode("ascii")
    u = data.decode("utf-8", "replace")  # a line break is never part of a replaced sequence
    ulines = u.split("\n")
    blines = data.split(b"\n")
    utf8 = [i for i, (ul, bl) in enumerate(zip(ulines, blines)) if not bl.isascii() and
            ("\ufffd" not in ul or (b"\xef\xbf\xbd" in bl and _decodes(bl, "utf-8", True)))]
    nonascii = sum(not bl.isascii() for bl in blines)
    counts.utf8 += len(utf8)
    counts.gb += nonascii - len(utf8)
    for i in utf8:
        if counts.utf8_all_gb and not _decodes(blines[i], "gb18030", True):
            counts.utf8_all_gb = False
    if not utf8:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            pass
    wanted = set(utf8)
    out = []
    for i, bl in enumerate(blines):
        if i in wanted or bl.isascii():
            out.append(ulines[i])
            continue
        try:
            out.append(bl.decode("gb18030"))
        except UnicodeDecodeError:
            raise NotStreamed(f"a line of {name or 'the file'} is neither UTF-8 nor GBK: read whole") from None
    return "\n".join(out)


class Transcoded(io.RawIOBase):
    """A GBK/GB18030 (or mixed) text file read as UTF-8 bytes, :data:`CHUNK_BYTES` at a time, each chunk
    cut at a line break and decoded by :func:`decode_chunk`. A failure while pyarrow reads is kept in
    ``failed`` (the read ends there) and raised by :meth:`finish`."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        self.fh = open(path, "rb")  # noqa: SIM115 -- closed at the end of the read or by close()
        self.rest = b""  # bytes after the last line break read
        self.out = memoryview(b"")
        self.done = False
        self.counts = _Counts()
        self.failed: BaseException | None = None
        self.texts: list[str] = []  # decoded text not yet handed over (the sample)

    def readable(self) -> bool:
        return True

    def sample(self, chars: int) -> str:
        """The first ``chars`` characters of the decoded text (or all of it), kept for the reader."""
        while sum(map(len, self.texts)) < chars and not self.done:
            self.texts.append(self._decode_next())
        return "".join(self.texts)[:chars]

    def _decode_next(self) -> str:
        data = self.rest
        while not self.done:
            block = self.fh.read(CHUNK_BYTES)
            if not block:
                self.done = True
                self.fh.close()
                break
            data += block
            cut = data.rfind(b"\n")
            if cut >= 0:
                data, self.rest = data[: cut + 1], data[cut + 1:]
                return decode_chunk(data, self.counts, self.path.name)
        self.rest = b""
        return decode_chunk(data, self.counts, self.path.name) if data else ""

    def readinto(self, buf: Any) -> int:
        if self.failed is not None:
            return 0
        try:
            while not len(self.out):
                if self.texts:
                    self.out = memoryview("".join(self.texts).encode("utf-8"))
                    self.texts = []
                elif self.done:
                    return 0
                else:
                    self.out = memoryview(self._decode_next().encode("utf-8"))
        except Exception as exc:  # noqa: BLE001 -- raised by finish(), after the parser stops
            self.failed = exc
            return 0
        n = min(len(buf), len(self.out))
        buf[:n] = self.out[:n]
        self.out = self.out[n:]
        return n

    def close(self) -> None:
        if not self.fh.closed:
            self.fh.close()
        super().close()

    def finish(self) -> tuple[str, int]:
        """After the last batch: the encoding label and the count of lines in the minority encoding, as the
        whole-file decoder gives them; :class:`NotStreamed` when it would have decoded the file otherwise."""
        from .batches import NotStreamed

        self.close()
        if self.failed is not None:
            raise self.failed
        c = self.counts
        if not c.utf8:
            return "gb18030", 0
        if c.utf8_all_gb and not _has_utf8_run(self.path):
            raise NotStreamed("lines that read as UTF-8 and as GBK alike: the file is decoded whole")
        if not c.gb:
            return "utf-8", 0
        return ("gb18030+utf-8" if c.gb >= c.utf8 else "utf-8+gb18030"), min(c.gb, c.utf8)


def _has_utf8_run(path: Path) -> bool:
    """Does any line hold UTF-8 Chinese between ASCII bytes (:data:`~cemkit.ingest.delimited._UTF8_RUN`)?
    Searched in whole lines, a chunk at a time (a match never spans a line break)."""
    rest = b""
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            data = rest + block
            cut = data.rfind(b"\n")
            data, rest = (data[: cut + 1], data[cut + 1:]) if cut >= 0 else (b"", data)
            if _UTF8_RUN.search(data):
                return True
    return bool(rest) and _UTF8_RUN.search(rest) is not None


def open_transcoded(path: Path, attrs: dict[str, Any]):
    """The :class:`~cemkit.ingest.batches.BatchReader` of a delimited file that is not UTF-8: the delimiter
    and header sniffed from the first :data:`~cemkit.ingest.delimited.SAMPLE_BYTES` characters of the
    decoded text, as the whole-file reader sniffs them."""
    from .batches import BatchReader

    src = Transcoded(path)
    try:
        sample = src.sample(SAMPLE_BYTES)
    except BaseException:
        src.close()
        raise
    delim, h, rows, first_line = sniff(sample, path.suffix.lower())
    if not rows:
        src.close()
        raise InputError(f"{path.name}: the file is empty (no header row).")
    names = _names(rows, h, _clean_names)
    attrs = {**attrs, "encoding": "gb18030", "delimiter": delim, "header_row": h + 1, "first_data_row": h + 2}
    br = BatchReader(path, attrs, names, "utf8", h + 1, first_line)
    br.input = src

    def finish() -> None:
        enc, redecoded = src.finish()
        br.attrs.update(encoding=enc, encoding_lines_redecoded=redecoded)

    br.finish = finish
    return br
