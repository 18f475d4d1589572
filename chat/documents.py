"""Text out of uploaded files, and chunks out of text.

Extraction: plain text and Markdown as they are (UTF-8, a BOM dropped), HTML through
BeautifulSoup (scripts and styles dropped, block elements as paragraphs), PDF through pypdf (a
page a paragraph). A file that yields no text is refused with a message that says so.

Chunking is paragraph-aware: a chunk ends at the last paragraph break between CHUNK_MIN and
CHUNK_MAX characters from its start, else at the last sentence end, else at a space; the next
chunk starts OVERLAP characters before that end (moved forward to a word's start), so a passage
cut at a boundary is whole in one of the two. Each chunk keeps its offsets into the extracted
text (``text[start:end]`` is the chunk).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

CHUNK_MIN, CHUNK_MAX, OVERLAP = 800, 1000, 120

TEXT_TYPES = {"text/plain": "text", "text/markdown": "markdown", "text/x-markdown": "markdown"}
CONTENT_TYPES = {**TEXT_TYPES, "text/html": "html", "application/pdf": "pdf"}
TYPE_OF = {"text": "text/plain", "markdown": "text/markdown", "html": "text/html", "pdf": "application/pdf"}
SUFFIXES = {".txt": "text/plain", ".md": "text/markdown", ".markdown": "text/markdown", ".html": "text/html",
            ".htm": "text/html", ".pdf": "application/pdf"}  # fmt: skip


class ExtractionError(Exception):
    """The file's text cannot be read; the message says why."""


def kind_of(content_type: str, filename: str, data: bytes | None = None) -> str | None:
    """The extractor for a declared content type; for none or application/octet-stream, the
    file name's suffix, else (given ``data``) a PDF's signature or UTF-8 text. None if the file
    is not one we read."""
    content_type = content_type.split(";")[0].strip().lower()
    if content_type in ("", "application/octet-stream"):
        suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        content_type = SUFFIXES.get(suffix, content_type)
        if content_type not in CONTENT_TYPES and data is not None:
            content_type = _sniff(data)
    return CONTENT_TYPES.get(content_type)


def _sniff(data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def extract(data: bytes, kind: str) -> str:
    if kind == "pdf":
        text = _pdf(data)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ExtractionError(f"The file is not UTF-8 text ({error.reason} at byte {error.start}).") from None
        if kind == "html":
            text = _html(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise ExtractionError("The file has no extractable text (a scanned PDF or an empty file?).")
    return text


def _html(markup: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for element in soup(["script", "style", "noscript", "template"]):
        element.decompose()
    return re.sub(r"\n{3,}", "\n\n", soup.get_text("\n")).strip()


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as error:
        raise ExtractionError(f"The PDF cannot be read: {error}") from None
    return "\n\n".join(page.strip() for page in pages if page.strip())


@dataclass(frozen=True)
class Piece:
    ordinal: int
    start: int
    end: int
    text: str


_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"[.!?][\"')\]]?\s")


def _break(text: str, start: int) -> int:
    """Where the chunk starting at ``start`` ends."""
    if len(text) - start <= CHUNK_MAX:
        return len(text)
    window = text[start + CHUNK_MIN : start + CHUNK_MAX]
    for pattern in (_PARAGRAPH, _SENTENCE):
        found = [m.end() for m in pattern.finditer(window)]
        if found:
            return start + CHUNK_MIN + found[-1]
    space = window.rfind(" ")
    return start + CHUNK_MIN + space + 1 if space >= 0 else start + CHUNK_MAX


def chunks(text: str) -> list[Piece]:
    pieces, start = [], 0
    while start < len(text):
        end = _break(text, start)
        body = text[start:end]
        stripped_start = start + (len(body) - len(body.lstrip()))
        stripped_end = end - (len(body) - len(body.rstrip()))
        if stripped_end > stripped_start:
            pieces.append(Piece(len(pieces), stripped_start, stripped_end, text[stripped_start:stripped_end]))
        if end >= len(text):
            break
        nxt = max(end - OVERLAP, start + 1)
        while nxt < end and not text[nxt - 1].isspace():  # the start of a word
            nxt += 1
        start = nxt
    return pieces
