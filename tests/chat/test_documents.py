"""Extraction and chunking: offsets into the text, paragraph-aware sizes, overlap."""

import itertools

import pytest

from chat import documents as docs

PARAGRAPH = "The boundary layer thickens downstream of the leading edge. " * 6


def test_chunks_keep_offsets_sizes_and_overlap():
    text = "\n\n".join(f"Paragraph {i}. {PARAGRAPH}" for i in range(12))
    pieces = docs.chunks(text)
    assert len(pieces) > 3
    for piece in pieces:
        assert text[piece.start : piece.end] == piece.text
        assert len(piece.text) <= docs.CHUNK_MAX
    for before, after in itertools.pairwise(pieces):
        assert len(before.text) >= docs.CHUNK_MIN - 2 * len("\n\n")
        overlap = before.end - after.start
        assert 0 < overlap <= docs.OVERLAP + 20  # moved forward to a word's start
    assert [p.ordinal for p in pieces] == list(range(len(pieces)))
    assert pieces[-1].end == len(text.rstrip())


def test_a_chunk_prefers_a_paragraph_break():
    text = "a" * 850 + "\n\n" + "b " * 400
    first = docs.chunks(text)[0]
    assert first.text == "a" * 850


def test_a_short_text_is_one_chunk():
    (piece,) = docs.chunks("  Hello world.  ")
    assert (piece.start, piece.end, piece.text) == (2, 14, "Hello world.")


def test_html_loses_scripts_and_keeps_text():
    html = b"<html><head><script>alert(1)</script><style>p{}</style></head><body><h1>Title</h1><p>Body text</p></body>"
    text = docs.extract(html, "html")
    assert "alert" not in text and "Title" in text and "Body text" in text


def test_types_by_content_type_or_suffix():
    assert docs.kind_of("text/markdown; charset=utf-8", "x") == "markdown"
    assert docs.kind_of("application/octet-stream", "notes.PDF") == "pdf"
    assert docs.kind_of("image/png", "x.png") is None


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica (objects and offsets written out)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_text_is_extracted():
    assert "Hypersonic flow over a cone" in docs.extract(minimal_pdf("Hypersonic flow over a cone"), "pdf")


@pytest.mark.parametrize(
    ("data", "kind", "message"),
    [
        (b"%PDF-1.4 this is not really a pdf", "pdf", "The PDF cannot be read"),
        (minimal_pdf(""), "pdf", "no extractable text"),
        (b"   \n\n  ", "text", "no extractable text"),
        (b"\xff\xfe\x00bad", "text", "not UTF-8"),
    ],
)
def test_unreadable_files_say_why(data, kind, message):
    with pytest.raises(docs.ExtractionError, match=message):
        docs.extract(data, kind)
