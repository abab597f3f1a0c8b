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
from typing import Any

__all__ = ["IMAGE_TYPES", "Mark", "as_pdf", "find", "page_count", "release"]

_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
_FONT_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
IMAGE_TYPES = ("image/png", "image/jpeg")
MAX_MATCHES = 20_000  # places one search may box
MAX_PIXELS = 60_000_000  # a page rendered for release (a Letter page at 150 dpi is 4.2 million)


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


def _chars(text: Any) -> str:
    """The page's text one character per PDFium character index (so that a match's offsets are
    the indices its boxes are asked for by; ``get_text_range`` may drift from them)."""
    import pypdfium2.raw as pdfium

    count = text.count_chars()
    whole = text.get_text_range()
    if len(whole) == count:
        return str(whole)  # one character per index already: the common case
    out = []
    for i in range(count):
        code = pdfium.FPDFText_GetUnicode(text.raw, i)
        out.append(chr(code) if 0 < code < 0x110000 else "\ufffd")
    return "".join(out)


class _Display:
    """Page coordinates to fractions of the page as it is shown and rendered (its /Rotate and
    CropBox applied), by PDFium itself."""

    N = 1_000_000

    def __init__(self, page: Any) -> None:
        import ctypes

        import pypdfium2.raw as pdfium

        self.pdfium, self.ctypes, self.raw = pdfium, ctypes, page.raw
        self._x, self._y = ctypes.c_int(), ctypes.c_int()

    def point(self, x: float, y: float) -> tuple[float, float]:
        self.pdfium.FPDF_PageToDevice(
            self.raw, 0, 0, self.N, self.N, 0, x, y, self.ctypes.byref(self._x), self.ctypes.byref(self._y)
        )
        return self._x.value / self.N, self._y.value / self.N

    def box(self, left: float, bottom: float, right: float, top: float) -> tuple[float, float, float, float]:
        xa, ya = self.point(left, bottom)
        xb, yb = self.point(right, top)
        return min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)


def find(pdf: bytes, pattern: str, *, regex: bool) -> list[Mark]:
    """Every place the text (or regular expression) appears, one box per line it spans, in
    fractions of the page as shown."""
    import pypdfium2

    found: list[Mark] = []
    rx = re.compile(pattern if regex else re.escape(pattern), re.I)
    doc = pypdfium2.PdfDocument(pdf)
    pad = 0.002
    try:
        for n in range(len(doc)):
            page = doc[n]
            shown = _Display(page)
            text = page.get_textpage()
            for m in rx.finditer(_chars(text)):
                if m.end() <= m.start():
                    continue
                for i in range(text.count_rects(m.start(), m.end() - m.start())):
                    x0, y0, x1, y1 = shown.box(*text.get_rect(i))
                    found.append(
                        Mark(n, max(0.0, x0 - pad), max(0.0, y0 - pad), min(1.0, x1 + pad), min(1.0, y1 + pad))
                    )
                if len(found) > MAX_MATCHES:
                    raise ValueError(f"more than {MAX_MATCHES} places match: say more precisely what to box")
            text.close()
            page.close()
    finally:
        doc.close()
    return found


def _overlaps(box: tuple[float, float, float, float], marks: Sequence[Mark]) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < m.x1 and m.x0 < x1 and y0 < m.y1 and m.y0 < y1 for m in marks)


Box = tuple[float, float, float, float]


def _images_over(page: Any, shown: _Display) -> dict[int, list[Box]]:
    """For each text object of the page (by its address), the images drawn after it: what could
    hide it while leaving ink of its own where it lies."""
    import ctypes

    import pypdfium2.raw as pdfium

    over: dict[int, list[Box]] = {}
    images: list[Box] = []
    order: list[tuple[int, int]] = []  # (address, kind) in drawing order
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    for obj in page.get_objects(max_depth=4):
        kind = obj.type
        address = ctypes.cast(obj.raw, ctypes.c_void_p).value or 0
        if kind == pdfium.FPDF_PAGEOBJ_IMAGE and pdfium.FPDFPageObj_GetBounds(
            obj.raw, ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top)
        ):
            images.append(shown.box(left.value, bottom.value, right.value, top.value))
            order.append((len(images) - 1, kind))
        elif kind == pdfium.FPDF_PAGEOBJ_TEXT:
            order.append((address, kind))
    seen = 0
    for key, kind in order:
        if kind == pdfium.FPDF_PAGEOBJ_IMAGE:
            seen = key + 1
        else:
            over[key] = images[seen:]  # the images after this text
    return over


def _visible(text: Any, i: int, image: Any, frac: Box, over: dict[int, list[Box]] | None = None) -> bool:
    """Whether a character can be seen on the page: drawn (not in an invisible render mode), not
    under an image drawn after it, and leaving ink where it is (text hidden under a shape, or in the
    colour of what is behind it, or off the page, leaves none). Text nobody can see is text nobody
    could box: it is left out."""
    import ctypes

    import pypdfium2.raw as pdfium

    obj = pdfium.FPDFText_GetTextObject(text.raw, i)
    if obj:
        mode = pdfium.FPDFTextObj_GetTextRenderMode(obj)
        if mode in (pdfium.FPDF_TEXTRENDERMODE_INVISIBLE, pdfium.FPDF_TEXTRENDERMODE_CLIP):
            return False
        address = ctypes.cast(obj, ctypes.c_void_p).value or 0
        covers = (over or {}).get(address, [])
        if any(frac[0] < c[2] and c[0] < frac[2] and frac[1] < c[3] and c[1] < frac[3] for c in covers):
            return False
    w, h = image.size
    x0, y0, x1, y1 = (int(frac[0] * w), int(frac[1] * h), int(frac[2] * w + 0.999), int(frac[3] * h + 0.999))
    if x1 <= x0 or y1 <= y0 or x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        return False
    low, high = image.crop((x0, y0, x1, y1)).getextrema()
    return bool(high - low > 60)  # ink against its ground: a glyph drawn there, not a flat area


def _runs(text: Any, image: Any, marks: Sequence[Mark]) -> list[tuple[str, float, float, float, float]]:
    """The runs of visible text of a page that no box touches, line by line, in fractions of the
    page as shown: (text, x0, y0, x1, y1). A redacted character ends a run; nothing of it is
    written."""
    import pypdfium2.raw as pdfium

    out: list[tuple[str, float, float, float, float]] = []
    shown = _Display(text.page)
    over = _images_over(text.page, shown)
    gray = image.convert("L")  # once a page: each character's ink is looked for in it
    word: list[str] = []
    box = [0.0, 0.0, 0.0, 0.0]

    def close() -> None:
        said = "".join(word).rstrip()
        if said:
            out.append((said, box[0], box[1], box[2], box[3]))
        word.clear()

    for i in range(text.count_chars()):
        code = pdfium.FPDFText_GetUnicode(text.raw, i)
        ch = chr(code) if 0 < code < 0x110000 else ""
        if not ch or ch in "\r\n\x02\ufffe":
            close()
            continue
        if ch.isspace():
            if word:
                word.append(" ")  # a run of a line keeps its spaces, so that it reads as words
            continue
        frac = shown.box(*text.get_charbox(i, loose=True))
        if _overlaps(frac, marks) or not _visible(text, i, gray, frac, over):
            close()
            continue
        if word and (abs(frac[3] - box[3]) > 0.004 or frac[0] < box[2] - 0.004):
            close()  # a new line, or a jump back
        if not word:
            box = list(frac)
        word.append(ch)
        box[2] = max(box[2], frac[2])
        box[1] = min(box[1], frac[1])
        box[3] = max(box[3], frac[3])
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
                on_page = [m for m in marks if m.page == n]
                width, height = page.get_size()
                if width * height * scale * scale > MAX_PIXELS:
                    raise ValueError(f"page {n + 1} is too large to release ({width:.0f} x {height:.0f} points)")
                bitmap = page.render(scale=scale, draw_annots=True)
                image = bitmap.to_pil().convert("RGB")
                bitmap.close()
                w, h = image.size
                textpage = page.get_textpage()
                runs = _runs(textpage, image, on_page)  # what can be seen, before the boxes are painted
                textpage.close()  # PDFium keeps a page's text until it is closed
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
                page.close()
                layer_pdf.setPageSize((out_w, out_h))
                layer = layer_pdf.beginText()
                layer.setTextRenderMode(3)  # invisible: there to be searched and copied, not seen
                for text, x0, y0, x1, y1 in runs:
                    size = max(1.0, (y1 - y0) * out_h)
                    natural = pdfmetrics.stringWidth(text, "Release", size) or 1.0
                    layer.setFont("Release", size)
                    layer.setHorizScale(100 * (x1 - x0) * out_w / natural)
                    layer.setTextOrigin(x0 * out_w, (1 - y1) * out_h + size * 0.2)
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
