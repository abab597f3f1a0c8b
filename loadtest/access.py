"""python -m loadtest.access: redaction at the size of a large request (issue 19).

A package of ``--pages`` pages (default 200: statements with names and phone numbers, a photo on
every tenth page), as WeasyPrint makes records the system holds, is searched for every phone
number (each a box) and a name, then released: every page rasterised at 150 dpi, the boxes
painted, the PDF rebuilt with its text layer of what no box touches. Prints one JSON report:
pages a second for each step, and the process's peak memory (its maximum resident set), which is
what the hub's PDF worker process would hold.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main", "package", "run"]


def package(pages: int) -> bytes:
    import weasyprint
    from PIL import Image, ImageDraw

    photo = Image.new("RGB", (800, 500), (90, 120, 150))
    ImageDraw.Draw(photo).rectangle((100, 100, 700, 400), fill=(200, 180, 140))
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=80)
    data = base64.b64encode(buf.getvalue()).decode()
    parts = []
    for n in range(pages):
        lines = "".join(
            f"<p>{n}.{i}: Witness Pat Doe{n % 7} was reached at 780-555-{(n * 13 + i) % 10000:04d} about the call on"
            f" Jasper Avenue. The officer, badge {4000 + n}, wrote that the caller was calm and the scene quiet.</p>"
            for i in range(6)
        )
        img = f'<p><img src="data:image/jpeg;base64,{data}" style="width:60%"></p>' if n % 10 == 0 else ""
        parts.append(f'<section style="break-after: page"><h2>Statement {n + 1}</h2>{lines}{img}</section>')
    out = weasyprint.HTML(string="<html><body>" + "".join(parts) + "</body></html>").write_pdf()
    assert out is not None
    return bytes(out)


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(args: argparse.Namespace) -> dict[str, Any]:
    from server.cases import redaction
    from server.cases.rules.access import PATTERNS

    t = time.perf_counter()
    pdf = package(args.pages)
    made_s = time.perf_counter() - t
    pages = redaction.page_count(pdf)
    rss_before = _rss_mib()
    t = time.perf_counter()
    marks = redaction.find(pdf, PATTERNS["phone"], regex=True)
    marks += redaction.find(pdf, "Pat Doe", regex=False)
    find_s = time.perf_counter() - t
    boxed = [redaction.Mark(m.page, m.x0, m.y0, m.x1, m.y1, "s.17") for m in marks]
    t = time.perf_counter()
    released, out_pages = redaction.release([(pdf, boxed)], dpi=args.dpi)
    release_s = time.perf_counter() - t
    return {
        "scenario": "access request redaction",
        "pages": pages,
        "released_pages": out_pages,
        "boxes": len(boxed),
        "package_bytes": len(pdf),
        "released_bytes": len(released),
        "dpi": args.dpi,
        "records_made_s": round(made_s, 2),
        "find_s": round(find_s, 2),
        "find_pages_per_s": round(pages / find_s, 1),
        "release_s": round(release_s, 2),
        "release_pages_per_s": round(pages / release_s, 2),
        "find_and_release_pages_per_s": round(pages / (find_s + release_s), 2),
        "peak_rss_mib_before_redaction": round(rss_before, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.access", description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=int, default=200)
    p.add_argument("--dpi", type=int, default=150)
    p.add_argument("--json", type=Path, help="write the report here too")
    args = p.parse_args(argv)
    report = run(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
