"""Text-encoding detection for merchant catalogs.

Chinese merchants often export GBK/GB18030 spreadsheets; decoding those as UTF-8 with
`errors="replace"` silently stores mojibake. Instead we decide the encoding from the bytes:
a byte-order mark wins; otherwise strict UTF-8, then strict GB18030 (a superset of GBK). When
neither decodes every line, the candidate with fewer undecodable lines is used and each bad
line is reported by the reader (bytes that do not decode surface as lone surrogates thanks to
`errors="surrogateescape"`, which `has_undecodable` spots).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from shopmind.errors import BadInput

# The 4-byte UTF-32 marks come first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
)
_ESCAPED = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class DetectedEncoding:
    """What the catalog reader should open the file with, and what to tell the user."""

    name: str  # reported name, e.g. "utf-8", "gb18030", "utf-16-le"
    codec: str  # codec passed to open(), e.g. "utf-8-sig" so the BOM is not read as text
    bom: bool = False
    bad_lines: int = 0  # lines that do not decode under `codec` (each is reported as a bad row)

    @property
    def label(self) -> str:
        """Short summary for the ingest report."""
        text = self.name + (" (BOM)" if self.bom else "")
        if self.bad_lines:
            text += f"; {self.bad_lines} line(s) with bytes invalid in {self.name}"
        return text


def _line_counts(path: Path, codec: str, stop_after: int | None = None) -> tuple[int, int]:
    """(lines that fail strict decoding, non-ASCII lines that decode), streamed with bounded memory.

    Splitting on b"\\n" is safe for UTF-8 and GB18030: neither uses 0x0A inside a multibyte
    sequence, so a line boundary is always a character boundary.
    """
    bad = good_wide = 0
    with path.open("rb") as fh:
        for line in fh:
            try:
                line.decode(codec)
            except UnicodeDecodeError:
                bad += 1
                if stop_after is not None and bad > stop_after:
                    break
            else:
                if not line.isascii():
                    good_wide += 1
    return bad, good_wide


def _utf16_without_bom(head: bytes) -> str | None:
    """Guess UTF-16 without a mark from the NUL pattern of ASCII-heavy text."""
    if len(head) < 4:
        return None
    even = head[0::2].count(0)
    odd = head[1::2].count(0)
    half = len(head) // 2
    if odd > 0.3 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.3 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def detect_encoding(path: Path) -> DetectedEncoding:
    """Decide how to decode `path`. Raises BadInput for files with no text at all."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise BadInput(f"{path.name}: the file is empty")
    for bom, name, codec in _BOMS:
        if head.startswith(bom):
            if len(head) == len(bom):
                raise BadInput(f"{path.name}: the file holds only a byte-order mark and no rows")
            return DetectedEncoding(name=name, codec=codec, bom=True)
    wide = _utf16_without_bom(head)
    if wide:
        return DetectedEncoding(name=wide, codec=wide)
    if b"\x00" in head and head.count(b"\x00") > len(head) // 4:
        raise BadInput(f"{path.name}: looks like a binary file, not a text catalog")
    utf8_bad, utf8_wide = _line_counts(path, "utf-8")
    if utf8_bad == 0:
        return DetectedEncoding(name="utf-8", codec="utf-8")
    # Valid multibyte UTF-8 almost never happens by accident, while UTF-8 Chinese often decodes
    # as (wrong) GB18030: a file whose non-ASCII lines are mostly valid UTF-8 is UTF-8 with a few
    # bad lines, which are reported rather than re-read as mojibake.
    if utf8_wide >= utf8_bad:
        return DetectedEncoding(name="utf-8", codec="utf-8", bad_lines=utf8_bad)
    gb_bad, _ = _line_counts(path, "gb18030", stop_after=utf8_bad)
    if gb_bad < utf8_bad:
        return DetectedEncoding(name="gb18030", codec="gb18030", bad_lines=gb_bad)
    return DetectedEncoding(name="utf-8", codec="utf-8", bad_lines=utf8_bad)


def has_undecodable(text: str) -> bool:
    """True when `text` carries bytes that did not decode (lone surrogates from surrogateescape)."""
    return _ESCAPED.search(text) is not None
