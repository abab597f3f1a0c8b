"""The browser decides whether to reconnect from the close codes the hub serves, as the Python client does."""

from __future__ import annotations

from protocol.codes import CloseCode, should_reconnect
from tests.helpers import HubProcess
from tests.static.conftest import Pages, sign_in

# Every code the hub names, and codes of every range it does not.
CODES = sorted({*map(int, CloseCode), 1002, 1005, 1012, 1014, 3000, 4000, 4002, 4099, 4150, 4199, 4200, 4999})


def test_the_board_gives_up_exactly_where_the_protocol_says(hub: HubProcess, pages: Pages) -> None:
    """hub.js's isFinal over /api/me's close_codes is final for a code exactly when
    should_reconnect says no: the browser keeps no list of its own."""
    page = pages.desktop()
    sign_in(page, hub.http, "ana", "/board/")
    final = page.evaluate(
        """async (codes) => {
            const { isFinal } = await import("/static/common/hub.js");
            const me = await (await fetch("/api/me", { credentials: "same-origin" })).json();
            return { final: codes.map((code) => isFinal(code, me.close_codes)), names: me.close_codes.codes };
        }""",
        CODES,
    )
    assert dict(zip(CODES, final["final"], strict=True)) == {code: not should_reconnect(code) for code in CODES}
    assert final["names"] == {c.name: int(c) for c in CloseCode}
