"""Redaction that leaves nothing underneath, and the records of a request as PDF pages.

A release is rebuilt, never edited: every page of every record is rasterised (pypdfium2), the
boxes are painted on the pixels with their reason code (Pillow), and a new PDF is made from the
images (ReportLab) with an invisible text layer of only the words that no box touches, so the
release stays searchable and nothing redacted is in it: not the text, not an image under a box,
not the original's metadata, XMP, annotations, forms or attachments. The originals are kept as
they came, elsewhere.

Boxes are fractions of the page from its top left (what the viewer draws); a match of a text or
a pattern becomes one box per line it spans. These functions are pure computation on bytes: the
hub runs them in its PDF worker process (``server/cases/pdf.py``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IMAGE_TYPES", "Mark", "as_pdf", "find", "page_count", "release"]

_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_FONT_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
IMAGE_TYPES = ("image/png", "image/jpeg")


@dataclass(frozen=True, slots=True)
class Mark:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    reason: str = ""


def page_count(pdf: bytes) -> int:
    import pypdfium2

    doc = pypdfium2.PdfDocument(pdf)
    try:
        return len(doc)
    finally:
        doc.close()


def as_pdf(data: bytes, media_type: str) -> bytes:
    """An upload as a PDF: a PDF kept as it came (if it opens), an image wrapped as it is."""
    if media_type == "application/pdf":
        page_count(data)  # raises if it is not a PDF PDFium can open
        return data
    if media_type in IMAGE_TYPES:
        import img2pdf

        out = img2pdf.convert(data, nodate=True)
        assert out is not None
        return bytes(out)
    raise ValueError(f"{media_type} is not a PDF or an image (PNG, JPEG)")


def find(pdf: bytes, pattern: str, *, regex: bool) -> list[Mark]:
    """Every place the text (or regular expression) appears, one box per line it spans."""
    import pypdfium2

    found: list[Mark] = []
    rx = re.compile(pattern if regex else re.escape(pattern), re.I)
    doc = pypdfium2.PdfDocument(pdf)
    try:
        for n in range(len(doc)):
            page = doc[n]
            width, height = page.get_size()
            text = page.get_textpage()
            whole = text.get_text_range()
            for m in rx.finditer(whole):
                if m.end() <= m.start():
                    continue
                for i in range(text.count_rects(m.start(), m.end() - m.start())):
                    left, bottom, right, top = text.get_rect(i)
                    pad = 1.0
                    found.append(
                        Mark(
                            n,
                            max(0.0, (left - pad) / width),
                            max(0.0, (height - top - pad) / height),
                            min(1.0, (right + pad) / width),
                            min(1.0, (height - bottom + pad) / height),
                        )
                    )
            text.close()
            page.close()
    finally:
        doc.close()
    return found


def _overlaps(box: tuple[float, float, float, float], marks: Sequence[Mark]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < m.x1 and m.x0 < x1 and y0 < m.y1 and m.y0 < y1 for m in marks)


def _runs(
    text: object, width: float, height: float, marks: Sequence[Mark]
) -> list[tuple[str, float, float, float, float]]:
    """The runs of text of a page that no box touches, line by line: (text, left, bottom, right,
    top) in points. A redacted character ends a run; nothing of it is written."""
    out: list[tuple[str, float, float, float, float]] = []
    count = text.count_chars()  # type: ignore[attr-defined]
    whole = text.get_text_range()  # type: ignore[attr-defined]
    word: list[str] = []
    box = [0.0, 0.0, 0.0, 0.0]

    def close() -> None:
        said = "".join(word).rstrip()
        if said:
            out.append((said, *box))  # type: ignore[arg-type]
        word.clear()

    for i in range(min(count, len(whole))):
        ch = whole[i]
        if ch in "\r\n":
            close()
            continue
        if ch.isspace():
            if word:
                word.append(" ")  # a run of a line keeps its spaces, so that it reads as words
            continue
        left, bottom, right, top = text.get_charbox(i, loose=True)  # type: ignore[attr-defined]
        frac = (left / width, (height - top) / height, right / width, (height - bottom) / height)
        if _overlaps(frac, marks):
            close()  # a redacted character ends the word: nothing of it is written
            continue
        if word and (abs(bottom - box[1]) > 1.0 or left < box[2] - 1.0):
            close()  # a new line, or a jump back
        if not word:
            box = [left, bottom, right, top]
        word.append(ch)
        box[2] = max(box[2], right)
        box[3] = max(box[3], top)
    close()
    return out


def release(records: Iterable[tuple[bytes, Sequence[Mark]]], dpi: int = 150) -> tuple[bytes, int]:
    """The released copy of records with their boxes: rasterised, painted, rebuilt. -> (PDF, pages).

    Page by page, so that memory holds one page's pixels at a time: the painted pages are kept as
    JPEGs and made into a PDF by img2pdf (which embeds them as they are); the words no box touches
    go into a text-only PDF (ReportLab, render mode 3: invisible), whose pages are laid over the
    images' (PDFium)."""
    import img2pdf
    import pypdfium2
    from PIL import ImageDraw, ImageFont
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    if "Release" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("Release", str(_FONT)))
    scale = dpi / 72
    jpegs: list[bytes] = []
    text_out = io.BytesIO()
    layer_pdf = canvas.Canvas(text_out, invariant=True, pageCompression=1)
    for pdf, marks in records:
        doc = pypdfium2.PdfDocument(pdf)
        try:
            for n in range(len(doc)):
                page = doc[n]
                width, height = page.get_size()
                on_page = [m for m in marks if m.page == n]
                bitmap = page.render(scale=scale, draw_annots=True)
                image = bitmap.to_pil().convert("RGB")
                bitmap.close()
                w, h = image.size
                paint = ImageDraw.Draw(image)
                for m in on_page:
                    box = (int(m.x0 * w), int(m.y0 * h), int(m.x1 * w + 0.999), int(m.y1 * h + 0.999))
                    paint.rectangle(box, fill=(0, 0, 0))
                    px = max(8, min(int((box[3] - box[1]) * 0.7), int(14 * scale)))
                    if m.reason and box[2] - box[0] > px:
                        font = ImageFont.truetype(str(_FONT_BOLD), px)
                        at = (box[0] + 2, box[1] + max(0, (box[3] - box[1] - px) // 2))
                        paint.text(at, m.reason, fill=(255, 255, 255), font=font)
                buffer = io.BytesIO()
                image.save(buffer, "JPEG", quality=85, optimize=True)
                jpegs.append(buffer.getvalue())
                del image, paint
                # The page img2pdf makes is the pixels at this dpi: the text layer is laid out on it.
                out_w, out_h = w / scale, h / scale
                sx, sy = out_w / width, out_h / height
                textpage = page.get_textpage()
                runs = _runs(textpage, width, height, on_page)
                textpage.close()  # PDFium keeps a page's text until it is closed
                page.close()
                layer_pdf.setPageSize((out_w, out_h))
                layer = layer_pdf.beginText()
                layer.setTextRenderMode(3)  # invisible: there to be searched and copied, not seen
                for text, left, bottom, right, top in runs:
                    size = max(1.0, (top - bottom) * sy)
                    natural = pdfmetrics.stringWidth(text, "Release", size) or 1.0
                    layer.setFont("Release", size)
                    layer.setHorizScale(100 * (right - left) * sx / natural)
                    layer.setTextOrigin(left * sx, bottom * sy + size * 0.2)
                    layer.textOut(text)
                layer_pdf.drawText(layer)
                layer_pdf.showPage()
        finally:
            doc.close()
    if not jpegs:
        raise ValueError("nothing to release: no pages")
    layer_pdf.save()
    layout = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
    images = img2pdf.convert(jpegs, layout_fun=layout, nodate=True, producer="", creator="")
    del jpegs
    assert images is not None
    out = pypdfium2.PdfDocument(bytes(images))
    words = pypdfium2.PdfDocument(text_out.getvalue())
    try:
        for n in range(len(out)):
            page = out[n]
            over = words.page_as_xobject(n, out)
            page.insert_obj(over.as_pageobject())
            page.gen_content()
            over.close()
            page.close()
        saved = io.BytesIO()
        out.save(saved)
        return saved.getvalue(), len(out)
    finally:
        words.close()
        out.close()
