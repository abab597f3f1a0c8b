"""The dispatcher board under a big shift, in real Chromium: 500 units moving, 200 calls open.

    .venv/bin/python -m loadtest.board_render [--rounds 20]

Starts a hub process (its own Valkey), rosters 500 units and 200 calls, opens the
board, then sends ROUNDS x 500 position reports and reports, from inside the page,
the time from each positions frame to the next paint and the main thread's long
tasks (over 50 ms). It stops by itself. Uses the browser tests' fixtures (Debian's
chromium), so run it from a checkout after `make test` has installed them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from protocol.messages import IncidentCreate, UnitPosition, UnitRoster
from protocol.state import Location
from tests.static.conftest import CHROMIUM, CHROMIUM_FLAGS, DESKTOP, browser_hub, desk, sign_in
from tests.static.test_board_scale import FAST, UNITS, _spot

_OBSERVE = """
window.longTasks = [];
new PerformanceObserver((list) => list.getEntries().forEach((e) => longTasks.push(e.duration)))
  .observe({ type: "longtask", buffered: false });
window.toPaint = [];
dispatchBoard.hub.addEventListener("positions", () => {
  const t = performance.now();
  requestAnimationFrame(() => toPaint.push(performance.now() - t));
});
"""


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * q))] if values else 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtest.board_render", description=__doc__)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args(argv)
    hub = browser_hub(Path(tempfile.mkdtemp()) / "hub", env=FAST)
    try:
        roster = [lambda i, u=u: UnitRoster(id=i, unit=u, district="Downtown") for u in UNITS]
        calls = [
            lambda i, n=n: IncidentCreate(
                id=i, call_type="NOISE", priority=1 + n % 5, location=Location(f"Call {n}", *_spot(n, 0.002))
            )
            for n in range(200)
        ]
        desk(hub.url, *roster, *calls)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_context(viewport=DESKTOP).new_page()
            sign_in(page, hub.http, "ana", "/board/")
            page.evaluate(_OBSERVE)
            started = time.time()
            for r in range(args.rounds):
                shift = 0.0005 * (r % 4)
                desk(
                    hub.url,
                    *[
                        lambda i, n=n, u=u, s=shift: UnitPosition(id=i, unit=u, lat=_spot(n, s)[0], lon=_spot(n)[1])
                        for n, u in enumerate(UNITS)
                    ],
                )
            page.wait_for_timeout(1500)
            long_tasks: list[float] = page.evaluate("longTasks")
            to_paint: list[float] = page.evaluate("toPaint")
            browser.close()
        print(f"{args.rounds} rounds x 500 position reports in {time.time() - started:.1f}s; {len(to_paint)} frames")
        print(
            f"positions frame to next paint, ms: p50 {_pct(to_paint, 0.5):.1f} p95 {_pct(to_paint, 0.95):.1f}"
            f" max {max(to_paint, default=0):.1f}"
        )
        print(f"long tasks over 50 ms: {len(long_tasks)}, longest {max(long_tasks, default=0):.0f} ms")
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
