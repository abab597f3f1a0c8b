"""Redaction is real: a document with sensitive strings as text, inside an image and in its
metadata is redacted and released; neither of two text extractors finds what was redacted (and
both find what was not), the pixels under the image's box are black, the release holds one image
a page and nothing else of the original, its metadata names no author, title or XMP, and the page
count matches. A black rectangle drawn over live text cannot pass this."""

from __future__ import annotations

import base64
import io

import pypdf
import pypdfium2
import weasyprint
from PIL import Image, ImageDraw, ImageFont
from pypdf.generic import DecodedStreamObject, NameObject

from server.cases.redaction import Mark, as_pdf, find, page_count, release

SECRET_NAME = "Ana Reyes"
SECRET_PHONE = "780-555-0142"
SECRET_IN_IMAGE = "BADGE 4471"
KEPT = "Churchill Square"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def _image_with_text(text: str) -> bytes:
    image = Image.new("RGB", (600, 120), "white")
    ImageDraw.Draw(image).text((20, 30), text, fill="black", font=ImageFont.truetype(FONT, 48))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _original() -> bytes:
    picture = base64.b64encode(_image_with_text(SECRET_IN_IMAGE)).decode()
    html = f"""<html><head><title>Statement of {SECRET_NAME}</title><meta name="author" content="{SECRET_NAME}"></head>
    <body><p>The complainant, {SECRET_NAME}, phoned from {SECRET_PHONE} about {KEPT}.</p>
    <p><img src="data:image/png;base64,{picture}" style="width:300px"></p>
    <p style="break-before: page">Page two: {KEPT} again, and a call back to {SECRET_PHONE}.</p></body></html>"""
    pdf = weasyprint.HTML(string=html).write_pdf()
    assert pdf is not None
    # XMP metadata naming the person too, as office tools write it.
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    writer = pypdf.PdfWriter(clone_from=reader)
    xmp = DecodedStreamObject()
    xmp.set_data(f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{SECRET_NAME}</dc:creator></x:xmpmeta>'.encode())
    xmp.update({NameObject("/Type"): NameObject("/Metadata"), NameObject("/Subtype"): NameObject("/XML")})
    writer._root_object[NameObject("/Metadata")] = writer._add_object(xmp)
    writer.add_metadata({"/Author": SECRET_NAME, "/Title": f"Statement of {SECRET_NAME}"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _image_box(pdf: bytes) -> Mark:
    doc = pypdfium2.PdfDocument(pdf)
    page = doc[0]
    width, height = page.get_size()
    (picture,) = [o for o in page.get_objects() if o.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE]
    left, bottom, right, top = picture.get_bounds()
    return Mark(0, left / width, (height - top) / height, right / width, (height - bottom) / height, "s.17")


def _pdfium_text(pdf: bytes) -> str:
    doc = pypdfium2.PdfDocument(pdf)
    return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def _pypdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_a_release_holds_nothing_of_what_was_redacted_and_everything_else() -> None:
    original = _original()
    assert SECRET_NAME in _pdfium_text(original) and SECRET_PHONE in _pypdf_text(original)
    marks = [Mark(m.page, m.x0, m.y0, m.x1, m.y1, "s.17") for m in find(original, SECRET_NAME, regex=False)]
    marks += [Mark(m.page, m.x0, m.y0, m.x1, m.y1, "s.17") for m in find(original, r"\d{3}-\d{3}-\d{4}", regex=True)]
    assert sorted({m.page for m in marks}) == [0, 1] and len(marks) == 3  # the name once, the phone twice
    box = _image_box(original)
    released, pages = release([(original, [*marks, box])])

    assert pages == page_count(original) == page_count(released) == 2
    for text in (_pdfium_text(released), _pypdf_text(released)):
        assert SECRET_NAME not in text and "Reyes" not in text and SECRET_PHONE not in text and "0142" not in text
        assert KEPT in text and "complainant" in text and "Page two" in text
        assert "4471" not in text  # it was never text, and it is not now
    # Under the image's box: black pixels only (the reason code in white aside), not the badge.
    doc = pypdfium2.PdfDocument(released)
    shot = doc[0].render(scale=2).to_pil().convert("L")
    w, h = shot.size
    region = shot.crop((int(box.x0 * w) + 2, int(box.y0 * h) + 2, int(box.x1 * w) - 2, int(box.y1 * h) - 2))
    dark = sum(region.histogram()[:60]) / (region.width * region.height)
    assert dark > 0.9
    # One image a page, and text (in the invisible layer's form) and nothing else; no metadata of it.
    raw = pypdfium2.raw
    for page in doc:
        kinds = [o.type for o in page.get_objects(max_depth=3)]
        assert kinds.count(raw.FPDF_PAGEOBJ_IMAGE) == 1
        assert set(kinds) <= {raw.FPDF_PAGEOBJ_IMAGE, raw.FPDF_PAGEOBJ_TEXT, raw.FPDF_PAGEOBJ_FORM}
    reader = pypdf.PdfReader(io.BytesIO(released))
    info = {k: str(v) for k, v in (reader.metadata or {}).items()}
    assert all(SECRET_NAME not in v and "Statement" not in v for v in info.values()), info
    assert "/Metadata" not in reader.trailer["/Root"] and reader.xmp_metadata is None
    assert SECRET_NAME.encode() not in released and b"Reyes" not in released


def test_a_black_rectangle_over_live_text_would_fail_this() -> None:
    """The naive way (a box drawn on top, the text left underneath) is caught by extraction."""
    original = _original()
    (mark,) = find(original, SECRET_NAME, regex=False)
    reader = pypdf.PdfReader(io.BytesIO(original))
    writer = pypdf.PdfWriter(clone_from=reader)
    page = writer.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    x, y = mark.x0 * width, height - mark.y1 * height
    cover = DecodedStreamObject()
    cover.set_data(f"q 0 g {x} {y} {(mark.x1 - mark.x0) * width} {(mark.y1 - mark.y0) * height} re f Q".encode())
    page.merge_page(pypdf.PageObject.create_blank_page(width=width, height=height))
    contents = page.get_contents()
    assert contents is not None
    contents.set_data(contents.get_data() + b"\n" + cover.get_data())
    page.replace_contents(contents)
    out = io.BytesIO()
    writer.write(out)
    assert SECRET_NAME in _pdfium_text(out.getvalue())  # still there, under the black


def test_uploads_are_kept_as_they_came() -> None:
    png = _image_with_text("scanned page")
    wrapped = as_pdf(png, "image/png")
    assert page_count(wrapped) == 1
    original = _original()
    assert as_pdf(original, "application/pdf") == original
    for bad, kind in ((b"not a pdf", "application/pdf"), (b"x", "text/plain")):
        try:
            as_pdf(bad, kind)
        except Exception:  # noqa: BLE001 - PDFium's error, or ours: either refuses it
            continue
        raise AssertionError(f"{kind} accepted")


def _pages_shown_otherwise(original: bytes) -> bytes:
    """The same document with its first page rotated and its second page cropped off its origin."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(original)))
    writer.pages[0].rotate(90)
    second = writer.pages[1]
    w, h = float(second.mediabox.width), float(second.mediabox.height)
    second.cropbox = pypdf.generic.RectangleObject([40, 30, w - 10, h - 20])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_rotated_and_cropped_pages_are_boxed_where_the_text_is_shown() -> None:
    original = _pages_shown_otherwise(_original())
    marks = [Mark(m.page, m.x0, m.y0, m.x1, m.y1, "s.17") for m in find(original, r"\d{3}-\d{3}-\d{4}", regex=True)]
    marks += [Mark(m.page, m.x0, m.y0, m.x1, m.y1, "s.17") for m in find(original, SECRET_NAME, regex=False)]
    released, pages = release([(original, marks)])
    assert pages == 2
    for text in (_pdfium_text(released), _pypdf_text(released)):
        assert SECRET_PHONE not in text and "0142" not in text and "Reyes" not in text
        assert "Churchill" in text
    # The boxes cover the numbers where they are drawn: the page shows black there.
    doc = pypdfium2.PdfDocument(released)
    for m in marks:
        shot = doc[m.page].render(scale=2).to_pil().convert("L")
        w, h = shot.size
        region = shot.crop((int(m.x0 * w) + 3, int(m.y0 * h) + 3, int(m.x1 * w) - 3, int(m.y1 * h) - 3))
        assert sum(region.histogram()[:60]) / max(1, region.width * region.height) > 0.6, m


def test_text_nobody_can_see_is_not_put_in_the_release() -> None:
    html = """<p>Visible words stay.</p>
    <p style="color: white">WHITE-ON-WHITE secret</p>
    <div style="position: relative"><p>UNDER-A-SHAPE secret</p>
      <div style="position: absolute; inset: -4px; background: #2b4c7e"></div></div>"""
    pdf = weasyprint.HTML(string=html).write_pdf()
    assert pdf is not None and "WHITE-ON-WHITE" in _pdfium_text(pdf) and "UNDER-A-SHAPE" in _pdfium_text(pdf)
    released, _ = release([(pdf, [])])
    for text in (_pdfium_text(released), _pypdf_text(released)):
        assert "Visible words stay." in text
        assert "WHITE-ON-WHITE" not in text and "UNDER-A-SHAPE" not in text


def test_text_under_an_image_is_not_put_in_the_release() -> None:
    """A photo over the words: its own detail is ink where they lie, so only the drawing order tells."""
    photo = io.BytesIO()
    Image.effect_noise((600, 120), 120).convert("RGB").save(photo, "PNG")
    picture = base64.b64encode(photo.getvalue()).decode()
    html = f"""<p>Visible words stay.</p>
    <div style="position: relative"><p>UNDER-AN-IMAGE secret</p>
      <img src="data:image/png;base64,{picture}" style="position: absolute; top: -10px; left: 0; width: 400px"></div>"""
    pdf = weasyprint.HTML(string=html).write_pdf()
    assert pdf is not None and "UNDER-AN-IMAGE" in _pdfium_text(pdf)
    released, _ = release([(pdf, [])])
    for text in (_pdfium_text(released), _pypdf_text(released)):
        assert "Visible words stay." in text and "UNDER-AN-IMAGE" not in text
