"""Reading a customer list from a CSV or XLSX file, row by row, whatever its encoding.

Rows are streamed (csv reader, openpyxl read-only mode), so memory stays flat whatever the size.
"""

import codecs
import csv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import charset_normalizer
from django.utils.translation import gettext as _

SNIFF_BYTES = 256 * 1024
XLSX_MAGIC = b"PK\x03\x04"
# Spreadsheets escape a leading = + - @ with an apostrophe (and so do our exports): undo that.
ESCAPED_PREFIXES = ("'=", "'+", "'-", "'@", "'\t", "'\r")
MAX_COLUMNS = 200

csv.field_size_limit(1024 * 1024)


class ImportFileError(ValueError):
    """The file cannot be read as a customer list; the message tells the user why."""


def detect_format(path: Path, file_name: str = "") -> str:
    with open(path, "rb") as handle:
        head = handle.read(4)
    name = (file_name or str(path)).lower()
    if head == XLSX_MAGIC:
        return "xlsx"
    if name.endswith((".xlsx", ".xlsm")):
        raise ImportFileError(_("This file is named .xlsx but is not an Excel workbook."))
    if name.endswith(".xls"):
        raise ImportFileError(_("Old .xls workbooks cannot be read: save the file as .xlsx or CSV."))
    return "csv"


def detect_encoding(path: Path) -> str:
    """The encoding of a CSV file, from its first bytes (see sample_encoding)."""
    with open(path, "rb") as handle:
        return sample_encoding(handle.read(SNIFF_BYTES))


def sample_encoding(sample: bytes) -> str:
    """The encoding of text that starts with these bytes: a BOM if there is one, UTF-8 if the bytes are
    valid UTF-8, else Big5 (cp950) or GB18030, whichever reads as more plausible text. Every CSV upload
    (customers, orders) decides with this."""
    if not sample.strip():
        raise ImportFileError(_("The file is empty."))
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        raise ImportFileError(_("This does not look like a CSV or XLSX file."))
    try:
        # final=False: the sample may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(sample, cp_isolation=["cp950", "big5", "gb18030"]).best()
    if best is None:
        raise ImportFileError(
            _("The file's text encoding could not be recognised: save it as UTF-8 CSV or as XLSX.")
        )
    return "cp950" if best.encoding in ("big5", "cp950") else best.encoding


def iter_rows(path: Path, fmt: str, encoding: str = "") -> Iterator[tuple[int, list[str]]]:
    """Every row of the file as (its row number as a spreadsheet shows it, a list of stripped
    strings), the header row first; blank rows are skipped."""
    rows = _xlsx_rows(path) if fmt == "xlsx" else _csv_rows(path, encoding or "utf-8")
    for number, row in enumerate(rows, start=1):
        cells = [clean_cell(value) for value in row[:MAX_COLUMNS]]
        if any(cells):
            yield number, cells


def clean_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone number typed into a spreadsheet cell comes back as 912345678.0
    text = str(value).strip()
    if text.startswith(ESCAPED_PREFIXES):
        text = text[1:]
    return text


def _csv_rows(path, encoding):
    try:
        with open(path, encoding=encoding, errors="strict", newline="") as handle:
            sample = handle.read(8192)
            handle.seek(0)
            dialect = _sniff_dialect(sample)
            yield from csv.reader(handle, dialect)
    except UnicodeDecodeError:
        raise ImportFileError(
            _("Part of the file is not valid %(encoding)s text: save it again as UTF-8 CSV.")
            % {"encoding": encoding}
        ) from None
    except csv.Error as exc:
        raise ImportFileError(_("The CSV file is malformed: %(error)s") % {"error": exc}) from None


def _sniff_dialect(sample):
    first_line = sample.splitlines()[0] if sample else ""
    for delimiter in (",", "\t", ";"):
        if delimiter in first_line:
            return type("Sniffed", (csv.excel,), {"delimiter": delimiter})
    return csv.excel


def _xlsx_rows(path):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(_("The workbook cannot be opened: %(error)s") % {"error": exc}) from None
    try:
        sheet = workbook.worksheets[0]
        # data_only: a formula cell gives the value Excel last computed, never the formula itself.
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def read_header(path: Path, fmt: str, encoding: str = "") -> list[str]:
    for _number, row in iter_rows(path, fmt, encoding):
        return row
    raise ImportFileError(_("The file has no rows."))


def count_data_rows(path: Path, fmt: str, encoding: str = "") -> int:
    return max(0, sum(1 for _row in iter_rows(path, fmt, encoding)) - 1)
