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
import time

from playwright.sync_api import sync_playwright

from loadtest.browser import CHROMIUM, FLAGS, console, sign_in
from loadtest.hubproc import start_hub
from protocol.messages import IncidentCreate, UnitPosition, UnitRoster
from protocol.state import Location

__all__ = ["main"]

UNITS = [f"U{n:03d}" for n in range(1, 501)]
# One console sends the whole roster: lift the per-connection command rate for this hub.
FAST = {"DISPATCH_COMMANDS_PER_S": "100000", "DISPATCH_COMMANDS_BURST": "100000", "DISPATCH_TILE_URL": ""}


def _spot(n: int, shift: float = 0.0) -> tuple[float, float]:
    return 53.47 + (n % 25) * 0.006 + shift, -113.62 + (n // 25) * 0.009


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
    with start_hub(env=FAST) as hub:
        token = hub.token("desk", "dispatcher")
        roster = [lambda i, u=u: UnitRoster(id=i, unit=u, district="Downtown") for u in UNITS]
        calls = [
            lambda i, n=n: IncidentCreate(
                id=i, call_type="NOISE", priority=1 + n % 5, location=Location(f"Call {n}", *_spot(n, 0.002))
            )
            for n in range(200)
        ]
        console(hub, token, *roster, *calls)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_context(viewport={"width": 1600, "height": 900}).new_page()
            sign_in(page, f"http://127.0.0.1:{hub.port}", "desk", "/board/")
            page.evaluate(_OBSERVE)
            started = time.time()
            for r in range(args.rounds):
                shift = 0.0005 * (r % 4)
                console(
                    hub,
                    token,
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
